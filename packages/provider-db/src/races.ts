import { abortError } from '@kaygraph/core';

/** How a wait for pg-pool can be cut short. */
export interface RaceOptions<T> {
  /** Cancels the wait. */
  signal?: AbortSignal | undefined;
  /** Give up after this many ms; 0 waits forever. */
  timeoutMs: number;
  /** What is being waited for, for the abort message. */
  what: string;
  /** The error for a wait that ran out of time. */
  timeoutError(): Error;
  /** Takes back a value that arrived after the wait was given up, so nothing is orphaned. */
  returnLate(value: T): void;
  /** Lets the owner fail the wait from outside (the provider closing); returns the unregister. */
  track(fail: (error: Error) => void): () => void;
}

/**
 * Wait for `work`, but stop waiting on abort, timeout or an outside failure. pg-pool cannot
 * withdraw a queued request, so a value that arrives after the wait was given up is handed to
 * `returnLate` instead of being dropped.
 */
export function raceAcquire<T>(work: Promise<T>, options: RaceOptions<T>): Promise<T> {
  const { signal } = options;
  if (signal?.aborted) {
    work.then(options.returnLate, () => {});
    return Promise.reject(abortError(signal, options.what));
  }

  return new Promise<T>((resolve, reject) => {
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = () => {
      settled = true;
      if (timer !== undefined) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      untrack();
    };
    const fail = (error: Error) => {
      if (settled) return;
      finish();
      reject(error);
    };
    const onAbort = () => fail(abortError(signal as AbortSignal, options.what));
    const untrack = options.track(fail);

    signal?.addEventListener('abort', onAbort, { once: true });
    if (options.timeoutMs > 0) {
      timer = setTimeout(() => fail(options.timeoutError()), options.timeoutMs);
    }
    work.then(
      (value) => {
        if (settled) return options.returnLate(value);
        finish();
        resolve(value);
      },
      (error: Error) => fail(error),
    );
  });
}

/**
 * Wait for `work` unless `signal` aborts first; then reject at once with an `AbortedError` and
 * ignore how `work` ends. The caller must make `work` stop (here: by closing its connection).
 */
export function untilAborted<T>(
  work: Promise<T>,
  signal: AbortSignal | undefined,
  what: string,
): Promise<T> {
  if (signal === undefined) return work;
  if (signal.aborted) {
    work.catch(() => {});
    return Promise.reject(abortError(signal, what));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      work.catch(() => {});
      reject(abortError(signal, what));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
