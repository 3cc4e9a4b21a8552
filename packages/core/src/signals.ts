import { setMaxListeners } from 'node:events';
import { abortError } from './errors.js';

/** A signal that follows several others, and the function that stops following them. */
export interface LinkedSignal {
  readonly signal: AbortSignal;
  /** Remove the listeners this link added; call it once the signal is no longer needed. */
  dispose(): void;
}

const noop = () => {};

/**
 * A controller whose signal can carry many listeners. Scopes, acquires and retry waits each add
 * one while they live, so a busy run scope passes Node's default of 10 without leaking anything.
 */
export function newController(): AbortController {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  return controller;
}

/**
 * A signal that aborts when any of `signals` does, with that signal's reason. Unlike
 * `AbortSignal.any` the listeners are removed by `dispose()`, so a long-lived parent signal does
 * not collect one listener per short-lived child.
 */
export function linkSignals(signals: readonly (AbortSignal | undefined)[]): LinkedSignal {
  const present = signals.filter((s): s is AbortSignal => s !== undefined);
  if (present.length === 1) return { signal: present[0]!, dispose: noop };

  const controller = newController();
  const aborted = present.find((s) => s.aborted);
  if (aborted !== undefined) {
    controller.abort(aborted.reason);
    return { signal: controller.signal, dispose: noop };
  }

  const listeners = present.map((source) => {
    const onAbort = () => {
      dispose();
      controller.abort(source.reason);
    };
    source.addEventListener('abort', onAbort, { once: true });
    return () => source.removeEventListener('abort', onAbort);
  });
  const dispose = () => {
    for (const remove of listeners) remove();
  };
  return { signal: controller.signal, dispose };
}

/** Wait `ms` milliseconds; rejects as soon as `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal, what: string): Promise<void> {
  if (signal.aborted) return Promise.reject(abortError(signal, what));
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortError(signal, what));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Settle with `work`, or reject with the abort reason as soon as `signal` aborts, whichever is
 * first. Work that ignores its signal cannot hold a run hostage; its late outcome is dropped.
 */
export function raceAbort<T>(work: Promise<T>, signal: AbortSignal, what: string): Promise<T> {
  if (signal.aborted) {
    work.catch(noop);
    return Promise.reject(abortError(signal, what));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      // The work may still reject later; nobody is waiting for it any more.
      work.catch(noop);
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

/** Run a callback that may be sync or async, or may throw, as a promise. */
export function attempt<T>(run: () => T | PromiseLike<T>): Promise<T> {
  try {
    return Promise.resolve(run());
  } catch (error) {
    return Promise.reject(error);
  }
}

/** True for a value `await` would wait for: a promise or any other thenable. */
export function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    ((typeof value === 'object' && value !== null) || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}
