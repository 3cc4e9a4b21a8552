import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { AbortedError } from '@kaygraph/core';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDbProvider, DbError, type DbProvider } from '../src/index.js';
import { type PgTarget, startTarget, testAppName, until } from './pg-target.js';

// A real collector lets the memory test observe what is still reachable, not guess from timing.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

// Starting embedded PostgreSQL (the fallback) can take many seconds on a busy machine.
const STARTUP_TIMEOUT_MS = 120_000;
let target: PgTarget;
let db: DbProvider;

beforeAll(async () => {
  target = await startTarget();
  db = createDbProvider({
    connectionString: target.url,
    applicationName: testAppName('stream'),
    max: 2,
  });
}, STARTUP_TIMEOUT_MS);

afterEach(() => {
  expect(db.stats()).toMatchObject({ inUse: 0, waiting: 0 });
});

afterAll(async () => {
  await db.destroy();
  await target.close();
});

const bigQuery = "SELECT g, repeat('x', 200) AS pad FROM generate_series(1, $1::int) AS g";

describe('stream', () => {
  it('reads 100k rows in batches without holding them all in memory', async () => {
    let total = 0;
    let sum = 0;
    let batches = 0;
    let largest = 0;
    let firstBatch: WeakRef<object> | undefined;
    let baseline = 0;
    let peakGrowth = 0;

    for await (const rows of db.stream<{ g: number; pad: string }>(bigQuery, [100_000], {
      batchSize: 1000,
    })) {
      batches++;
      largest = Math.max(largest, rows.length);
      total += rows.length;
      for (const row of rows) sum += row.g;
      if (batches === 1) {
        firstBatch = new WeakRef(rows);
        gc();
        baseline = process.memoryUsage().heapUsed;
      }
      if (batches % 25 === 0) {
        gc();
        peakGrowth = Math.max(peakGrowth, process.memoryUsage().heapUsed - baseline);
      }
    }

    expect(total).toBe(100_000);
    expect(sum).toBe((100_000 * 100_001) / 2);
    expect(batches).toBe(100);
    expect(largest).toBe(1000);
    // Nothing keeps an earlier batch alive: the first one is collectable once the loop moved on.
    gc();
    expect(firstBatch?.deref()).toBeUndefined();
    // 100k rows of ~200 bytes are over 20 MB as strings alone; a batch is about 1% of that.
    expect(peakGrowth).toBeLessThan(8 * 1024 * 1024);
  });

  it('releases the lease (not destroys) when the consumer breaks early', async () => {
    const before = db.stats();
    let seen = 0;
    for await (const rows of db.stream(bigQuery, [50_000], { batchSize: 100 })) {
      seen += rows.length;
      if (seen >= 300) break;
    }
    expect(seen).toBe(300);
    expect(db.stats()).toMatchObject({ inUse: 0, destroyed: before.destroyed });
    await expect(db.query('SELECT 1 AS ok')).resolves.toMatchObject({ rows: [{ ok: 1 }] });
  });

  it('releases the lease when the loop body throws, and the error reaches the caller', async () => {
    const before = db.stats();
    const mine = new Error('consumer failed');
    const failure = await (async () => {
      for await (const _rows of db.stream(bigQuery, [10_000], { batchSize: 100 })) throw mine;
    })().catch((e: unknown) => e);
    expect(failure).toBe(mine);
    expect(db.stats()).toMatchObject({ inUse: 0, destroyed: before.destroyed });
  });

  it('stops with AbortedError when aborted between batches, keeping the connection', async () => {
    const before = db.stats();
    const controller = new AbortController();
    let batches = 0;
    const failure = await (async () => {
      for await (const _rows of db.stream(bigQuery, [10_000], {
        batchSize: 100,
        signal: controller.signal,
      })) {
        batches++;
        if (batches === 2) controller.abort();
      }
    })().catch((e: unknown) => e);
    expect(AbortedError.isInstance(failure)).toBe(true);
    expect(batches).toBe(2);
    expect(db.stats()).toMatchObject({ inUse: 0, destroyed: before.destroyed });
  });

  it('stops at once when aborted mid-read, destroying the connection', async () => {
    const before = db.stats();
    const controller = new AbortController();
    const reading = (async () => {
      for await (const _rows of db.stream(
        'SELECT pg_sleep(1), g FROM generate_series(1, 3) g',
        [],
        {
          signal: controller.signal,
        },
      )) {
        // never reached: the first read is still waiting on pg_sleep
      }
    })();
    await until(() => db.stats().inUse === 1);
    controller.abort();
    await expect(reading).rejects.toSatisfy((e) => AbortedError.isInstance(e));
    expect(db.stats().inUse).toBe(0);
    await until(() => db.stats().destroyed === before.destroyed + 1);
  });

  it('fails with DbError for bad SQL and returns the lease', async () => {
    const failure = await (async () => {
      for await (const _rows of db.stream('SELECT * FROM kg_no_such_stream_table')) {
        // nothing to read
      }
    })().catch((e: unknown) => e);
    expect(DbError.isInstance(failure)).toBe(true);
    expect((failure as DbError).sqlState).toBe('42P01');
    expect((failure as DbError).table).toBe('kg_no_such_stream_table');
    await expect(db.query('SELECT 2 AS ok')).resolves.toMatchObject({ rows: [{ ok: 2 }] });
  });

  it('takes no connection until iterated', async () => {
    const before = db.stats().acquired;
    const stream = db.stream('SELECT 1');
    expect(db.stats().acquired).toBe(before);
    const batches: unknown[] = [];
    for await (const rows of stream) batches.push(rows);
    expect(batches).toEqual([[{ '?column?': 1 }]]);
  });
});

describe('stream types', () => {
  it('parses columns with the stream\'s own type parsers, leaving pg\'s global ones alone', async () => {
    const sql = "SELECT '\\xdead'::bytea AS data, 'NaN'::float8 AS nan, 1.5::float8 AS x";
    const keepText = (oid: number, format?: 'text' | 'binary') =>
      oid === 17 || oid === 701 ? (text: string) => text : pg.types.getTypeParser(oid, format);
    const own: Record<string, unknown>[] = [];
    for await (const batch of db.stream(sql, [], { types: { getTypeParser: keepText } })) {
      own.push(...batch);
    }
    expect(own).toEqual([{ data: '\\xdead', nan: 'NaN', x: '1.5' }]);

    const global: Record<string, unknown>[] = [];
    for await (const batch of db.stream(sql)) global.push(...batch);
    expect(Buffer.isBuffer(global[0]!.data)).toBe(true);
    expect(global[0]!.nan).toBeNaN();
    expect(global[0]!.x).toBe(1.5);
  });

  it('refuses types without a getTypeParser function', () => {
    const bad = { getTypeParser: 'no' } as unknown as pg.CustomTypesConfig;
    expect(() => db.stream('SELECT 1', [], { types: bad })).toThrow(
      expect.objectContaining({ code: 'KG_CONFIG_INVALID' }),
    );
  });
});
