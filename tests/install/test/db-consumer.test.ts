import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  installedPackages,
  makeConsumer,
  makeTempDir,
  packPackages,
  removeDir,
  runProgram,
} from './pack.js';

const pgUrl = process.env.KAYGRAPH_TEST_PG_URL;
if (!pgUrl) {
  console.log('db consumer test skipped: KAYGRAPH_TEST_PG_URL is not set (needs a real PostgreSQL)');
}

// What a user writes after `npm i @kaygraph/core @kaygraph/provider-db`, against a real server.
const program = `
import { ResourcePool } from '@kaygraph/core';
import { DbError, createDbProvider } from '@kaygraph/provider-db';

const db = createDbProvider({ connectionString: process.env.PG_URL, max: 3 });
const resources = new ResourcePool().add(db);
await resources.open();

const { rows } = await db.query('SELECT $1::int + 1 AS n', [41]);

const total = await db.transaction(async (client) => {
  await client.query('CREATE TEMP TABLE consumer_items (id int) ON COMMIT DROP');
  await client.query('INSERT INTO consumer_items SELECT generate_series(1, 10)');
  const result = await client.query('SELECT sum(id)::int AS total FROM consumer_items');
  return result.rows[0].total;
});

const batches = [];
for await (const batch of db.stream('SELECT g FROM generate_series(1, 2500) g', [], {
  batchSize: 1000,
})) {
  batches.push(batch.length);
}

let missing;
try {
  await db.query('SELECT * FROM consumer_no_such_table');
} catch (error) {
  missing = { code: error.code, sqlState: error.sqlState, isDbError: DbError.isInstance(error) };
}

let embedded;
try {
  await import('@kaygraph/provider-db/embedded');
  embedded = 'loaded';
} catch (error) {
  embedded = error.code;
}

const health = await db.check();
const stats = db.stats();
await resources.close();
console.log(JSON.stringify({ n: rows[0].n, total, batches, missing, embedded, health, stats }));
`;

describe.skipIf(!pgUrl)('a project that installs only @kaygraph/core and @kaygraph/provider-db', () => {
  let tarballDir: string | undefined;
  let consumer: string | undefined;

  beforeAll(() => {
    tarballDir = makeTempDir('kaygraph-tarballs-');
    const tarballs = packPackages(['@kaygraph/core', '@kaygraph/provider-db'], tarballDir);
    consumer = makeConsumer(['@kaygraph/core', '@kaygraph/provider-db'], tarballs);
  });

  afterAll(() => {
    removeDir(consumer);
    removeDir(tarballDir);
  });

  it('gets pg and none of the other providers’ dependencies', () => {
    const installed = installedPackages(consumer!);
    expect(installed).toContain('pg');
    expect(installed).toContain('pg-cursor');
    for (const name of ['undici', 'nodemailer', 'lru-cache', 'prom-client']) {
      expect(installed, `${name} must not be installed`).not.toContain(name);
    }
    // Embedded PostgreSQL is an optional peer: a user who does not ask for it does not get it.
    expect(installed).not.toContain('@electric-sql/pglite');
  });

  it('queries, streams and commits a transaction on the real server, then exits on its own', async () => {
    const run = await runProgram(consumer!, 'main.mjs', program, { PG_URL: pgUrl });

    expect(run.signal, `the program did not exit by itself\n${run.stderr}`).toBeNull();
    expect(run.code, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout);
    expect(out.n).toBe(42);
    expect(out.total).toBe(55);
    expect(out.batches).toEqual([1000, 1000, 500]);
    expect(out.missing).toEqual({ code: 'KG_DB', sqlState: '42P01', isDbError: true });
    // The main entry works without PGlite; only the embedded subpath needs it.
    expect(out.embedded).toBe('ERR_MODULE_NOT_FOUND');
    expect(out.health.ok).toBe(true);
    expect(out.stats.inUse).toBe(0);
    expect(out.stats.acquired).toBe(out.stats.released);
  });
});
