import { abortError } from '@kaygraph/core';

/** @internal what the buffer pool is told to do. */
export interface BufferPoolSettings {
  budgetBytes: number;
  /** Strictly ascending. */
  sizeClasses: readonly number[];
  maxIdleBytes: number;
  zeroOnRelease: boolean;
}

/** @internal how a buffer pool reports buffers coming into and going out of existence. */
export interface BufferPoolHooks {
  allocated(buffer: Buffer): void;
  freed(buffer: Buffer, reason: string): void;
}

/** How a wait for budget ends early. */
export interface BudgetWait {
  signal?: AbortSignal | undefined;
  /** Give up after this many ms; `Infinity` waits for ever, `0` fails unless it fits now. */
  timeoutMs: number;
  /** The error a wait that ran out of time rejects with. */
  onTimeout: (waitedMs: number) => Error;
}

interface Waiter {
  classSize: number;
  grant(buffer: Buffer): void;
  fail(error: Error): void;
}

/**
 * Buffers in size classes under a byte budget. The budget counts every buffer at its class size,
 * lent or idle, so `bytesInUse + bytesIdle <= budgetBytes` always holds. Idle buffers are reused
 * by class; when a new buffer would not fit, idle buffers of other classes are freed first, and
 * only then does the caller wait.
 *
 * Waiters are served strictly in arrival order: a large request at the head of the line is not
 * overtaken by small ones that would fit, so it cannot starve. The price is that a small request
 * may wait behind a large one while some budget is free.
 */
export class BufferPool {
  bytesInUse = 0;
  bytesIdle = 0;
  buffersInUse = 0;
  /** The most bytes held at once (lent plus idle). */
  peakBytes = 0;

  readonly #settings: BufferPoolSettings;
  readonly #hooks: BufferPoolHooks;
  /** Idle buffers by class size, most recently returned last. */
  readonly #idle = new Map<number, Buffer[]>();
  readonly #waiters: Waiter[] = [];

  constructor(settings: BufferPoolSettings, hooks: BufferPoolHooks) {
    this.#settings = settings;
    this.#hooks = hooks;
    for (const size of settings.sizeClasses) this.#idle.set(size, []);
  }

  get buffersIdle(): number {
    let count = 0;
    for (const list of this.#idle.values()) count += list.length;
    return count;
  }

  get waiting(): number {
    return this.#waiters.length;
  }

  /** The smallest class that holds `size` bytes, or undefined when none does. */
  classFor(size: number): number | undefined {
    return this.#settings.sizeClasses.find((classSize) => classSize >= size);
  }

  /** A buffer of `classSize` bytes, now or once budget frees up. */
  take(classSize: number, wait: BudgetWait): Promise<Buffer> {
    if (wait.signal?.aborted) return Promise.reject(abortError(wait.signal, 'acquire'));
    if (this.#waiters.length === 0) {
      const buffer = this.#tryTake(classSize);
      if (buffer !== undefined) return Promise.resolve(buffer);
    }
    if (wait.timeoutMs <= 0) return Promise.reject(wait.onTimeout(0));
    return this.#enqueue(classSize, wait);
  }

  /** A lent buffer comes back for reuse. */
  give(buffer: Buffer): void {
    this.#settle(buffer);
    if (this.#settings.zeroOnRelease) buffer.fill(0);
    this.#idleList(buffer.length).push(buffer);
    this.bytesIdle += buffer.length;
    this.#serveWaiters();
    this.#trimIdle(this.#settings.maxIdleBytes, 'idle limit');
  }

  /** A lent buffer is written off: it leaves the budget and is never lent again. */
  drop(buffer: Buffer, reason: string): void {
    this.#settle(buffer);
    this.#hooks.freed(buffer, reason);
    this.#serveWaiters();
  }

  /** Fail every waiter with `error`. */
  failAll(error: Error): void {
    for (const waiter of this.#waiters.splice(0)) waiter.fail(error);
  }

  /** Free every idle buffer. */
  freeIdle(reason: string): void {
    this.#trimIdle(0, reason);
  }

  #settle(buffer: Buffer): void {
    this.bytesInUse -= buffer.length;
    this.buffersInUse--;
  }

  #tryTake(classSize: number): Buffer | undefined {
    const reused = this.#idleList(classSize).pop();
    if (reused !== undefined) {
      this.bytesIdle -= classSize;
      return this.#lend(reused);
    }
    const { budgetBytes } = this.#settings;
    // Idle buffers of this class are gone, so freeing all other idle buffers is the most room
    // there can be; if even that is not enough, keep them for reuse and wait.
    if (this.bytesInUse + classSize > budgetBytes) return undefined;
    const over = this.bytesInUse + this.bytesIdle + classSize - budgetBytes;
    if (over > 0) this.#trimIdle(this.bytesIdle - over, 'budget');
    const buffer = Buffer.allocUnsafeSlow(classSize);
    this.#hooks.allocated(buffer);
    return this.#lend(buffer);
  }

  #lend(buffer: Buffer): Buffer {
    this.bytesInUse += buffer.length;
    this.buffersInUse++;
    this.peakBytes = Math.max(this.peakBytes, this.bytesInUse + this.bytesIdle);
    return buffer;
  }

  /** Free idle buffers, largest classes first, until at most `limit` bytes stay idle. */
  #trimIdle(limit: number, reason: string): void {
    const largestFirst = [...this.#settings.sizeClasses].reverse();
    for (const classSize of largestFirst) {
      const list = this.#idleList(classSize);
      while (this.bytesIdle > limit && list.length > 0) {
        const buffer = list.shift() as Buffer;
        this.bytesIdle -= classSize;
        this.#hooks.freed(buffer, reason);
      }
    }
  }

  #serveWaiters(): void {
    while (this.#waiters.length > 0) {
      const head = this.#waiters[0] as Waiter;
      const buffer = this.#tryTake(head.classSize);
      if (buffer === undefined) return;
      this.#waiters.shift();
      head.grant(buffer);
    }
  }

  #idleList(classSize: number): Buffer[] {
    return this.#idle.get(classSize) as Buffer[];
  }

  #enqueue(classSize: number, wait: BudgetWait): Promise<Buffer> {
    const started = Date.now();
    return new Promise<Buffer>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const onAbort = () => leave(abortError(wait.signal as AbortSignal, 'acquire'));
      const cleanUp = () => {
        if (timer !== undefined) clearTimeout(timer);
        wait.signal?.removeEventListener('abort', onAbort);
      };
      const leave = (error: Error) => {
        const index = this.#waiters.indexOf(waiter);
        if (index < 0) return;
        this.#waiters.splice(index, 1);
        cleanUp();
        reject(error);
        // With the head gone, the next in line may fit.
        this.#serveWaiters();
      };
      const waiter: Waiter = {
        classSize,
        grant: (buffer) => {
          cleanUp();
          resolve(buffer);
        },
        fail: (error) => {
          cleanUp();
          reject(error);
        },
      };
      this.#waiters.push(waiter);
      wait.signal?.addEventListener('abort', onAbort, { once: true });
      if (Number.isFinite(wait.timeoutMs)) {
        // Not unref'd: a process with nothing else to do must still see this wait time out,
        // not exit with the acquire never settled. The timer goes when the wait ends.
        timer = setTimeout(() => leave(wait.onTimeout(Date.now() - started)), wait.timeoutMs);
      }
    });
  }
}
