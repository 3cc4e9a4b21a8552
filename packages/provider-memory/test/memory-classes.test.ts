import { describe, expect, it } from 'vitest';
import { KiB, MiB, useProviders } from './helpers.js';

const make = useProviders();

describe('size classes', () => {
  it('lends the smallest class that holds the size', async () => {
    const memory = make();
    const cases: [number, number][] = [
      [0, 4 * KiB],
      [1, 4 * KiB],
      [4 * KiB, 4 * KiB],
      [4 * KiB + 1, 64 * KiB],
      [64 * KiB, 64 * KiB],
      [100 * KiB, 1 * MiB],
      [5 * MiB, 8 * MiB],
    ];
    for (const [size, expected] of cases) {
      const lease = await memory.acquire({ size });
      expect(lease.resource.length, `size ${size}`).toBe(expected);
      await lease.release();
    }
  });

  it('reuses an idle buffer of the same class instead of allocating', async () => {
    const memory = make();
    const first = await memory.acquire({ size: 100 });
    const buffer = first.resource;
    await first.release();
    expect(memory.stats()).toMatchObject({ idle: 1, bytesIdle: 4 * KiB, bytesInUse: 0 });
    const second = await memory.acquire({ size: 4000 });
    expect(second.resource).toBe(buffer);
    expect(memory.stats()).toMatchObject({ created: 1, idle: 0, inUse: 1, bytesInUse: 4 * KiB });
    const other = await memory.acquire({ size: 5000 });
    expect(other.resource).not.toBe(buffer);
    expect(memory.stats().created).toBe(2);
    await Promise.all([second.release(), other.release()]);
  });

  it('hands a reused buffer over as it was, unless zeroOnRelease is on', async () => {
    const plain = make();
    const lease = await plain.acquire({ size: 8 });
    lease.resource.fill(7, 0, 8);
    await lease.release();
    const reused = await plain.acquire({ size: 8 });
    expect([...reused.resource.subarray(0, 8)]).toEqual(Array(8).fill(7));
    await reused.release();

    const zeroing = make({ zeroOnRelease: true });
    const secret = await zeroing.acquire({ size: 8 });
    secret.resource.fill(7);
    await secret.release();
    const clean = await zeroing.acquire({ size: 8 });
    expect(clean.resource).toBe(secret.resource);
    expect(clean.resource.every((byte) => byte === 0)).toBe(true);
    await clean.release();
  });

  it('keeps at most maxIdleBytes idle, freeing the rest', async () => {
    const sizeClasses = [4 * KiB, 64 * KiB];
    const memory = make({ budgetBytes: 1 * MiB, sizeClasses, maxIdleBytes: 12 * KiB });
    const leases = await Promise.all(Array.from({ length: 5 }, () => memory.acquire({ size: 1 })));
    await Promise.all(leases.map((lease) => lease.release()));
    expect(memory.stats()).toMatchObject({ bytesIdle: 12 * KiB, idle: 3, destroyed: 2 });
    const big = await memory.acquire({ size: 64 * KiB });
    await big.release();
    expect(memory.stats().bytesIdle).toBeLessThanOrEqual(12 * KiB);
  });

  it('keeps nothing idle with maxIdleBytes 0', async () => {
    const memory = make({ maxIdleBytes: 0 });
    const lease = await memory.acquire({ size: 1 });
    await lease.release();
    expect(memory.stats()).toMatchObject({ idle: 0, bytesIdle: 0, created: 1, destroyed: 1 });
  });

  it('records the high-water mark of bytes held, lent and idle', async () => {
    const memory = make({ maxIdleBytes: 0 });
    const a = await memory.acquire({ size: 1 * MiB });
    const b = await memory.acquire({ size: 64 * KiB });
    await a.release();
    await b.release();
    const c = await memory.acquire({ size: 1 });
    await c.release();
    expect(memory.stats()).toMatchObject({ peakBytes: 1 * MiB + 64 * KiB, bytesInUse: 0 });
  });

  it('a destroyed lease takes its buffer out of the pool for good', async () => {
    const memory = make();
    const lease = await memory.acquire({ size: 1 });
    await lease.destroy(new Error('corrupted'));
    expect(memory.stats()).toMatchObject({ idle: 0, bytesInUse: 0, destroyed: 1, released: 1 });
    const next = await memory.acquire({ size: 1 });
    expect(next.resource).not.toBe(lease.resource);
    await next.release();
  });
});
