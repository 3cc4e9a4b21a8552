import { afterEach, vi } from 'vitest';
import { type EventName, type KayGraphEvents, subscribe } from '../../src/events.js';
import { Pool } from '../../src/pool/pool.js';
import type { PoolOptions } from '../../src/pool/pool-options.js';

/** A resource made by a {@link Factory}: an id, and whether it was destroyed. */
export interface Thing {
  id: number;
  destroyed: number;
}

/** How the next create behaves. */
export type CreateMode =
  | { kind: 'ok' }
  | { kind: 'fail'; error?: Error }
  /** Resolves after `ms`, ignoring its abort signal. */
  | { kind: 'slow'; ms: number }
  /** Rejects with the abort reason when its signal aborts, never settles otherwise. */
  | { kind: 'hang' }
  /** Never settles, whatever happens. */
  | { kind: 'deaf' };

/**
 * Counts what a pool does with its resources: every create call, every resource made, every
 * destroy call (per resource). Tests flip `mode` / `destroyMode` to script failures.
 */
export class Factory {
  mode: CreateMode = { kind: 'ok' };
  /** `ok`: destroy resolves at once; `hang`: never resolves; `fail`: rejects. */
  destroyMode: 'ok' | 'hang' | 'fail' = 'ok';
  /** Validation verdict for every resource. */
  valid = true;
  createCalls = 0;
  validateCalls = 0;
  readonly made: Thing[] = [];
  readonly signals: AbortSignal[] = [];
  #nextId = 1;

  create = (signal: AbortSignal): Promise<Thing> => {
    this.createCalls++;
    this.signals.push(signal);
    const mode = this.mode;
    switch (mode.kind) {
      case 'ok':
        return Promise.resolve(this.#make());
      case 'fail':
        return Promise.reject(mode.error ?? new Error('connection refused'));
      case 'slow':
        return new Promise((resolve) => setTimeout(() => resolve(this.#make()), mode.ms));
      case 'hang':
        return new Promise((_resolve, reject) => {
          signal.addEventListener('abort', () => reject(signal.reason), { once: true });
        });
      case 'deaf':
        return new Promise(() => {});
    }
  };

  destroy = (thing: Thing): Promise<void> | undefined => {
    thing.destroyed++;
    if (this.destroyMode === 'hang') return new Promise(() => {});
    if (this.destroyMode === 'fail') return Promise.reject(new Error('close failed'));
    return undefined;
  };

  validate = (_thing: Thing): boolean => {
    this.validateCalls++;
    return this.valid;
  };

  /** Resources made and not destroyed. */
  alive(): Thing[] {
    return this.made.filter((thing) => thing.destroyed === 0);
  }

  #make(): Thing {
    const thing = { id: this.#nextId++, destroyed: 0 };
    this.made.push(thing);
    return thing;
  }
}

const pools: Pool<Thing>[] = [];
const stops: (() => void)[] = [];
// Taken before any test installs fake timers.
const realSetTimeout = globalThis.setTimeout;
const realClearTimeout = globalThis.clearTimeout;

afterEach(async () => {
  for (const stop of stops.splice(0)) stop();
  vi.useRealTimers();
  // A pool whose timers were faked cannot finish shutting down now; do not wait for it forever.
  const destroyed = Promise.all(pools.splice(0).map((pool) => pool.destroy()));
  let timer: NodeJS.Timeout | undefined;
  const cap = new Promise((resolve) => {
    timer = realSetTimeout(resolve, 1000);
  });
  await Promise.race([destroyed, cap]);
  realClearTimeout(timer);
});

/**
 * Fake the clock and timers, but not setImmediate, so `flush()` still runs promise callbacks.
 * `afterEach` puts the real ones back.
 */
export function useFakeClock(): void {
  vi.useFakeTimers({
    toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'],
  });
}

/** Move the fake clock on by `ms`, running due timers and the promise callbacks they cause. */
export async function advance(ms: number): Promise<void> {
  await vi.advanceTimersByTimeAsync(ms);
  await flush();
}

/** A pool over `factory`, destroyed after the test. */
export function makePool(
  factory: Factory,
  options: Omit<PoolOptions<Thing>, 'create'> = {},
): Pool<Thing> {
  const pool = new Pool<Thing>({ destroy: factory.destroy, ...options, create: factory.create });
  pools.push(pool);
  return pool;
}

/** Collect the payloads of one event until the test ends. */
export function collect<N extends EventName>(name: N): KayGraphEvents[N][] {
  const events: KayGraphEvents[N][] = [];
  stops.push(subscribe(name, (payload) => events.push(payload)));
  return events;
}

/** Let pending promise callbacks run. */
export async function flush(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** Track whether a promise has settled, and how. */
export function track<V>(promise: Promise<V>): {
  settled: () => boolean;
  value: () => V | undefined;
  error: () => unknown;
} {
  let state: 'pending' | 'ok' | 'error' = 'pending';
  let value: V | undefined;
  let error: unknown;
  promise.then(
    (v) => {
      state = 'ok';
      value = v;
    },
    (e: unknown) => {
      state = 'error';
      error = e;
    },
  );
  return { settled: () => state !== 'pending', value: () => value, error: () => error };
}
