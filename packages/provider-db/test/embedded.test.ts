import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigInvalidError } from '@kaygraph/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EmbeddedPostgres, startEmbeddedPostgres } from '../src/embedded.js';
import { createDbProvider, DbConnectError, type DbProvider } from '../src/index.js';

// Starting embedded PostgreSQL (the fallback) can take many seconds on a busy machine.
const STARTUP_TIMEOUT_MS = 120_000;
let embedded: EmbeddedPostgres;
let db: DbProvider;

beforeAll(async () => {
  embedded = await startEmbeddedPostgres({ maxConnections: 8 });
  db = createDbProvider({ connectionString: embedded.connectionString, max: 4 });
}, STARTUP_TIMEOUT_MS);

afterAll(async () => {
  await db.destroy();
  await embedded.close();
});

describe('embedded PostgreSQL', () => {
  it('listens on a free loopback port and names it in the connection string', () => {
    expect(embedded.port).toBeGreaterThan(0);
    expect(embedded.host).toBe('127.0.0.1');
    expect(embedded.connectionString).toBe(
      `postgres://postgres@127.0.0.1:${embedded.port}/postgres`,
    );
  });

  it('serves several connections at once through the provider', async () => {
    const leases = await Promise.all([db.acquire(), db.acquire(), db.acquire(), db.acquire()]);
    expect(db.stats()).toMatchObject({ size: 4, inUse: 4 });
    const answers = await Promise.all(
      leases.map((lease, i) => lease.resource.query<{ i: number }>('SELECT $1::int AS i', [i])),
    );
    expect(answers.map((a) => a.rows[0]?.i)).toEqual([0, 1, 2, 3]);
    await Promise.all(leases.map((l) => l.release()));
    expect(db.stats()).toMatchObject({ inUse: 0, idle: 4 });
  });

  it('keeps concurrent parameterized statements apart', async () => {
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        db.query<{ i: number; j: number }>(`SELECT $1::int AS i, ${i} AS j`, [i]),
      ),
    );
    expect(results.every((r, i) => r.rows[0]?.i === i && r.rows[0]?.j === i)).toBe(true);
  });

  it('streams while other connections query (the cursor runs in its own transaction)', async () => {
    let total = 0;
    const others = (async () => {
      let right = 0;
      for (let i = 0; i < 20; i++) {
        const { rows } = await db.query<{ i: number }>('SELECT $1::int AS i', [i]);
        if (rows[0]?.i === i) right++;
      }
      return right;
    })();
    for await (const rows of db.stream('SELECT g FROM generate_series(1, 20000) g', [], {
      batchSize: 500,
    })) {
      total += rows.length;
    }
    expect(total).toBe(20_000);
    expect(await others).toBe(20);
  });

  it('commits and rolls back transactions', async () => {
    await db.query('CREATE TABLE IF NOT EXISTS kg_embedded_t (n int)');
    await db.transaction(async (client) => {
      await client.query('INSERT INTO kg_embedded_t VALUES (1)');
    });
    await db
      .transaction(async (client) => {
        await client.query('INSERT INTO kg_embedded_t VALUES (2)');
        throw new Error('undo');
      })
      .catch(() => {});
    const { rows } = await db.query<{ n: number }>('SELECT n FROM kg_embedded_t');
    expect(rows).toEqual([{ n: 1 }]);
  });

  it('checks its options', async () => {
    await expect(startEmbeddedPostgres({ port: -1 })).rejects.toSatisfy((e) =>
      ConfigInvalidError.isInstance(e),
    );
    await expect(
      startEmbeddedPostgres({ dataDirectory: '/tmp/x' } as unknown as { dataDir: string }),
    ).rejects.toThrow(/"dataDirectory"/);
  });

  it('keeps data in dataDir across restarts; after close nothing listens', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kg-embedded-'));
    try {
      const first = await startEmbeddedPostgres({ dataDir: dir });
      const writer = createDbProvider({ connectionString: first.connectionString, max: 1 });
      await writer.query('CREATE TABLE kept (word text)');
      await writer.query("INSERT INTO kept VALUES ('still here')");
      await writer.close();
      await first.close();
      await first.close();

      const gone = createDbProvider({ connectionString: first.connectionString, max: 1 });
      await expect(gone.query('SELECT 1')).rejects.toSatisfy((e) => DbConnectError.isInstance(e));
      await gone.close();

      const second = await startEmbeddedPostgres({ dataDir: dir });
      const reader = createDbProvider({ connectionString: second.connectionString, max: 1 });
      const { rows } = await reader.query('SELECT word FROM kept');
      expect(rows).toEqual([{ word: 'still here' }]);
      await reader.close();
      await second.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('stays out of the main entry: nothing reachable from index.ts imports PGlite', async () => {
    const src = resolve(dirname(fileURLToPath(import.meta.url)), '../src');
    const seen = new Set<string>();
    const visit = async (file: string): Promise<void> => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = await readFile(join(src, file), 'utf8');
      expect(text).not.toMatch(/from '@electric-sql\//);
      for (const [, next] of text.matchAll(/from '\.\/([\w-]+)\.js'/g)) await visit(`${next}.ts`);
    };
    await visit('index.ts');
    expect(seen.has('db-provider.ts')).toBe(true);
    expect(seen.has('embedded.ts')).toBe(false);
  });
});
