import { type Lease, LeaseReleasedError, subscribe } from '@kaygraph/core';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type MemoryProvider, MemoryCacheError, createMemoryProvider } from '../src/index.js';
import { KiB, useProviders } from './helpers.js';

const make = useProviders();

/** Every release and every failed return of one provider, counted from its events. */
let releases = 0;
let returnErrors = 0;
let stops: (() => void)[] = [];
function watch(memory: MemoryProvider) {
  stops.push(
    subscribe('resource:release', (event) => {
      if (event.provider === memory.name) releases++;
    }),
    subscribe('resource:error', (event) => {
      if (event.provider === memory.name) returnErrors++;
    }),
  );
}
beforeEach(() => {
  releases = 0;
  returnErrors = 0;
});
afterEach(() => {
  for (const stop of stops) stop();
  stops = [];
});

async function setup(options: { maxBytes?: number; ttlMs?: number } = {}) {
  const memory = make({ budgetBytes: 64 * KiB, sizeClasses: [1 * KiB, 4 * KiB] });
  watch(memory);
  const cache = memory.createCache<string>({ maxBytes: 4 * KiB, ...options });
  const lease = async (text: string) => {
    const leased = await memory.acquire({ size: text.length });
    leased.resource.write(text);
    return leased;
  };
  return { memory, cache, lease };
}

/** The lease came back exactly once: returned, and a second return would be refused. */
async function expectReturnedOnce(lease: Lease<Buffer>) {
  expect(lease.returned).toBe(true);
  await expect(lease.release()).rejects.toSatisfy((e) => LeaseReleasedError.isInstance(e));
}

describe('buffer cache', () => {
  it('stores leases and hands out a view of the value', async () => {
    const { memory, cache, lease } = await setup();
    const a = await lease('hello');
    expect(cache.set('a', a, { length: 5 })).toBe(true);
    expect(cache.get('a')?.toString()).toBe('hello');
    expect(cache.get('a')?.buffer).toBe(a.resource.buffer);
    expect(cache.has('a')).toBe(true);
    expect(cache.get('missing')).toBeUndefined();
    expect(cache.stats()).toMatchObject({ entries: 1, bytes: 1 * KiB, maxBytes: 4 * KiB });
    expect(memory.stats()).toMatchObject({ inUse: 1, bytesInUse: 1 * KiB });
    expect(releases).toBe(0);
  });

  it('evict: the least recently used entry goes back to the pool once', async () => {
    const { memory, cache, lease } = await setup();
    const leases = await Promise.all(['a', 'b', 'c', 'd'].map((key) => lease(key)));
    for (const [index, leased] of leases.entries()) cache.set(String(index), leased);
    cache.get('0'); // '1' is now the least recently used
    const e = await lease('e');
    cache.set('4', e);
    expect(cache.has('1')).toBe(false);
    expect(cache.stats().returned).toEqual({ evict: 1, expire: 0, delete: 0, set: 0 });
    expect(releases).toBe(1);
    await expectReturnedOnce(leases[1] as Lease<Buffer>);
    expect(memory.stats()).toMatchObject({ inUse: 4, errors: 0 });
    expect(returnErrors).toBe(0);
  });

  it('expire: an entry past its ttl goes back to the pool once, unread', async () => {
    const { memory, cache, lease } = await setup({ ttlMs: 10 });
    const a = await lease('a');
    cache.set('a', a);
    await vi.waitFor(() => expect(cache.stats().returned.expire).toBe(1));
    expect(cache.get('a')).toBeUndefined();
    expect(releases).toBe(1);
    await expectReturnedOnce(a);
    expect(memory.stats()).toMatchObject({ inUse: 0, errors: 0 });
  });

  it('delete: the deleted entry goes back to the pool once', async () => {
    const { memory, cache, lease } = await setup();
    const a = await lease('a');
    cache.set('a', a);
    expect(cache.delete('a')).toBe(true);
    expect(cache.delete('a')).toBe(false);
    expect(cache.stats().returned.delete).toBe(1);
    expect(releases).toBe(1);
    await expectReturnedOnce(a);
    expect(memory.stats()).toMatchObject({ inUse: 0, errors: 0 });
  });

  it('clear: every entry goes back to the pool once', async () => {
    const { memory, cache, lease } = await setup();
    const leases = await Promise.all(['a', 'b', 'c'].map((key) => lease(key)));
    for (const [index, leased] of leases.entries()) cache.set(String(index), leased);
    cache.clear();
    cache.clear();
    expect(cache.size).toBe(0);
    expect(cache.stats().returned.delete).toBe(3);
    expect(releases).toBe(3);
    for (const leased of leases) await expectReturnedOnce(leased);
    expect(memory.stats()).toMatchObject({ inUse: 0, errors: 0 });
  });

  it('overwrite: a set on a used key returns the old lease once, and keeps the new', async () => {
    const { memory, cache, lease } = await setup();
    const old = await lease('old');
    const fresh = await lease('new');
    cache.set('k', old);
    cache.set('k', fresh, { length: 3 });
    expect(cache.get('k')?.toString()).toBe('new');
    expect(cache.stats().returned).toEqual({ evict: 0, expire: 0, delete: 0, set: 1 });
    expect(releases).toBe(1);
    await expectReturnedOnce(old);
    expect(fresh.returned).toBe(false);
    cache.set('k', fresh, { length: 2 }); // the same lease again: refreshed, not returned
    expect(cache.get('k')?.toString()).toBe('ne');
    expect(releases).toBe(1);
    expect(memory.stats()).toMatchObject({ inUse: 1, errors: 0 });
  });

  it('returns a buffer larger than the cache at once instead of keeping it', async () => {
    const { memory, cache } = await setup({ maxBytes: 2 * KiB });
    const big = await memory.acquire({ size: 4 * KiB });
    expect(cache.set('big', big)).toBe(false);
    expect(cache.has('big')).toBe(false);
    expect(releases).toBe(1);
    await expectReturnedOnce(big);
  });

  it('refuses leases it cannot own', async () => {
    const { memory, cache, lease } = await setup();
    const other = createMemoryProvider({ name: 'other-memory' });
    const foreign = await other.acquire({ size: 1 });
    expect(() => cache.set('x', foreign)).toThrow(MemoryCacheError);
    await other.destroy();
    const a = await lease('a');
    cache.set('a', a);
    expect(() => cache.set('b', a)).toThrow(MemoryCacheError);
    const gone = await lease('g');
    await gone.release();
    expect(() => cache.set('g', gone)).toThrow(MemoryCacheError);
    expect(() => cache.set('c', a, { length: 2 * KiB })).toThrow(MemoryCacheError);
    expect(memory.stats().errors).toBe(0);
  });

  it('store copies data into a pooled buffer', async () => {
    const { memory, cache } = await setup();
    expect(await cache.store('s', 'some text')).toBe(true);
    expect(cache.get('s')?.toString()).toBe('some text');
    expect(memory.stats()).toMatchObject({ inUse: 1, bytesInUse: 1 * KiB });
    cache.delete('s');
    expect(memory.stats()).toMatchObject({ inUse: 0, released: 1 });
  });

  it('is emptied when the provider closes, each lease returned once', async () => {
    const { memory, cache, lease } = await setup();
    const a = await lease('a');
    cache.set('a', a);
    const late = await lease('late');
    await memory.close({ timeoutMs: 20 });
    expect(a.returned).toBe(true);
    expect(cache.size).toBe(0);
    expect(late.returned).toBe(true); // never given back: written off by close, counted as a leak
    expect(memory.stats()).toMatchObject({ inUse: 0, errors: 0, size: 0, leaks: 1 });
  });
});
