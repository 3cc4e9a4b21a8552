import { AcquireTimeoutError, Graph, Node, type NodeContext, ResourcePool } from '@kaygraph/core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testAppName, until, useProviders } from './pg-target.js';

// A node that retries must be able to borrow again on its next attempt, even from a pool of one:
// the connection a failed attempt kept is destroyed (it may be mid-statement or mid-transaction)
// before the retry, not held until the node ends.

const appName = testAppName('retry-scope');
const { provider, url } = useProviders(appName);
let admin: pg.Client | undefined;

beforeAll(async () => {
  admin = new pg.Client({ connectionString: url(), application_name: `${appName}-admin` });
  await admin.connect();
});

afterAll(async () => {
  await admin?.end();
});

/** Backends the server has for this file's providers. */
async function backends(): Promise<number> {
  const { rows } = await (admin as pg.Client).query<{ n: number }>(
    'SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1',
    [appName],
  );
  return rows[0]?.n ?? -1;
}

/**
 * Queries on a borrowed connection, and fails before attempt `succeedOn` without giving it back
 * (as the trial's node did); gives it back when it succeeds.
 */
class Reader extends Node<{ pids: number[] }> {
  constructor(
    readonly provider: string,
    readonly succeedOn: number,
  ) {
    super({ name: 'reader', maxRetries: 2 });
  }

  override async exec(_input: unknown, ctx: NodeContext<{ pids: number[] }>) {
    const lease = await ctx.acquire<pg.PoolClient>(this.provider);
    const { rows } = await lease.resource.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    ctx.shared.pids.push(rows[0]?.pid as number);
    if (ctx.attempt < this.succeedOn) throw new Error('transient failure');
    await lease.release();
  }
}

describe('a retried node on a pool of one connection', () => {
  it('gets a connection on its second attempt, and leaves none behind', async () => {
    const db = provider({ name: 'db-retry', max: 1, acquireTimeoutMs: 2000 });
    const resources = new ResourcePool().add(db);
    const shared = { pids: [] as number[] };

    const result = await new Graph(new Reader('db-retry', 2)).run(shared, { resources });

    expect(result.status).toBe('ok');
    // Attempt 1's connection was destroyed, so attempt 2 ran on a new backend.
    expect(shared.pids).toHaveLength(2);
    expect(shared.pids[1]).not.toBe(shared.pids[0]);
    expect(db.stats()).toMatchObject({
      inUse: 0,
      waiting: 0,
      created: 2,
      destroyed: 1,
      leaks: 1,
      acquireTimeouts: 0,
    });
    // The destroyed connection's backend is gone; the good one waits idle until the close.
    await until(async () => (await backends()) === 1);

    await resources.close();
    await until(async () => (await backends()) === 0);
  });

  it("fails with the attempts' own error when every attempt fails", async () => {
    const db = provider({ name: 'db-retry-fails', max: 1, acquireTimeoutMs: 2000 });
    const resources = new ResourcePool().add(db);
    const shared = { pids: [] as number[] };

    const result = await new Graph(new Reader('db-retry-fails', 99)).run(shared, { resources });

    expect(result.status).toBe('error');
    expect(AcquireTimeoutError.isInstance(result.error)).toBe(false);
    expect((result.error as Error).message).toBe('transient failure');
    expect(new Set(shared.pids).size).toBe(3);
    expect(db.stats()).toMatchObject({ inUse: 0, created: 3, destroyed: 3, acquireTimeouts: 0 });

    await resources.close();
    await until(async () => (await backends()) === 0);
  });
});
