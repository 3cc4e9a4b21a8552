import { afterEach, describe, expect, it, vi } from 'vitest';
import { type KayGraphEvents, subscribe } from '../src/events.js';
import type { Pool } from '../src/pool/pool.js';
import type { Lease } from '../src/resource.js';
import { Factory, type Thing, makePool } from './support/pool-factory.js';

const stops: (() => void)[] = [];

afterEach(() => {
  for (const stop of stops.splice(0)) stop();
});

function listen<N extends 'resource:leak' | 'resource:leak-returned'>(name: N) {
  const seen: KayGraphEvents[N][] = [];
  stops.push(subscribe(name, (e) => e.provider === 'leaky' && seen.push(e)));
  return seen;
}

/** The borrower whose stack a leak report must show. */
async function takeAndKeep(pool: Pool<Thing>) {
  return pool.acquire({ owner: { runId: 'r1', node: 'export' } });
}

/** Waits for the resource `first` holds. Deliberately not async: no async frame carries it. */
function waitInLine(pool: Pool<Thing>) {
  return pool.acquire();
}

function giveBackFirst(lease: Lease<Thing>) {
  return lease.release();
}

function takeFresh(pool: Pool<Thing>) {
  return pool.acquire();
}

describe('Pool leak detection', () => {
  it('reports an idle resource kept past leakDetectionMs once, and its return', async () => {
    const leaks = listen('resource:leak');
    const returned = listen('resource:leak-returned');
    const pool = makePool(new Factory(), { name: 'leaky', leakDetectionMs: 20 });
    await (await pool.acquire()).release();

    const lease = await takeAndKeep(pool);
    await vi.waitFor(() => expect(leaks).toHaveLength(1));
    // Sweeps go on; the lease is reported once.
    await new Promise((resolve) => setTimeout(resolve, 60));

    expect(leaks).toHaveLength(1);
    expect(leaks[0]).toMatchObject({ leaseId: lease.id, owner: { runId: 'r1', node: 'export' } });
    expect(leaks[0]?.stack).toContain('takeAndKeep');
    expect(pool.stats()).toMatchObject({ leaks: 1, inUse: 1 });

    await lease.release();

    expect(returned).toMatchObject([{ leaseId: lease.id }]);
    expect(pool.stats()).toMatchObject({ leaks: 1, inUse: 0, idle: 1 });
  });

  it('reports the stack of a borrower who waited in line, not the releaser\'s', async () => {
    const leaks = listen('resource:leak');
    const pool = makePool(new Factory(), { name: 'leaky', max: 1, leakDetectionMs: 20 });
    const first = await pool.acquire();
    const waiting = waitInLine(pool);
    await giveBackFirst(first);

    await waiting;
    await vi.waitFor(() => expect(leaks).toHaveLength(1));

    expect(leaks[0]?.stack).toContain('waitInLine');
    expect(leaks[0]?.stack).not.toContain('giveBackFirst');
  });

  it('reports the stack of a borrower served by a fresh create', async () => {
    const leaks = listen('resource:leak');
    const pool = makePool(new Factory(), { name: 'leaky', leakDetectionMs: 20 });

    await takeFresh(pool);
    await vi.waitFor(() => expect(leaks).toHaveLength(1));

    expect(leaks[0]?.stack).toContain('takeFresh');
  });

  it('reports nothing for leases returned in time', async () => {
    const leaks = listen('resource:leak');
    const pool = makePool(new Factory(), { name: 'leaky', leakDetectionMs: 50 });

    for (let i = 0; i < 5; i++) await (await pool.acquire()).release();
    await new Promise((resolve) => setTimeout(resolve, 80));

    expect(leaks).toEqual([]);
    expect(pool.stats().leaks).toBe(0);
  });
});
