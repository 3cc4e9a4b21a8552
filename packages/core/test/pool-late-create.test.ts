import { beforeEach, describe, expect, it } from 'vitest';
import { AcquireTimeoutError, PoolClosedError } from '../src/errors.js';
import type { Pool } from '../src/pool/pool.js';
import {
  Factory,
  type Thing,
  advance,
  collect,
  makePool,
  track,
  useFakeClock,
} from './support/pool-factory.js';

beforeEach(() => {
  useFakeClock();
});

function expectBooksBalance(pool: Pool<Thing>): void {
  const stats = pool.stats();
  expect(stats.created - stats.destroyed).toBe(stats.idle + stats.inUse);
}

describe('Pool creates that finish after their waiter gave up', () => {
  it('keeps the resource idle when its waiter timed out', async () => {
    const factory = new Factory();
    factory.mode = { kind: 'slow', ms: 500 };
    const pool = makePool(factory, { acquireTimeoutMs: 100 });

    const gaveUp = track(pool.acquire());
    await advance(100);
    expect(AcquireTimeoutError.isInstance(gaveUp.error())).toBe(true);

    await advance(400);
    expect(pool.stats()).toMatchObject({ idle: 1, pending: 0, created: 1 });
    expectBooksBalance(pool);

    factory.mode = { kind: 'ok' };
    const lease = await pool.acquire();
    expect(lease.resource).toBe(factory.made[0]);
    expect(factory.createCalls).toBe(1);
    await lease.release();
  });

  it('hands the resource to the next waiter when its waiter aborted', async () => {
    const factory = new Factory();
    factory.mode = { kind: 'slow', ms: 500 };
    const pool = makePool(factory, { max: 1 });
    const controller = new AbortController();

    const aborted = track(pool.acquire({ signal: controller.signal }));
    await advance(10);
    const next = track(pool.acquire());
    controller.abort();
    await advance(490);

    expect(aborted.error()).toBeDefined();
    expect(next.value()?.resource).toBe(factory.made[0]);
    expect(factory.createCalls).toBe(1);
    expectBooksBalance(pool);
  });

  it('destroys the resource when it arrives while closing; close waits for it', async () => {
    const factory = new Factory();
    factory.mode = { kind: 'slow', ms: 500 };
    const destroys = collect('resource:destroy');
    const pool = makePool(factory);

    const waiting = track(pool.acquire());
    await advance(100);
    const closed = track(pool.close());
    await advance(0);
    expect(PoolClosedError.isInstance(waiting.error())).toBe(true);
    expect(closed.settled()).toBe(false);

    await advance(400);

    expect(closed.settled()).toBe(true);
    expect(factory.made[0]!.destroyed).toBe(1);
    expect(destroys).toMatchObject([{ reason: 'close' }]);
    expect(pool.stats()).toMatchObject({ created: 1, destroyed: 1, size: 0 });
  });

  it('destroys the resource when it arrives after a forced destroy', async () => {
    const factory = new Factory();
    factory.mode = { kind: 'slow', ms: 500 };
    const pool = makePool(factory);

    const waiting = track(pool.acquire());
    await advance(100);
    await pool.destroy(new Error('shutting down'));
    expect(PoolClosedError.isInstance(waiting.error())).toBe(true);

    await advance(400);

    expect(factory.made[0]!.destroyed).toBe(1);
    expectBooksBalance(pool);
  });
});
