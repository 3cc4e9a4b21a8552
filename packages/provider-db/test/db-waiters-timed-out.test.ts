import { AcquireTimeoutError } from '@kaygraph/core';
import { describe, expect, it } from 'vitest';
import { testAppName, until, useProviders } from './pg-target.js';

// pg-pool cannot take a request out of its queue, so waiters that gave up are still queued
// inside it when a connection comes free. A later acquire must not wait behind their ghosts.

const appName = testAppName('waiters-timed-out');
const { provider } = useProviders(appName);

describe('after waiters timed out', () => {
  it('a later acquire gets the connection as soon as it is released', async () => {
    // The pool-wide timeout is far away; the per-call ones give up early and leave their
    // requests in pg-pool's queue.
    const db = provider({ max: 1, acquireTimeoutMs: 600_000 });
    const holder = await db.acquire();
    const gaveUp = await Promise.all(
      [1, 2, 3].map(() => db.acquire({ timeoutMs: 50 }).catch((e: unknown) => e)),
    );
    expect(gaveUp.every((e) => AcquireTimeoutError.isInstance(e))).toBe(true);
    // Nobody waits any more, whatever pg-pool's queue still holds.
    expect(db.stats()).toMatchObject({ acquireTimeouts: 3, waiting: 0 });

    const later = db.acquire();
    await until(() => db.stats().waiting >= 1);
    await holder.release();
    const lease = await later;

    expect(lease.resource).toBe(holder.resource);
    await expect(lease.resource.query('SELECT 1 AS ok')).resolves.toMatchObject({
      rows: [{ ok: 1 }],
    });
    expect(db.stats()).toMatchObject({ inUse: 1, waiting: 0, created: 1, destroyed: 0 });
    await lease.release();
    expect(db.stats()).toMatchObject({ inUse: 0, idle: 1, acquired: 2, released: 2 });
  });

  it('serves every later waiter in turn, once each', async () => {
    const db = provider({ max: 2, acquireTimeoutMs: 600_000 });
    const holders = [await db.acquire(), await db.acquire()];
    for (let round = 0; round < 3; round++) {
      await db.acquire({ timeoutMs: 20 }).catch((e: unknown) => e);
    }

    const later = [db.acquire(), db.acquire(), db.acquire()];
    await Promise.all(holders.map((h) => h.release()));
    const [a, b] = await Promise.all(later.slice(0, 2));
    expect(a?.resource).not.toBe(b?.resource);
    await a?.release();
    const c = await later[2];
    expect(c?.resource).toBe(a?.resource);
    await Promise.all([b?.release(), c?.release()]);
    expect(db.stats()).toMatchObject({ inUse: 0, waiting: 0, idle: 2, created: 2 });
  });
});
