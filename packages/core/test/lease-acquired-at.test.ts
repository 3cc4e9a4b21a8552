import { afterEach, describe, expect, it } from 'vitest';
import { type EventName, type KayGraphEvents, subscribe } from '../src/events.js';
import { LeaseLedger } from '../src/lease-ledger.js';
import type { Lease } from '../src/resource.js';
import { ResourcePool } from '../src/resource-pool.js';
import { Factory, makePool } from './support/pool-factory.js';

const stops: (() => void)[] = [];

afterEach(() => {
  for (const stop of stops.splice(0)) stop();
});

function listen<N extends EventName>(name: N): KayGraphEvents[N][] {
  const events: KayGraphEvents[N][] = [];
  stops.push(subscribe(name, (payload) => events.push(payload)));
  return events;
}

/** Acquire through `take`, and check the lease's acquire time lies between the clock reads. */
async function expectTimed(take: () => Promise<Lease<unknown>>): Promise<Lease<unknown>> {
  const before = Date.now();
  const lease = await take();
  const after = Date.now();
  expect(lease.acquiredAt).toBeGreaterThanOrEqual(before);
  expect(lease.acquiredAt).toBeLessThanOrEqual(after);
  return lease;
}

describe('Lease acquiredAt', () => {
  it('is NaN when nothing could use it: no owner, leak detection or listener', async () => {
    const pool = makePool(new Factory());

    const lease = await pool.acquire();

    expect(lease.acquiredAt).toBeNaN();
    await lease.release();
  });

  it('is recorded for a lease with an owner', async () => {
    const pool = makePool(new Factory());

    const lease = await expectTimed(() => pool.acquire({ owner: { node: 'reader' } }));

    await lease.release();
  });

  it('is recorded on every lease of a pool with leak detection', async () => {
    const pool = makePool(new Factory(), { leakDetectionMs: 60_000 });

    const lease = await expectTimed(() => pool.acquire());

    await lease.release();
  });

  it('is recorded on every lease of a ledger that captures stacks', async () => {
    const ledger = new LeaseLedger<string>({ provider: 'stacks', captureStacks: true });
    const hooks = { release: () => {}, destroy: () => {} };

    const lease = await expectTimed(async () => ledger.issue('thing', 1, hooks, 0));

    expect(ledger.stackOf(lease as Lease<string>)).toContain('lease acquired');
    await lease.release();
  });

  for (const event of ['resource:acquire', 'resource:release', 'resource:leak'] as const) {
    it(`is recorded while someone listens to ${event}`, async () => {
      listen(event);
      const pool = makePool(new Factory());

      const lease = await expectTimed(() => pool.acquire());

      await lease.release();
    });
  }

  it('is recorded for a lease handed to a waiter while someone listens', async () => {
    const acquires = listen('resource:acquire');
    const pool = makePool(new Factory(), { max: 1 });
    const held = await pool.acquire();
    const waiting = pool.acquire();

    await held.release();
    const lease = await waiting;

    expect(Number.isFinite(lease.acquiredAt)).toBe(true);
    expect(acquires.map((e) => e.leaseId)).toEqual([held.id, lease.id]);
    expect(acquires[1]!.time).toBe(lease.acquiredAt);
    expect(acquires[1]!.waitMs).toBeGreaterThanOrEqual(0);
    await lease.release();
  });

  it('gives release events the hold time of leases taken while listened to', async () => {
    const releases = listen('resource:release');
    const pool = makePool(new Factory());

    const lease = await pool.acquire();
    await lease.release();

    expect(releases).toHaveLength(1);
    expect(releases[0]!.heldMs).toBeGreaterThanOrEqual(0);
  });

  it('gives NaN, not a made-up hold time, for an unowned lease taken unobserved', async () => {
    const pool = makePool(new Factory());
    const lease = await pool.acquire();

    const releases = listen('resource:release');
    await lease.release();

    expect(releases).toHaveLength(1);
    expect(releases[0]!.heldMs).toBeNaN();
    expect(releases[0]!.leaseId).toBe(lease.id);
  });

  it('keeps the hold time of a lease a scope reports as leaked', async () => {
    const pool = makePool(new Factory(), { name: 'things' });
    const scope = new ResourcePool().add(pool).scope('step');
    const kept = await scope.acquire('things');

    // Subscribed only now: the lease is timed because the scope gave it an owner.
    const leaks = listen('resource:leak');
    await scope.close();

    expect(Number.isFinite(kept.acquiredAt)).toBe(true);
    expect(leaks).toHaveLength(1);
    expect(leaks[0]).toMatchObject({ provider: 'things', leaseId: kept.id });
    expect(leaks[0]!.heldMs).toBeGreaterThanOrEqual(0);
  });
});
