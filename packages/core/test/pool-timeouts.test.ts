import { beforeEach, describe, expect, it } from 'vitest';
import { AcquireTimeoutError, CreateTimeoutError, ResourceError } from '../src/errors.js';
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

describe('Pool acquire timeout', () => {
  it('rejects with AcquireTimeoutError at the deadline when nothing comes free', async () => {
    const pool = makePool(new Factory(), { max: 1, acquireTimeoutMs: 1_000 });
    const events = collect('resource:acquire-timeout');
    const held = await pool.acquire();
    const waiting = track(pool.acquire({ owner: { node: 'n1' } }));

    await advance(999);
    expect(waiting.settled()).toBe(false);
    await advance(1);

    expect(AcquireTimeoutError.isInstance(waiting.error())).toBe(true);
    expect((waiting.error() as Error).cause).toBeUndefined();
    expect(pool.stats()).toMatchObject({ acquireTimeouts: 1, waiting: 0, inUse: 1 });
    expect(events).toMatchObject([{ provider: 'pool', owner: { node: 'n1' } }]);
    await held.release();
  });

  it('honours a per-call timeoutMs, even one queued behind a longer one', async () => {
    const pool = makePool(new Factory(), { max: 1, acquireTimeoutMs: 5_000 });
    const held = await pool.acquire();
    const long = track(pool.acquire());
    const short = track(pool.acquire({ timeoutMs: 100 }));

    await advance(100);
    expect(AcquireTimeoutError.isInstance(short.error())).toBe(true);
    expect(long.settled()).toBe(false);

    await held.release();
    await flush();
    expect(long.value()?.resource).toBe(held.resource);
  });

  it('lends to a later acquire as soon as a resource is free after timeouts', async () => {
    const pool = makePool(new Factory(), { max: 1, acquireTimeoutMs: 100 });
    const held = await pool.acquire();
    const gaveUp = [track(pool.acquire()), track(pool.acquire())];
    await advance(100);
    expect(gaveUp.every((w) => AcquireTimeoutError.isInstance(w.error()))).toBe(true);

    const later = track(pool.acquire());
    await held.release();
    await flush();

    expect(later.value()?.resource).toBe(held.resource);
    expect(pool.stats()).toMatchObject({ waiting: 0, inUse: 1, acquireTimeouts: 2 });
  });

  it('waits forever with acquireTimeoutMs Infinity', async () => {
    const pool = makePool(new Factory(), { max: 1, acquireTimeoutMs: Number.POSITIVE_INFINITY });
    const held = await pool.acquire();
    const waiting = track(pool.acquire());

    await advance(24 * 3600_000);
    expect(waiting.settled()).toBe(false);

    await held.release();
    await flush();
    expect(waiting.value()).toBeDefined();
  });
});

describe('Pool create timeout', () => {
  it('rejects the acquire at its deadline when the create never settles', async () => {
    const factory = new Factory();
    factory.mode = { kind: 'deaf' };
    const pool = makePool(factory, { acquireTimeoutMs: 200, createTimeoutMs: 1_000 });

    const waiting = track(pool.acquire());
    await advance(200);

    expect(AcquireTimeoutError.isInstance(waiting.error())).toBe(true);
    expect(pool.stats()).toMatchObject({ pending: 1, waiting: 0 });
  });

  it('aborts the create at createTimeoutMs and frees its slot: no wedged pool', async () => {
    const factory = new Factory();
    factory.mode = { kind: 'deaf' };
    const errors = collect('resource:create-error');
    const pool = makePool(factory, {
      max: 1,
      acquireTimeoutMs: 5_000,
      createTimeoutMs: 300,
      createRetryMs: 50,
      createRetryMaxMs: 50,
    });

    const first = track(pool.acquire());
    await advance(300);

    expect(factory.signals[0]!.aborted).toBe(true);
    expect(CreateTimeoutError.isInstance(factory.signals[0]!.reason)).toBe(true);
    expect(ResourceError.isInstance(first.error())).toBe(true);
    expect(CreateTimeoutError.isInstance((first.error() as Error).cause)).toBe(true);
    expect(errors).toMatchObject([{ error: { code: 'KG_CREATE_TIMEOUT' } }]);
    expect(pool.stats()).toMatchObject({ pending: 0, size: 0, errors: 1 });

    factory.mode = { kind: 'ok' };
    const second = track(pool.acquire());
    await advance(50);
    expect(second.value()?.resource.id).toBe(1);
  });

  it('destroys a resource whose create resolves after the create timed out', async () => {
    const factory = new Factory();
    factory.mode = { kind: 'slow', ms: 1_000 };
    const destroys = collect('resource:destroy');
    const pool = makePool(factory, { createTimeoutMs: 300, acquireTimeoutMs: 5_000 });

    const waiting = track(pool.acquire());
    await advance(300);
    expect(ResourceError.isInstance(waiting.error())).toBe(true);

    await advance(700);

    expect(factory.made).toHaveLength(1);
    expect(factory.made[0]!.destroyed).toBe(1);
    expect(destroys).toMatchObject([{ reason: 'late-create' }]);
    const stats = pool.stats();
    expect(stats.created - stats.destroyed).toBe(stats.idle + stats.inUse);
  });
});
