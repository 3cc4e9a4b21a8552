import {
  AcquireTimeoutError,
  ForeignLeaseError,
  LeaseReleasedError,
  LeaseRevokedError,
  PoolClosedError,
} from '@kaygraph/core';
import { describe, expect, it } from 'vitest';
import { testAppName, useProviders } from './pg-target.js';

// Returning a connection the wrong way must be refused with a typed error and change nothing:
// a connection handed back twice, or behind its lease's back, would be lent to two borrowers.

const appName = testAppName('lease-misuse');
const { provider } = useProviders(appName);

describe('returning a connection the wrong way', () => {
  it('a second release or destroy rejects, typed; counters unchanged', async () => {
    const db = provider({ max: 1 });
    const lease = await db.acquire();
    await lease.release();
    const before = db.stats();

    const again = await lease.release().catch((e: unknown) => e);
    const destroyAfter = await lease.destroy(new Error('late')).catch((e: unknown) => e);

    expect(LeaseReleasedError.isInstance(again)).toBe(true);
    expect(LeaseReleasedError.isInstance(destroyAfter)).toBe(true);
    expect(db.stats()).toEqual(before);
    expect(db.stats()).toMatchObject({ idle: 1, inUse: 0, destroyed: 0 });
  });

  it("the driver's own client.release() on a leased connection is refused, typed", async () => {
    const db = provider({ max: 1 });
    const lease = await db.acquire();
    const before = db.stats();

    let refused: unknown;
    try {
      lease.resource.release();
    } catch (error) {
      refused = error;
    }

    expect(ForeignLeaseError.isInstance(refused)).toBe(true);
    expect((refused as Error).message).toContain('lease');
    expect(db.stats()).toEqual(before);
    // Still lent to this lease alone: nobody else can have it.
    const other = await db.acquire({ timeoutMs: 100 }).catch((e: unknown) => e);
    expect(AcquireTimeoutError.isInstance(other)).toBe(true);
    await expect(lease.resource.query('SELECT 1 AS ok')).resolves.toMatchObject({
      rows: [{ ok: 1 }],
    });

    await lease.release();
    const next = await db.acquire();
    expect(next.resource).toBe(lease.resource);
    expect(db.stats()).toMatchObject({ inUse: 1, created: 1, destroyed: 0 });
    await next.release();
  });

  it('client.release(error) inside a transaction is refused; it rolls back', async () => {
    const db = provider({ max: 1 });
    const failure = await db
      .transaction(async (client) => {
        await client.query('SELECT 1');
        client.release(new Error('done with it'));
      })
      .catch((e: unknown) => e);

    expect(ForeignLeaseError.isInstance(failure)).toBe(true);
    expect(db.stats()).toMatchObject({ inUse: 0, idle: 1, destroyed: 0 });
    await expect(db.query('SELECT 1 AS ok')).resolves.toMatchObject({ rows: [{ ok: 1 }] });
  });

  it('a release after the provider destroyed the connection rejects, typed', async () => {
    const db = provider({ max: 1 });
    const lease = await db.acquire();
    await db.destroy(new Error('shutting down'));
    const before = db.stats();

    const late = await lease.release().catch((e: unknown) => e);

    expect(LeaseRevokedError.isInstance(late)).toBe(true);
    expect((late as Error).message).toContain('took it back');
    expect(db.stats()).toEqual(before);
    expect(before).toMatchObject({ inUse: 0, size: 0, created: 1, destroyed: 1 });
    await expect(db.acquire()).rejects.toSatisfy((e) => PoolClosedError.isInstance(e));
  });
});
