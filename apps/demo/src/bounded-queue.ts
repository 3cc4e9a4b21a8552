import { abortError } from '@kaygraph/core';

/**
 * A queue with a fixed capacity between one producer and any number of consumers. `push` waits
 * while the queue is full, which is what keeps the pipeline's memory flat: the writer can run at
 * most `capacity` chunks ahead of the uploads.
 */
export class BoundedQueue<T> {
  private readonly items: T[] = [];
  private readonly takers: Array<(result: IteratorResult<T>) => void> = [];
  private readonly pushers: Array<() => void> = [];
  private ended = false;

  constructor(readonly capacity: number) {}

  /** Items waiting to be taken. */
  get size(): number {
    return this.items.length;
  }

  /** Add an item, waiting for room. Rejects when the signal aborts or the queue was ended. */
  async push(item: T, signal?: AbortSignal): Promise<void> {
    while (this.items.length >= this.capacity && !this.ended) {
      await this.waitForRoom(signal);
    }
    if (this.ended) throw new Error('queue already ended');
    const taker = this.takers.shift();
    if (taker !== undefined) taker({ value: item, done: false });
    else this.items.push(item);
  }

  /** No more items will come; consumers drain what is left, then see the end. */
  end(): void {
    this.ended = true;
    for (const taker of this.takers.splice(0)) taker({ value: undefined, done: true });
    for (const pusher of this.pushers.splice(0)) pusher();
  }

  /** The next item, or `done` once the queue has ended and is empty. */
  take(): Promise<IteratorResult<T>> {
    if (this.items.length > 0) {
      const item = this.items.shift() as T;
      this.pushers.shift()?.();
      return Promise.resolve({ value: item, done: false });
    }
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => this.takers.push(resolve));
  }

  /** Items still queued when a run stops early, so their owner can clean them up. */
  drain(): T[] {
    const left = this.items.splice(0);
    for (const pusher of this.pushers.splice(0)) pusher();
    return left;
  }

  private waitForRoom(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(abortError(signal, 'queue push'));
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        const at = this.pushers.indexOf(wake);
        if (at >= 0) this.pushers.splice(at, 1);
        reject(abortError(signal!, 'queue push'));
      };
      const wake = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      this.pushers.push(wake);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}
