import { abortError } from '@kaygraph/core';

/** How a wait for a permit ends early. */
export interface PermitWait {
  signal?: AbortSignal | undefined;
  /** Give up after this many ms; `Infinity` waits for ever, `0` fails unless a permit is free. */
  timeoutMs: number;
  /** The error a wait that ran out of time rejects with. */
  onTimeout: (waitedMs: number) => Error;
}

interface Waiter {
  grant(): void;
  fail(error: Error): void;
}

/**
 * A counting semaphore whose waiters are served strictly first come, first served, so a caller
 * that has waited longest is never overtaken by a newcomer that happens to arrive at a release.
 *
 * Not core's `Pool`: a file is opened per lease with that acquire's path and flags, so there is
 * nothing to pool, only a cap; a Pool of permits would publish its own `provider:close` and
 * `resource:create`/`resource:destroy` beside the provider's per-file ones, and its
 * `acquireTimeoutMs` option refuses the `0` ("fail at once") documented here.
 */
export class Semaphore {
  #free: number;
  readonly #waiters: Waiter[] = [];

  constructor(permits: number) {
    this.#free = permits;
  }

  /** Callers waiting for a permit right now. */
  get waiting(): number {
    return this.#waiters.length;
  }

  /** Take a permit, waiting in line when none is free. */
  take(wait: PermitWait): Promise<void> {
    if (wait.signal?.aborted) return Promise.reject(abortError(wait.signal, 'acquire'));
    if (this.#free > 0 && this.#waiters.length === 0) {
      this.#free--;
      return Promise.resolve();
    }
    if (wait.timeoutMs <= 0) return Promise.reject(wait.onTimeout(0));
    return this.#enqueue(wait);
  }

  /** Give a permit back; the longest waiter gets it. */
  give(): void {
    const next = this.#waiters.shift();
    if (next === undefined) this.#free++;
    else next.grant();
  }

  /** Fail every waiter with `error`; later `take` calls are the caller's to refuse. */
  failAll(error: Error): void {
    for (const waiter of this.#waiters.splice(0)) waiter.fail(error);
  }

  #enqueue(wait: PermitWait): Promise<void> {
    const started = Date.now();
    return new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const onAbort = () => settle(abortError(wait.signal as AbortSignal, 'acquire'));
      const settle = (error?: Error) => {
        const index = this.#waiters.indexOf(waiter);
        if (index >= 0) this.#waiters.splice(index, 1);
        if (timer !== undefined) clearTimeout(timer);
        wait.signal?.removeEventListener('abort', onAbort);
        if (error === undefined) resolve();
        else reject(error);
      };
      const waiter: Waiter = { grant: () => settle(), fail: (error) => settle(error) };
      this.#waiters.push(waiter);
      wait.signal?.addEventListener('abort', onAbort, { once: true });
      if (Number.isFinite(wait.timeoutMs)) {
        // Not unref'd: a process with nothing else to do must still see this wait time out,
        // not exit with the acquire never settled. The timer goes when the wait ends.
        timer = setTimeout(() => settle(wait.onTimeout(Date.now() - started)), wait.timeoutMs);
      }
    });
  }
}
