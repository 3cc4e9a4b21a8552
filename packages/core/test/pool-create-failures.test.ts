import { beforeEach, describe, expect, it, vi } from 'vitest';
import { AcquireTimeoutError, ResourceError } from '../src/errors.js';
import { Pool } from '../src/pool/pool.js';
import {
  Factory,
  advance,
  collect,
  flush,
  makePool,
  track,
  useFakeClock,
} from './support/pool-factory.js';

beforeEach(() => {
  useFakeClock();
});

describe('Pool create failures', () => {
  it('rejects the first acquire with a ResourceError whose cause is the create error', async () => {
    const factory = new Factory();
    const refused = new Error('ECONNREFUSED 127.0.0.1:5432');
    factory.mode = { kind: 'fail', error: refused };
    const events = collect('resource:create-error');
    const pool = makePool(factory);

    const error = await pool.acquire().catch((e: unknown) => e);

    expect(ResourceError.isInstance(error)).toBe(true);
    expect((error as Error).cause).toBe(refused);
    expect(events).toMatchObject([{ provider: 'pool', error: { message: refused.message } }]);
    expect(pool.stats()).toMatchObject({ errors: 1, pending: 0, size: 0, waiting: 0 });
  });

  it('rejects a create that throws synchronously the same way', async () => {
    const pool = new Pool({
      create: () => {
        throw new TypeError('bad config');
      },
    });

    const error = await pool.acquire().catch((e: unknown) => e);
    await pool.destroy();

    expect(ResourceError.isInstance(error)).toBe(true);
    expect((error as Error).cause).toBeInstanceOf(TypeError);
  });

  it('backs off exponentially, with a cap, instead of spinning', async () => {
    const factory = new Factory();
    factory.mode = { kind: 'fail' };
    const pool = makePool(factory, {
      min: 1,
      createRetryMs: 100,
      createRetryMaxMs: 2_000,
    });
    await pool.open();
    const callTimes: number[] = [];
    const start = Date.now();
    for (let elapsed = 0; elapsed < 60_000; elapsed += 50) {
      const before = factory.createCalls;
      await advance(50);
      for (let i = before; i < factory.createCalls; i++) callTimes.push(Date.now() - start);
    }

    // 100, 200, 400, 800, 1600 then every ~2 s: about 35 tries in a minute, never hundreds.
    expect(factory.createCalls).toBeGreaterThan(10);
    expect(factory.createCalls).toBeLessThan(70);
    const gaps = callTimes.slice(1).map((t, i) => t - callTimes[i]!);
    expect(gaps.every((gap) => gap >= 50)).toBe(true);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(2_100);
    expect(pool.stats()).toMatchObject({ pending: 0, size: 0 });
    expect(vi.getTimerCount()).toBeLessThanOrEqual(2);
  });

  it('keeps only one create in flight while creates fail', async () => {
    const factory = new Factory();
    factory.mode = { kind: 'fail' };
    const pool = makePool(factory, {
      max: 8,
      acquireTimeoutMs: 60_000,
      createRetryMs: 100,
      createRetryMaxMs: 100,
    });
    const first = track(pool.acquire());
    await flush();
    expect(ResourceError.isInstance(first.error())).toBe(true);

    factory.mode = { kind: 'hang' };
    const waiters = Array.from({ length: 8 }, () => track(pool.acquire()));
    await advance(1_000);

    expect(pool.stats()).toMatchObject({ pending: 1, waiting: 8 });
    expect(factory.createCalls).toBe(2);
    expect(waiters.some((w) => w.settled())).toBe(false);
  });

  it('tells a waiter that times out while creates fail what the create error was', async () => {
    const factory = new Factory();
    const refused = new Error('ECONNREFUSED');
    factory.mode = { kind: 'fail', error: refused };
    const pool = makePool(factory, {
      acquireTimeoutMs: 1_000,
      createRetryMs: 10_000,
      createRetryMaxMs: 10_000,
    });

    const first = track(pool.acquire());
    await flush();
    expect(ResourceError.isInstance(first.error())).toBe(true);

    // The next try is 5-10 s away; this waiter gives up first.
    const second = track(pool.acquire());
    await advance(1_000);

    expect(AcquireTimeoutError.isInstance(second.error())).toBe(true);
    expect((second.error() as Error).cause).toBe(refused);
  });

  it('recovers when creates work again and resets the backoff', async () => {
    const factory = new Factory();
    factory.mode = { kind: 'fail' };
    const pool = makePool(factory, { createRetryMs: 100, createRetryMaxMs: 100 });
    await expect(pool.acquire()).rejects.toThrow();

    factory.mode = { kind: 'ok' };
    const waiting = track(pool.acquire());
    await advance(100);
    const lease = waiting.value()!;
    expect(lease.resource.id).toBe(1);

    // No backoff left: the next create starts at once.
    const more = await Promise.all([pool.acquire(), pool.acquire()]);
    expect(factory.createCalls).toBe(4);
    for (const l of [lease, ...more]) await l.release();
  });

  it('leaves no waiter, create or timer behind over thousands of failing acquires', async () => {
    const factory = new Factory();
    factory.mode = { kind: 'fail' };
    const pool = makePool(factory, {
      acquireTimeoutMs: 200,
      createRetryMs: 50,
      createRetryMaxMs: 400,
    });

    for (let i = 0; i < 2_000; i++) {
      const attempt = track(pool.acquire());
      await advance(200);
      expect(attempt.settled()).toBe(true);
    }

    const stats = pool.stats();
    expect(stats).toMatchObject({ waiting: 0, pending: 0, size: 0 });
    expect(stats.errors).toBeLessThan(2_000);
    expect(stats.acquireTimeouts + stats.errors).toBeGreaterThanOrEqual(2_000);
    expect(vi.getTimerCount()).toBeLessThanOrEqual(2);
  });
});
