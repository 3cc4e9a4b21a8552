import { AbortedError } from '@kaygraph/core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createDbProvider, DbError, type DbProvider } from '../src/index.js';
import { type PgTarget, recordEvents, startTarget, testAppName, testTable } from './pg-target.js';

const table = testTable('transaction');
// Starting embedded PostgreSQL (the fallback) can take many seconds on a busy machine.
const STARTUP_TIMEOUT_MS = 120_000;
let target: PgTarget;
let db: DbProvider;

beforeAll(async () => {
  target = await startTarget();
}, STARTUP_TIMEOUT_MS);

beforeEach(async () => {
  db = createDbProvider({
    connectionString: target.url,
    applicationName: testAppName('transaction'),
    max: 2,
  });
  await db.query(`CREATE TABLE IF NOT EXISTS ${table} (id int PRIMARY KEY, note text)`);
  await db.query(`TRUNCATE ${table}`);
});

afterEach(async () => {
  await db.query(`DROP TABLE IF EXISTS ${table}`);
  await db.destroy();
});

afterAll(async () => {
  await target.close();
});

async function rowCount(): Promise<number> {
  const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
  return rows[0]?.n ?? -1;
}

describe('transaction', () => {
  it('commits what fn did and returns its result', async () => {
    const result = await db.transaction(async (client) => {
      await client.query(`INSERT INTO ${table} VALUES (1, 'a'), (2, 'b')`);
      return 'done';
    });
    expect(result).toBe('done');
    expect(await rowCount()).toBe(2);
    expect(db.stats()).toMatchObject({ inUse: 0, destroyed: 0 });
  });

  it('rolls back when fn throws and rethrows the caller error unchanged', async () => {
    const mine = new Error('business rule broken');
    const failure = await db
      .transaction(async (client) => {
        await client.query(`INSERT INTO ${table} VALUES (1, 'a')`);
        throw mine;
      })
      .catch((e: unknown) => e);
    expect(failure).toBe(mine);
    expect(await rowCount()).toBe(0);
    // The connection was rolled back and reused, not destroyed.
    expect(db.stats()).toMatchObject({ inUse: 0, destroyed: 0 });
  });

  it('rolls back when a statement fails and throws DbError with the SQLSTATE', async () => {
    const failure = await db
      .transaction(async (client) => {
        await client.query(`INSERT INTO ${table} VALUES (1, 'a')`);
        await client.query(`INSERT INTO ${table} VALUES (1, 'duplicate')`);
      })
      .catch((e: unknown) => e);
    expect(DbError.isInstance(failure)).toBe(true);
    expect((failure as DbError).sqlState).toBe('23505');
    expect(await rowCount()).toBe(0);
    expect(db.stats()).toMatchObject({ inUse: 0, destroyed: 0 });
  });

  it('rolls back when the signal aborts while fn runs, and fn sees the signal', async () => {
    const controller = new AbortController();
    let sawAbort = false;
    const failure = await db
      .transaction(
        async (client, signal) => {
          await client.query(`INSERT INTO ${table} VALUES (1, 'a')`);
          controller.abort();
          sawAbort = signal.aborted;
          // Statements after the abort still run inside the transaction, never in autocommit.
          await client.query(`INSERT INTO ${table} VALUES (2, 'b')`);
        },
        { signal: controller.signal },
      )
      .catch((e: unknown) => e);
    expect(AbortedError.isInstance(failure)).toBe(true);
    expect(sawAbort).toBe(true);
    expect(await rowCount()).toBe(0);
    expect(db.stats()).toMatchObject({ inUse: 0, destroyed: 0 });
  });

  it('never starts when the signal is already aborted', async () => {
    let ran = false;
    const failure = await db
      .transaction(
        async () => {
          ran = true;
        },
        { signal: AbortSignal.abort() },
      )
      .catch((e: unknown) => e);
    expect(AbortedError.isInstance(failure)).toBe(true);
    expect(ran).toBe(false);
  });

  it('destroys a raw lease returned inside an open transaction, with a warning', async () => {
    const events = recordEvents();
    try {
      const lease = await db.acquire();
      await lease.resource.query('BEGIN');
      await lease.resource.query(`INSERT INTO ${table} VALUES (9, 'left open')`);
      await lease.release();
      expect(events.named('provider:warning').at(-1)?.message).toContain('open transaction');
      await expect.poll(() => db.stats().destroyed).toBe(1);
      expect(await rowCount()).toBe(0);
    } finally {
      events.stop();
    }
  });
});
