import { beforeEach, describe, expect, it, vi } from 'vitest';
import { LeaseReleasedError, LeaseRevokedError, PoolClosedError } from '../src/errors.js';
import {
  Factory,
  advance,
  collect,
  makePool,
  track,
  useFakeClock,
} from './support/pool-factory.js';

beforeEach(() => {
  useFakeClock();
});

describe('Pool close', () => {
  it('refuses acquires, fails queued ones, waits for leases and destroys them', async () => {
    const factory = new Factory();
    const closes = collect('provider:close');
    const pool = makePool(factory, { max: 2 });
    const [a, b] = [await pool.acquire(), await pool.acquire()];
    const queued = track(pool.acquire());
    await advance(0);

    const closed = track(pool.close());
    await advance(0);

    expect(pool.state).toBe('closing');
    expect(PoolClosedError.isInstance(queued.error())).toBe(true);
    expect(PoolClosedError.isInstance(await pool.acquire().catch((e: unknown) => e))).toBe(true);
    expect(closed.settled()).toBe(false);

    await a.release();
    expect(a.resource.destroyed).toBe(1);
    await advance(0);
    expect(closed.settled()).toBe(false);
    await b.release();
    await advance(0);

    expect(closed.settled()).toBe(true);
    expect(pool.state).toBe('closed');
    expect(factory.made.map((thing) => thing.destroyed)).toEqual([1, 1]);
    expect(closes).toMatchObject([{ provider: 'pool', kind: 'generic', forced: false }]);
    expect(pool.stats()).toMatchObject({ size: 0, inUse: 0, idle: 0, waiting: 0, destroyed: 2 });
  });

  it('destroys idle resources at once', async () => {
    const factory = new Factory();
    const pool = makePool(factory, { min: 3 });
    await pool.open();

    await pool.close();

    expect(factory.made.map((thing) => thing.destroyed)).toEqual([1, 1, 1]);
  });

  it('destroys leases still out at the close timeout and reports them as leaks', async () => {
    const factory = new Factory();
    const leaks = collect('resource:leak');
    const pool = makePool(factory);
    const lease = await pool.acquire();

    const closed = track(pool.close({ timeoutMs: 1_000 }));
    await advance(999);
    expect(closed.settled()).toBe(false);
    await advance(1);

    expect(closed.settled()).toBe(true);
    expect(lease.resource.destroyed).toBe(1);
    expect(leaks).toHaveLength(1);
    expect(pool.stats()).toMatchObject({ leaks: 1, inUse: 0, destroyed: 1, released: 1 });
    expect(lease.returned).toBe(true);
    const returned = collect('resource:leak-returned');
    const before = pool.stats();

    // The borrower giving it back late is told so, and changes nothing.
    const late = await lease.release().catch((e: unknown) => e);
    expect(LeaseRevokedError.isInstance(late)).toBe(true);
    expect((late as Error).message).toContain(`lease ${lease.id} of provider "${pool.name}"`);
    expect(lease.resource.destroyed).toBe(1);
    expect(pool.stats()).toEqual(before);
    expect(returned).toEqual([]);
  });

  it('cuts off a destroy that never finishes at destroyTimeoutMs and reports it', async () => {
    const factory = new Factory();
    factory.destroyMode = 'hang';
    const errors = collect('resource:error');
    const pool = makePool(factory, { destroyTimeoutMs: 2_000 });
    await (await pool.acquire()).release();

    const closed = track(pool.close());
    await advance(1_999);
    expect(closed.settled()).toBe(false);
    await advance(1);

    expect(closed.settled()).toBe(true);
    expect(errors).toMatchObject([{ resourceId: 1, error: { code: 'KG_DESTROY_TIMEOUT' } }]);
    expect(pool.stats()).toMatchObject({ errors: 1, destroyed: 1 });
  });

  it('counts a failing destroy as an error and still resolves', async () => {
    const factory = new Factory();
    factory.destroyMode = 'fail';
    const errors = collect('resource:error');
    const pool = makePool(factory);
    await (await pool.acquire()).release();

    await pool.close();

    expect(errors).toMatchObject([{ error: { message: 'close failed' } }]);
    expect(pool.stats().errors).toBe(1);
  });

  it('starts no create after close, and aborts the ones in flight', async () => {
    const factory = new Factory();
    factory.mode = { kind: 'hang' };
    const pool = makePool(factory, { min: 2, createRetryMs: 10, createRetryMaxMs: 10 });
    void pool.open();
    await advance(0);
    expect(factory.createCalls).toBe(2);

    await pool.close();
    await advance(60_000);

    expect(factory.signals.every((signal) => signal.aborted)).toBe(true);
    expect(PoolClosedError.isInstance(factory.signals[0]!.reason)).toBe(true);
    expect(factory.createCalls).toBe(2);
    // Creates that obeyed the abort are not failures.
    expect(pool.stats()).toMatchObject({ pending: 0, size: 0, errors: 0 });
  });

  it('clears every timer', async () => {
    const factory = new Factory();
    const pool = makePool(factory, {
      max: 1,
      min: 1,
      idleTimeoutMs: 1_000,
      maxLifetimeMs: 60_000,
      acquireTimeoutMs: 10_000,
    });
    const held = await pool.acquire();
    const waiter = track(pool.acquire());
    factory.mode = { kind: 'fail' };
    await held.destroy();
    await advance(0);
    expect(vi.getTimerCount()).toBeGreaterThanOrEqual(3);

    await pool.close();

    expect(waiter.settled()).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('is idempotent: every close and destroy call returns the same promise', async () => {
    const pool = makePool(new Factory());
    await (await pool.acquire()).release();

    const first = pool.close();
    expect(pool.close()).toBe(first);
    expect(pool.destroy()).toBe(first);
    await first;
    expect(pool.close()).toBe(first);
    expect(pool.destroy()).toBe(first);
  });

  it('rejects open after close', async () => {
    const pool = makePool(new Factory());
    await pool.close();

    const error = await pool.open().catch((e: unknown) => e);

    expect(PoolClosedError.isInstance(error)).toBe(true);
  });

  it('closes a pool that was never opened at once, without a close event', async () => {
    const closes = collect('provider:close');
    const pool = makePool(new Factory());

    await pool.close();

    expect(pool.state).toBe('closed');
    expect(closes).toEqual([]);
  });
});

describe('Pool destroy', () => {
  it('destroys lent resources at once and fails waiters with the reason as cause', async () => {
    const factory = new Factory();
    const closes = collect('provider:close');
    const pool = makePool(factory, { max: 1 });
    const lease = await pool.acquire();
    const waiting = track(pool.acquire());
    const reason = new Error('shutting down');

    await pool.destroy(reason);

    expect(lease.resource.destroyed).toBe(1);
    expect(PoolClosedError.isInstance(waiting.error())).toBe(true);
    expect((waiting.error() as Error).cause).toBe(reason);
    expect(closes).toMatchObject([{ forced: true }]);
    const before = pool.stats();
    expect(before).toMatchObject({ created: 1, destroyed: 1, inUse: 0, acquired: 1, released: 1 });

    // Distinct from a second release, and a no-op for the counters; disposing of it stays quiet.
    const late = await lease.release().catch((e: unknown) => e);
    const destroyLate = await lease.destroy(new Error('broken')).catch((e: unknown) => e);
    expect(LeaseRevokedError.isInstance(late)).toBe(true);
    expect(LeaseRevokedError.isInstance(destroyLate)).toBe(true);
    expect(LeaseReleasedError.isInstance(late)).toBe(false);
    await lease[Symbol.asyncDispose]();
    expect(lease.resource.destroyed).toBe(1);
    expect(pool.stats()).toEqual(before);
  });

  it('turns a close in progress into a forced one', async () => {
    const factory = new Factory();
    const pool = makePool(factory);
    const lease = await pool.acquire();
    const closed = track(pool.close({ timeoutMs: 60_000 }));
    await advance(0);
    expect(closed.settled()).toBe(false);

    await pool.destroy();

    expect(closed.settled()).toBe(true);
    expect(lease.resource.destroyed).toBe(1);
  });

  it('does not wait for a create that ignores its abort signal', async () => {
    const factory = new Factory();
    factory.mode = { kind: 'deaf' };
    const pool = makePool(factory);
    const waiting = track(pool.acquire());
    await advance(0);

    await pool.destroy();

    expect(PoolClosedError.isInstance(waiting.error())).toBe(true);
    expect(pool.stats().pending).toBe(0);
  });
});
