import { afterEach } from 'vitest';
import {
  type MemoryProvider,
  type MemoryProviderOptions,
  createMemoryProvider,
} from '../src/index.js';

export const KiB = 1024;
export const MiB = 1024 * KiB;

let made = 0;

/** Providers with unique names (so listeners can tell them apart), destroyed after each test. */
export function useProviders(): (options?: MemoryProviderOptions) => MemoryProvider {
  const providers: MemoryProvider[] = [];
  afterEach(async () => {
    await Promise.all(providers.splice(0).map((p) => p.destroy()));
  });
  return (options = {}) => {
    const provider = createMemoryProvider({ name: `memory-${++made}`, ...options });
    providers.push(provider);
    return provider;
  };
}

/** A small seeded random number generator (mulberry32), so a failing schedule can be replayed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Whether a promise has settled, looking once after pending callbacks have run. */
export async function state(promise: Promise<unknown>): Promise<'pending' | 'settled'> {
  const marker = Symbol('pending');
  const done = promise.then(
    () => 'settled' as const,
    () => 'settled' as const,
  );
  const later = new Promise<symbol>((resolve) => setImmediate(() => resolve(marker)));
  const winner = await Promise.race([done, later]);
  return winner === marker ? 'pending' : 'settled';
}
