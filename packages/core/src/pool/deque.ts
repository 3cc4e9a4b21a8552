/**
 * A double-ended queue on a ring buffer. `Array#shift` moves every element, which turns a long
 * FIFO of waiters into quadratic work; this keeps push and shift O(1) and allocation-free once the
 * buffer has grown to the queue's working size.
 *
 * @internal
 */
export class Deque<T> {
  #buffer: (T | undefined)[];
  #head = 0;
  #length = 0;
  #mask: number;

  constructor(capacity = 16) {
    let size = 4;
    while (size < capacity) size *= 2;
    this.#buffer = new Array<T | undefined>(size);
    this.#mask = size - 1;
  }

  get length(): number {
    return this.#length;
  }

  /** Add at the back. */
  push(value: T): void {
    if (this.#length === this.#buffer.length) this.#grow();
    this.#buffer[(this.#head + this.#length) & this.#mask] = value;
    this.#length++;
  }

  /** Remove from the front. */
  shift(): T | undefined {
    if (this.#length === 0) return undefined;
    const value = this.#buffer[this.#head];
    this.#buffer[this.#head] = undefined;
    this.#head = (this.#head + 1) & this.#mask;
    this.#length--;
    return value;
  }

  /** The front element, left in place. */
  peek(): T | undefined {
    return this.#length === 0 ? undefined : this.#buffer[this.#head];
  }

  /** The element `index` places from the front. */
  at(index: number): T | undefined {
    if (index < 0 || index >= this.#length) return undefined;
    return this.#buffer[(this.#head + index) & this.#mask];
  }

  /** Keep only the elements `keep` accepts, in order. */
  retain(keep: (value: T) => boolean): void {
    let kept = 0;
    for (let i = 0; i < this.#length; i++) {
      const value = this.#buffer[(this.#head + i) & this.#mask] as T;
      if (keep(value)) {
        this.#buffer[(this.#head + kept) & this.#mask] = value;
        kept++;
      }
    }
    for (let i = kept; i < this.#length; i++) {
      this.#buffer[(this.#head + i) & this.#mask] = undefined;
    }
    this.#length = kept;
  }

  /** Remove everything. */
  clear(): void {
    for (let i = 0; i < this.#length; i++) this.#buffer[(this.#head + i) & this.#mask] = undefined;
    this.#head = 0;
    this.#length = 0;
  }

  #grow(): void {
    const old = this.#buffer;
    const next = new Array<T | undefined>(old.length * 2);
    for (let i = 0; i < this.#length; i++) next[i] = old[(this.#head + i) & this.#mask];
    this.#buffer = next;
    this.#head = 0;
    this.#mask = next.length - 1;
  }
}
