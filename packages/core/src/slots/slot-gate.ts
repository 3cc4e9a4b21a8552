import { AcquireTimeoutError, PoolClosedError, abortError } from '../errors.js';

/** The longest delay setTimeout honours. */
const MAX_TIMER_MS = 2 ** 31 - 1;

interface Waiter {
  resolve(slot: number): void;
  reject(error: unknown): void;
}

/**
 * A fixed number of numbered slots handed out first come, first served. A waiter leaves the
 * queue when its deadline passes or its signal aborts, and is never handed a slot after that.
 *
 *
 * For providers whose driver pools connections itself (undici, nodemailer): the driver owns the
 * sockets, and the slots bound how many callers use it at once. Core's `Pool` does not fit there:
 * it publishes create/destroy events for what it lends, which would be counted beside the
 * driver's own connections, and it lends one object per resource where a slot lease needs a
 * fresh handle that stops working when it is returned.
 */
export class SlotGate {
  readonly limit: number;
  readonly #free: number[] = [];
  readonly #waiters: Waiter[] = [];
  #closedError: Error | undefined;

  constructor(limit: number) {
    this.limit = limit;
    // Lowest numbers on top, so a quiet provider keeps reusing slot 1.
    for (let slot = limit; slot >= 1; slot--) this.#free.push(slot);
  }

  /** Slots taken right now. */
  get inUse(): number {
    return this.limit - this.#free.length;
  }

  /** Callers queued for a slot. */
  get waiting(): number {
    return this.#waiters.length;
  }

  /**
   * Take a slot, waiting up to `timeoutMs` (0 or less: only a free slot; `Infinity`: no
   * deadline). Rejects with `AcquireTimeoutError` at the deadline,
   * the abort reason when the signal aborts, `PoolClosedError` once the gate is closed.
   */
  take(timeoutMs: number, signal: AbortSignal | undefined, what: string): Promise<number> {
    if (this.#closedError) return Promise.reject(this.#closedError);
    if (signal?.aborted) return Promise.reject(abortError(signal, what));
    const slot = this.#free.pop();
    if (slot !== undefined) return Promise.resolve(slot);
    if (!(timeoutMs > 0)) return Promise.reject(this.#timeoutError(timeoutMs, what));
    return this.#enqueue(timeoutMs, signal, what);
  }

  /** A free slot now, or undefined when none is free or the gate is closed. Never waits. */
  tryTake(): number | undefined {
    return this.#closedError === undefined ? this.#free.pop() : undefined;
  }

  /** Give a slot back: straight to the longest waiter, or onto the free list. */
  give(slot: number): void {
    const waiter = this.#waiters.shift();
    if (waiter) waiter.resolve(slot);
    else this.#free.push(slot);
  }

  /** Refuse every future take and fail every waiter with `error`. */
  close(error: Error): void {
    this.#closedError ??= error;
    for (const waiter of this.#waiters.splice(0)) waiter.reject(this.#closedError);
  }

  #timeoutError(timeoutMs: number, what: string): AcquireTimeoutError {
    return new AcquireTimeoutError(`${what}: no free slot within ${timeoutMs} ms`);
  }

  #enqueue(timeoutMs: number, signal: AbortSignal | undefined, what: string): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      const leave = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        const index = this.#waiters.indexOf(waiter);
        if (index !== -1) this.#waiters.splice(index, 1);
      };
      const waiter: Waiter = {
        resolve: (slot) => {
          leave();
          resolve(slot);
        },
        reject: (error) => {
          leave();
          reject(error);
        },
      };
      const onAbort = () => waiter.reject(abortError(signal as AbortSignal, what));
      // setTimeout fires at once for delays past 2^31-1 ms, so longer waits get no timer at all.
      const timer =
        timeoutMs <= MAX_TIMER_MS
          ? setTimeout(() => waiter.reject(this.#timeoutError(timeoutMs, what)), timeoutMs)
          : undefined;
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }
}

/** The error a closed gate rejects with. */
export function closedError(provider: string): PoolClosedError {
  return new PoolClosedError(`provider "${provider}" is closed`);
}
