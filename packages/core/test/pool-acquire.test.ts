import { describe, expect, it } from 'vitest';
import { AbortedError, LeaseReleasedError, PoolClosedError } from '../src/errors.js';
import { Factory, collect, flush, makePool, track } from './support/pool-factory.js';

describe('Pool acquire and release', () => {
  it('creates on demand, lends, and lends the same resource again after release', async () => {
    const factory = new Factory();
    const pool = makePool(factory, { name: 'things' });

    const first = await pool.acquire();
    expect(first.provider).toBe('things');
    expect(pool.state).toBe('open');
    expect(pool.stats()).toMatchObject({ size: 1, inUse: 1, idle: 0, created: 1, acquired: 1 });
    await first.release();

    const second = await pool.acquire();
    expect(second.resource).toBe(first.resource);
    expect(factory.createCalls).toBe(1);
    await second.release();
    expect(pool.stats()).toMatchObject({ inUse: 0, idle: 1, acquired: 2, released: 2 });
  });

  it('lends the most recently returned idle resource first', async () => {
    const pool = makePool(new Factory());
    const a = await pool.acquire();
    const b = await pool.acquire();
    await a.release();
    await b.release();

    const next = await pool.acquire();

    expect(next.resource).toBe(b.resource);
  });

  it('warms up min resources on open', async () => {
    const factory = new Factory();
    const pool = makePool(factory, { min: 3 });

    await pool.open();

    expect(factory.made).toHaveLength(3);
    expect(pool.stats()).toMatchObject({ size: 3, idle: 3, created: 3 });
    await pool.open();
    expect(factory.createCalls).toBe(3);
  });

  it('never lends more than max, and serves waiters first come, first served', async () => {
    const pool = makePool(new Factory(), { max: 2 });
    const a = await pool.acquire();
    const b = await pool.acquire();
    const order: string[] = [];
    const waiting = ['w1', 'w2', 'w3'].map((name) =>
      pool.acquire().then((lease) => {
        order.push(name);
        return lease;
      }),
    );
    await flush();
    expect(pool.stats()).toMatchObject({ inUse: 2, waiting: 3, size: 2 });

    await a.release();
    const w1 = await waiting[0]!;
    await b.release();
    const w2 = await waiting[1]!;
    await w1.release();
    const w3 = await waiting[2]!;

    expect(order).toEqual(['w1', 'w2', 'w3']);
    expect(new Set([w1.resource, w2.resource, w3.resource]).size).toBe(2);
    expect(pool.stats().inUse).toBe(2);
    await w2.release();
    await w3.release();
  });

  it('hands a returned resource straight to the oldest waiter', async () => {
    const factory = new Factory();
    const acquires = collect('resource:acquire');
    const pool = makePool(factory, { max: 1 });
    const held = await pool.acquire();
    const first = track(pool.acquire());
    const second = track(pool.acquire());
    await flush();

    await held.release();

    // Lent again before anyone awaited: never idle, and nothing new created for the waiter.
    expect(pool.stats()).toMatchObject({ size: 1, inUse: 1, idle: 0, waiting: 1, pending: 0 });
    expect(pool.stats()).toMatchObject({ created: 1, acquired: 2, released: 1 });
    await flush();
    expect(second.settled()).toBe(false);
    const lease = first.value()!;
    expect(lease.resource).toBe(held.resource);
    expect(acquires.map((e) => e.leaseId)).toEqual([held.id, lease.id]);
    expect(acquires[1]!.waitMs).toBeGreaterThanOrEqual(0);

    await lease.release();
    await flush();
    expect(second.value()!.resource).toBe(held.resource);
    expect(factory.createCalls).toBe(1);
    await second.value()!.release();
    expect(pool.stats()).toMatchObject({ inUse: 0, idle: 1, waiting: 0, released: 3 });
  });

  it('does not hand a resource at maxUses to a waiter, and makes one for it', async () => {
    const factory = new Factory();
    const pool = makePool(factory, { max: 1, maxUses: 1 });
    const held = await pool.acquire();
    const waiting = pool.acquire();
    await flush();

    await held.release();
    const lease = await waiting;

    expect(held.resource.destroyed).toBe(1);
    expect(lease.resource).not.toBe(held.resource);
    expect(factory.createCalls).toBe(2);
    expect(pool.stats()).toMatchObject({ inUse: 1, idle: 0, created: 2, destroyed: 1 });
    await lease.release();
  });

  it('resolves release without waiting, and a second release still rejects', async () => {
    const pool = makePool(new Factory());
    const a = await pool.acquire();
    const b = await pool.acquire();

    const released = [a.release(), b.release()];

    expect(a.returned && b.returned).toBe(true);
    await expect(Promise.all(released)).resolves.toEqual([undefined, undefined]);
    await expect(a.release()).rejects.toBeInstanceOf(LeaseReleasedError);
    expect(pool.stats()).toMatchObject({ inUse: 0, idle: 2, released: 2 });
  });

  it('releases through await using', async () => {
    const pool = makePool(new Factory());
    {
      await using lease = await pool.acquire();
      expect(lease.returned).toBe(false);
      expect(pool.stats().inUse).toBe(1);
    }
    expect(pool.stats()).toMatchObject({ inUse: 0, idle: 1 });
  });

  it('rejects a second release with LeaseReleasedError and leaves the counters alone', async () => {
    const pool = makePool(new Factory());
    const lease = await pool.acquire();
    await lease.release();
    const before = pool.stats();

    const again = await lease.release().catch((e: unknown) => e);
    const destroyAfter = await lease.destroy().catch((e: unknown) => e);

    expect(LeaseReleasedError.isInstance(again)).toBe(true);
    expect(LeaseReleasedError.isInstance(destroyAfter)).toBe(true);
    expect(pool.stats()).toEqual(before);
  });

  it('destroys a resource returned through lease.destroy instead of lending it again', async () => {
    const factory = new Factory();
    const pool = makePool(factory);
    const destroys = collect('resource:destroy');
    const lease = await pool.acquire();

    await lease.destroy(new Error('socket reset'));

    expect(lease.resource.destroyed).toBe(1);
    expect(destroys).toMatchObject([{ provider: 'pool', reason: 'borrower: Error' }]);
    const next = await pool.acquire();
    expect(next.resource).not.toBe(lease.resource);
    expect(pool.stats()).toMatchObject({ created: 2, destroyed: 1, inUse: 1, idle: 0 });
  });

  it('retires a resource after maxUses lends', async () => {
    const factory = new Factory();
    const pool = makePool(factory, { maxUses: 2 });

    const first = await pool.acquire();
    await first.release();
    const second = await pool.acquire();
    await second.release();
    const third = await pool.acquire();

    expect(second.resource).toBe(first.resource);
    expect(first.resource.destroyed).toBe(1);
    expect(third.resource).not.toBe(first.resource);
  });

  it('publishes create and destroy events with the resource id', async () => {
    const creates = collect('resource:create');
    const opens = collect('provider:open');
    const pool = makePool(new Factory(), { name: 'evented', kind: 'thing' });

    const lease = await pool.acquire();
    await lease.destroy();

    expect(opens).toMatchObject([{ provider: 'evented', kind: 'thing' }]);
    expect(creates).toHaveLength(1);
    expect(creates[0]).toMatchObject({ provider: 'evented', resourceId: 1 });
    expect(creates[0]!.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('passes the owner through to the lease', async () => {
    const pool = makePool(new Factory());
    const owner = { runId: 'r1', node: 'reader' };

    const lease = await pool.acquire({ owner });

    expect(lease.owner).toBe(owner);
  });
});

describe('Pool acquire with an AbortSignal', () => {
  it('rejects at once when the signal is already aborted, even with an idle resource', async () => {
    const pool = makePool(new Factory(), { min: 1 });
    await pool.open();
    const controller = new AbortController();
    controller.abort();

    const error = await pool.acquire({ signal: controller.signal }).catch((e: unknown) => e);

    expect(AbortedError.isInstance(error)).toBe(true);
    expect(pool.stats()).toMatchObject({ acquired: 0, idle: 1 });
  });

  it('takes an aborted waiter out of the queue and never lends to it', async () => {
    const pool = makePool(new Factory(), { max: 1 });
    const held = await pool.acquire();
    const controller = new AbortController();
    const aborted = track(pool.acquire({ signal: controller.signal }));
    const next = pool.acquire();
    await flush();
    expect(pool.stats().waiting).toBe(2);

    controller.abort(new PoolClosedError('caller went away'));
    await flush();
    expect(aborted.settled()).toBe(true);
    expect(PoolClosedError.isInstance(aborted.error())).toBe(true);
    expect(pool.stats().waiting).toBe(1);

    await held.release();
    const lease = await next;
    expect(lease.resource).toBe(held.resource);
    expect(pool.stats()).toMatchObject({ acquired: 2, inUse: 1 });
  });

  it('wraps a plain abort reason in AbortedError with the reason as cause', async () => {
    const pool = makePool(new Factory(), { max: 1 });
    const held = await pool.acquire();
    const controller = new AbortController();
    const waiting = pool.acquire({ signal: controller.signal });

    controller.abort('user cancelled');
    const error = await waiting.catch((e: unknown) => e);

    expect(AbortedError.isInstance(error)).toBe(true);
    expect((error as Error).cause).toBe('user cancelled');
    await held.release();
  });
});

describe('Pool use', () => {
  it('returns what fn returns and releases the resource', async () => {
    const pool = makePool(new Factory());

    const id = await pool.use((thing) => thing.id);

    expect(id).toBe(1);
    expect(pool.stats()).toMatchObject({ inUse: 0, idle: 1, released: 1 });
  });

  it('releases after fn throws when there is no validate, and rethrows', async () => {
    const pool = makePool(new Factory());

    const error = await pool
      .use(() => {
        throw new Error('query failed');
      })
      .catch((e: unknown) => e);

    expect((error as Error).message).toBe('query failed');
    expect(pool.stats()).toMatchObject({ inUse: 0, idle: 1, destroyed: 0 });
  });

  it('destroys the resource after fn throws when it fails validation', async () => {
    const factory = new Factory();
    const pool = makePool(factory, { validate: factory.validate });
    factory.valid = false;

    await expect(pool.use(async () => Promise.reject(new Error('broken pipe')))).rejects.toThrow(
      'broken pipe',
    );

    expect(factory.made[0]!.destroyed).toBe(1);
    expect(pool.stats()).toMatchObject({ inUse: 0, idle: 0, destroyed: 1 });
  });

  it('keeps the resource after fn throws when it passes validation', async () => {
    const factory = new Factory();
    const pool = makePool(factory, { validate: factory.validate });

    await expect(pool.use(() => Promise.reject(new Error('bad input')))).rejects.toThrow();

    expect(pool.stats()).toMatchObject({ idle: 1, destroyed: 0 });
  });
});

describe('Pool check and leaks', () => {
  it('reports ok when a resource can be had and validated', async () => {
    const factory = new Factory();
    const pool = makePool(factory, { validate: factory.validate });
    const health = collect('provider:health');

    const report = await pool.check();

    expect(report.ok).toBe(true);
    expect(report.error).toBeUndefined();
    expect(factory.validateCalls).toBe(1);
    expect(health).toMatchObject([{ provider: 'pool', ok: true }]);
    expect(pool.stats()).toMatchObject({ inUse: 0, idle: 1 });
  });

  it('reports not ok, without throwing, when validation fails or creates fail', async () => {
    const factory = new Factory();
    const pool = makePool(factory, { validate: factory.validate });
    factory.valid = false;

    const invalid = await pool.check();
    factory.mode = { kind: 'fail' };
    const failing = await pool.check();

    expect(invalid.ok).toBe(false);
    expect(invalid.error).toContain('validation');
    expect(failing.ok).toBe(false);
    expect(pool.stats().inUse).toBe(0);
  });

  it('reports ok at once when every resource is lent out, instead of queueing', async () => {
    const pool = makePool(new Factory(), { max: 1 });
    const lease = await pool.acquire();

    const report = await pool.check();

    expect(report.ok).toBe(true);
    expect(report.details).toMatchObject({ saturated: true });
    expect(pool.stats()).toMatchObject({ waiting: 0, acquired: 1 });
    await lease.release();
  });

  it('reports not ok once closed', async () => {
    const pool = makePool(new Factory());
    await pool.close();

    const report = await pool.check();

    expect(report.ok).toBe(false);
    expect(report.error).toContain('closed');
  });

  it('forwards reportLeak to its ledger', async () => {
    const leaks = collect('resource:leak');
    const pool = makePool(new Factory());
    const lease = await pool.acquire();

    pool.reportLeak(lease, { stack: 'at somewhere' });
    pool.reportLeak(lease);

    expect(pool.stats().leaks).toBe(1);
    expect(leaks).toMatchObject([{ provider: 'pool', stack: 'at somewhere' }]);
    await lease.release();
  });

  it('ignores a leak report for a lease it does not have out', async () => {
    const pool = makePool(new Factory());
    const other = makePool(new Factory(), { name: 'other' });
    const returned = await pool.acquire();
    await returned.release();
    const foreign = await other.acquire();

    pool.reportLeak(returned);
    pool.reportLeak(foreign);

    expect(pool.stats().leaks).toBe(0);
    expect(other.stats().leaks).toBe(0);
    await foreign.release();
  });
});
