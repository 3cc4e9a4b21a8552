import { ConfigInvalidError } from '@kaygraph/core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDbProvider, DbError, type DbProvider } from '../src/index.js';
import { type PgTarget, startTarget, testAppName, testTable } from './pg-target.js';

// Starting embedded PostgreSQL (the fallback) can take many seconds on a busy machine.
const STARTUP_TIMEOUT_MS = 120_000;
const table = testTable('stream-read-only');
let target: PgTarget;
let db: DbProvider;

beforeAll(async () => {
  target = await startTarget();
  db = createDbProvider({
    connectionString: target.url,
    applicationName: testAppName('stream-read-only'),
    max: 2,
  });
  await db.query(`DROP TABLE IF EXISTS ${table}`);
  await db.query(`CREATE TABLE ${table} (id int PRIMARY KEY)`);
}, STARTUP_TIMEOUT_MS);

afterEach(async () => {
  expect(db.stats()).toMatchObject({ inUse: 0, waiting: 0 });
  await db.query(`TRUNCATE ${table}`);
  await db.query(`INSERT INTO ${table} SELECT generate_series(1, 5)`);
});

afterAll(async () => {
  await db.query(`DROP TABLE IF EXISTS ${table}`).catch(() => {});
  await db.destroy();
  await target.close();
});

async function collect(rows: AsyncIterable<Record<string, unknown>[]>): Promise<unknown[]> {
  const seen: unknown[] = [];
  for await (const batch of rows) seen.push(...batch);
  return seen;
}

async function count(): Promise<number> {
  const result = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
  return result.rows[0]!.n;
}

describe('stream is read-only by default', () => {
  beforeAll(async () => {
    await db.query(`INSERT INTO ${table} SELECT generate_series(1, 5)`);
  });

  it('a DELETE … RETURNING fails with sqlState 25006 and deletes nothing', async () => {
    const error = await collect(db.stream(`DELETE FROM ${table} RETURNING *`)).catch((e) => e);

    expect(DbError.isInstance(error)).toBe(true);
    expect((error as DbError).sqlState).toBe('25006');
    expect(await count()).toBe(5);
  });

  it('an INSERT … RETURNING fails the same way and inserts nothing', async () => {
    const sql = `INSERT INTO ${table} VALUES (6), (7) RETURNING id`;
    const error = await collect(db.stream(sql)).catch((e) => e);

    expect((error as DbError).sqlState).toBe('25006');
    expect(await count()).toBe(5);
  });

  it('a plain SELECT still reads every row, and the connection is reused cleanly', async () => {
    await collect(db.stream(`DELETE FROM ${table} RETURNING *`)).catch(() => {});

    const rows = await collect(db.stream(`SELECT id FROM ${table} ORDER BY id`));

    expect(rows).toEqual([1, 2, 3, 4, 5].map((id) => ({ id })));
    // The failed read-only transaction did not stick to the connection it ran on.
    await db.query(`INSERT INTO ${table} VALUES (100)`);
    expect(await count()).toBe(6);
  });

  it('readOnly: false streams the rows of a writing statement on purpose', async () => {
    const sql = `DELETE FROM ${table} WHERE id <= 2 RETURNING id`;

    const rows = await collect(db.stream(sql, [], { readOnly: false }));

    expect(rows).toHaveLength(2);
    expect(await count()).toBe(3);
  });

  it('a readOnly that is not a boolean is refused', () => {
    const call = () => db.stream('SELECT 1', [], { readOnly: 'yes' as unknown as boolean });
    expect(call).toThrow(ConfigInvalidError);
  });
});
