import { AbortedError } from '@kaygraph/core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDbProvider, DbError, type DbProvider } from '../src/index.js';
import {
  type PgTarget,
  recordEvents,
  skipWithoutRealServer,
  startTarget,
  testAppName,
  until,
} from './pg-target.js';

const appName = testAppName('query');
// Starting embedded PostgreSQL (the fallback) can take many seconds on a busy machine.
const STARTUP_TIMEOUT_MS = 120_000;
let target: PgTarget;
let db: DbProvider | undefined;

beforeAll(async () => {
  target = await startTarget();
}, STARTUP_TIMEOUT_MS);

afterEach(async () => {
  await db?.destroy();
  db = undefined;
});

afterAll(async () => {
  await target.close();
});

function provider(options: Parameters<typeof createDbProvider>[0] = {}): DbProvider {
  db = createDbProvider({ connectionString: target.url, applicationName: appName, ...options });
  return db;
}

describe('query', () => {
  it('runs a statement with parameters and returns typed rows', async () => {
    const db = provider();
    const result = await db.query<{ n: number; word: string }>(
      'SELECT $1::int AS n, $2::text AS word',
      [41, 'lease'],
    );
    expect(result.rows).toEqual([{ n: 41, word: 'lease' }]);
    expect(db.state).toBe('open');
  });

  it.skipIf(skipWithoutRealServer('application_name in pg_stat_activity'))(
    'names every connection with application_name, visible in pg_stat_activity',
    async () => {
      const db = provider();
      const { rows } = await db.query<{ application_name: string }>(
        'SELECT application_name FROM pg_stat_activity WHERE pid = pg_backend_pid()',
      );
      expect(rows[0]?.application_name).toBe(appName);
    },
  );

  it.skipIf(skipWithoutRealServer('statement_timeout'))(
    'applies statementTimeoutMs; the timed-out statement fails typed and the connection is kept',
    async () => {
      const db = provider({ statementTimeoutMs: 50 });
      const failure = await db.query('SELECT pg_sleep(5)').catch((e: unknown) => e);
      expect(DbError.isInstance(failure)).toBe(true);
      expect((failure as DbError).sqlState).toBe('57014');
      await expect(db.query('SELECT 1 AS one')).resolves.toMatchObject({ rows: [{ one: 1 }] });
      expect(db.stats()).toMatchObject({ created: 1, destroyed: 0 });
    },
  );

  it('returns every lease: stats come back to zero in use and zero waiting', async () => {
    const db = provider({ max: 3 });
    const queries = Array.from({ length: 20 }, (_, i) => db.query('SELECT $1::int AS i', [i]));
    const results = await Promise.all(queries);
    expect(results.map((r) => r.rows[0]?.i)).toEqual(Array.from({ length: 20 }, (_, i) => i));

    const stats = db.stats();
    expect(stats).toMatchObject({ inUse: 0, waiting: 0, pending: 0, acquired: 20, released: 20 });
    expect(stats.size).toBeLessThanOrEqual(3);
    expect(stats.idle).toBe(stats.size);
    expect(stats.created).toBe(stats.size);

    await db.close();
    expect(db.stats()).toMatchObject({ size: 0, idle: 0, inUse: 0, destroyed: stats.created });
  });

  it('publishes create, paired acquire/release and destroy events', async () => {
    const events = recordEvents();
    try {
      const db = provider({ name: 'db-events' });
      await db.query('SELECT 1');
      await db.close();
      const mine = events.seen.filter(
        (e) => 'provider' in e.payload && e.payload.provider === 'db-events',
      );
      expect(mine.map((e) => e.name)).toEqual([
        'provider:open',
        'resource:create',
        'resource:acquire',
        'resource:release',
        'resource:destroy',
        'provider:close',
      ]);
      const [acquire] = events.named('resource:acquire');
      const [release] = events.named('resource:release');
      expect(release?.leaseId).toBe(acquire?.leaseId);
      expect(events.named('resource:destroy')[0]?.reason).toBe('provider closed');
    } finally {
      events.stop();
    }
  });

  it('passes owner through to lease events', async () => {
    const events = recordEvents();
    try {
      const db = provider({ name: 'db-owner' });
      await db.query('SELECT 1', [], { owner: { runId: 'run-1', node: 'reader' } });
      expect(events.named('resource:acquire').at(-1)?.owner).toEqual({
        runId: 'run-1',
        node: 'reader',
      });
    } finally {
      events.stop();
    }
  });

  it('aborts a running statement at once and destroys its connection', async () => {
    const db = provider();
    const controller = new AbortController();
    const running = db.query('SELECT pg_sleep(1)', [], { signal: controller.signal });
    await until(() => db.stats().inUse === 1);
    controller.abort();
    await expect(running).rejects.toSatisfy((e) => AbortedError.isInstance(e));
    expect(db.stats().inUse).toBe(0);
    await until(() => db.stats().destroyed === 1);
  });

  it('check() runs SELECT 1, reports ok, and never throws once closed', async () => {
    const db = provider();
    const report = await db.check();
    expect(report.ok).toBe(true);
    expect(report.latencyMs).toBeGreaterThanOrEqual(0);
    await db.close();
    const closed = await db.check();
    expect(closed.ok).toBe(false);
    expect(closed.error).toContain('closed');
  });

  it('open() connects once, is idempotent, and leaves the connection idle', async () => {
    const db = provider();
    await Promise.all([db.open(), db.open()]);
    expect(db.state).toBe('open');
    expect(db.stats()).toMatchObject({ created: 1, idle: 1, inUse: 0 });
  });
});
