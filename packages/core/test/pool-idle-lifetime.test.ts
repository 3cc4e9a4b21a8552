import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { Lease } from '../src/resource.js';
import {
  Factory,
  type Thing,
  advance,
  collect,
  makePool,
  useFakeClock,
} from './support/pool-factory.js';

beforeEach(() => {
  useFakeClock();
});

async function acquireMany(pool: ReturnType<typeof makePool>, count: number) {
  const leases: Lease<Thing>[] = [];
  for (let i = 0; i < count; i++) leases.push(await pool.acquire());
  return leases;
}

describe('Pool idle timeout', () => {
  it('destroys idle resources above min after idleTimeoutMs, and keeps min', async () => {
    const factory = new Factory();
    const destroys = collect('resource:destroy');
    const pool = makePool(factory, { min: 1, idleTimeoutMs: 1_000 });
    const leases = await acquireMany(pool, 3);
    for (const lease of leases) await lease.release();

    await advance(900);
    expect(pool.stats().idle).toBe(3);

    await advance(1_200);
    expect(pool.stats()).toMatchObject({ idle: 1, size: 1, destroyed: 2 });
    expect(destroys.map((e) => e.reason)).toEqual(['idle-timeout', 'idle-timeout']);
    // The least recently returned went first; the most recent one stays.
    expect(factory.alive()).toEqual([leases[2]!.resource]);

    await advance(10_000);
    expect(pool.stats().idle).toBe(1);
  });

  it('never reaps a borrowed resource', async () => {
    const factory = new Factory();
    const pool = makePool(factory, { idleTimeoutMs: 1_000 });
    const [held, returned] = await acquireMany(pool, 2);
    await returned!.release();

    await advance(5_000);

    expect(held!.resource.destroyed).toBe(0);
    expect(returned!.resource.destroyed).toBe(1);
    expect(pool.stats()).toMatchObject({ inUse: 1, idle: 0 });
    await held!.release();
  });

  it('does not reap a resource checked out just before its idle timeout ran out', async () => {
    const factory = new Factory();
    const pool = makePool(factory, { idleTimeoutMs: 1_000 });
    const first = await pool.acquire();
    await first.release();
    await advance(990);

    const again = await pool.acquire();
    await advance(3_000);
    expect(again.resource.destroyed).toBe(0);

    // Its idle time starts over when it comes back.
    await again.release();
    await advance(900);
    expect(pool.stats().idle).toBe(1);
    await advance(1_000);
    expect(pool.stats().idle).toBe(0);
  });

  it('runs one reaper timer however many resources are idle', async () => {
    const pool = makePool(new Factory(), { idleTimeoutMs: 60_000, max: 50 });
    const leases = await acquireMany(pool, 50);
    for (const lease of leases) await lease.release();
    // Let the waiters' deadline timer run out; only the reaper remains.
    await advance(31_000);

    expect(pool.stats().idle).toBe(50);
    expect(vi.getTimerCount()).toBe(1);
  });
});

describe('Pool max lifetime', () => {
  it('retires an idle resource after its lifetime and refills to min', async () => {
    const factory = new Factory();
    const destroys = collect('resource:destroy');
    const pool = makePool(factory, { min: 1, maxLifetimeMs: 10_000, idleTimeoutMs: 0 });
    await pool.open();

    await advance(8_900);
    expect(factory.made[0]!.destroyed).toBe(0);
    await advance(1_500);

    expect(factory.made[0]!.destroyed).toBe(1);
    expect(destroys).toMatchObject([{ reason: 'max-lifetime' }]);
    expect(factory.made).toHaveLength(2);
    expect(pool.stats()).toMatchObject({ idle: 1, size: 1 });
  });

  it('never retires a borrowed resource; retires it when it comes back', async () => {
    const factory = new Factory();
    const pool = makePool(factory, { maxLifetimeMs: 1_000 });
    const lease = await pool.acquire();

    await advance(5_000);
    expect(lease.resource.destroyed).toBe(0);

    await lease.release();
    expect(lease.resource.destroyed).toBe(1);
    expect(pool.stats()).toMatchObject({ idle: 0, destroyed: 1 });
  });

  it('does not lend an idle resource whose lifetime is over', async () => {
    const factory = new Factory();
    const pool = makePool(factory, { maxLifetimeMs: 1_000, idleTimeoutMs: 0 });
    const first = await pool.acquire();
    await first.release();
    vi.setSystemTime(Date.now() + 2_000);

    const next = await pool.acquire();

    expect(next.resource).not.toBe(first.resource);
    expect(first.resource.destroyed).toBe(1);
  });

  it('spreads retirements of resources made together over the jitter window', async () => {
    const factory = new Factory();
    const retiredAt: number[] = [];
    const start = Date.now();
    const destroys = collect('resource:destroy');
    const pool = makePool(factory, { max: 20, maxLifetimeMs: 10_000, idleTimeoutMs: 0 });
    const leases = await acquireMany(pool, 20);
    for (const lease of leases) await lease.release();

    for (let t = 0; t < 11_000; t += 100) {
      const before = destroys.length;
      await advance(100);
      for (let i = before; i < destroys.length; i++) retiredAt.push(Date.now() - start);
    }

    expect(retiredAt).toHaveLength(20);
    expect(Math.min(...retiredAt)).toBeGreaterThanOrEqual(9_000);
    expect(Math.max(...retiredAt)).toBeLessThanOrEqual(10_300);
    expect(new Set(retiredAt).size).toBeGreaterThan(1);
  });
});
