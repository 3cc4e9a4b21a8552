import { AbortedError, Graph, Node, type NodeContext, ResourcePool } from '@kaygraph/core';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDbProvider, type DbProvider, type DbProviderOptions } from '../src/index.js';
import {
  delay,
  type PgTarget,
  recordEvents,
  skipWithoutRealServer,
  startTarget,
  testAppName,
  until,
} from './pg-target.js';

// An operation given up mid-statement (abort, node timeout, the holder destroying its lease) must
// not leave its connection to be lent again, nor its statement running on the server: a
// destroyed connection whose backend still works for minutes is a connection the server does
// not get back.

const appName = testAppName('timeout-midflight');
// Starting embedded PostgreSQL (the fallback) can take many seconds on a busy machine.
const STARTUP_TIMEOUT_MS = 120_000;
// Long enough that the statement is surely still running when the test looks for it.
const ENDLESS = 'SELECT pg_sleep(600)';
let target: PgTarget;
let admin: pg.Client | undefined;
const providers: DbProvider[] = [];

beforeAll(async () => {
  target = await startTarget();
  if (!target.real) return;
  admin = new pg.Client({ connectionString: target.url, application_name: `${appName}-admin` });
  await admin.connect();
}, STARTUP_TIMEOUT_MS);

afterEach(async () => {
  await Promise.all(providers.splice(0).map((p) => p.destroy()));
  // A statement a failed test left behind would sleep on the shared server for minutes, and be
  // taken for the next test's.
  await admin?.query(
    'SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE application_name = $1',
    [appName],
  );
});

afterAll(async () => {
  await admin?.end();
  await target.close();
});

function provider(options: DbProviderOptions = {}): DbProvider {
  const db = createDbProvider({
    connectionString: target.url,
    applicationName: appName,
    ...options,
  });
  providers.push(db);
  return db;
}

/** The backend pids of this file's connections that are running `sql` right now. */
async function running(sql: string): Promise<number[]> {
  const { rows } = await (admin as pg.Client).query<{ pid: number }>(
    "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND state = 'active' " +
      'AND query = $2',
    [appName, sql],
  );
  return rows.map((row) => row.pid);
}

/** Wait until the server runs `sql` for us, and return that backend's pid. */
async function startedOnServer(sql: string): Promise<number> {
  let pids: number[] = [];
  await until(async () => {
    pids = await running(sql);
    return pids.length > 0;
  });
  return pids[0] as number;
}

async function onServer(pid: number): Promise<boolean> {
  const { rowCount } = await (admin as pg.Client).query(
    'SELECT 1 FROM pg_stat_activity WHERE pid = $1',
    [pid],
  );
  return rowCount !== 0;
}

/** The backend leaves the server; a statement left running keeps it there for minutes. */
async function expectGone(pid: number): Promise<void> {
  for (let tries = 0; tries < 200 && (await onServer(pid)); tries++) await delay(50);
  expect(await onServer(pid), `backend ${pid} is still on the server`).toBe(false);
}

async function backendPid(db: DbProvider): Promise<number> {
  const { rows } = await db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  return rows[0]?.pid ?? -1;
}

describe.skipIf(skipWithoutRealServer('operations given up mid-statement'))(
  'an operation given up mid-statement',
  () => {
    it('query: aborted, its connection destroyed, its statement ended on the server', async () => {
      const events = recordEvents();
      try {
        const db = provider({ name: 'db-abort-query', max: 1 });
        const controller = new AbortController();
        const query = db.query(ENDLESS, [], { signal: controller.signal });
        const pid = await startedOnServer(ENDLESS);

        controller.abort();
        await expect(query).rejects.toSatisfy((e) => AbortedError.isInstance(e));

        await until(() => db.stats().destroyed === 1);
        const destroyed = events
          .named('resource:destroy')
          .filter((e) => e.provider === 'db-abort-query');
        expect(destroyed).toHaveLength(1);
        await expectGone(pid);
        expect(await backendPid(db)).not.toBe(pid);
        expect(db.stats()).toMatchObject({ inUse: 0, created: 2, destroyed: 1 });
      } finally {
        events.stop();
      }
    });

    it('stream: aborted mid-read, its statement ended on the server', async () => {
      const db = provider({ max: 1 });
      const controller = new AbortController();
      const reading = (async () => {
        for await (const _rows of db.stream(ENDLESS, [], { signal: controller.signal })) {
          // never reached: the statement sleeps before its only row
        }
      })();
      const pid = await startedOnServer(ENDLESS);

      controller.abort();
      await expect(reading).rejects.toSatisfy((e) => AbortedError.isInstance(e));

      await expectGone(pid);
      expect(await backendPid(db)).not.toBe(pid);
      expect(db.stats()).toMatchObject({ inUse: 0, destroyed: 1 });
    });

    it('node timeout: the statement ends and the connection is not reused', async () => {
      const db = provider({ max: 1 });
      class Export extends Node {
        override exec(_input: unknown, ctx: NodeContext) {
          return db.query(ENDLESS, [], { signal: ctx.signal, owner: ctx.owner });
        }
      }

      const run = new Graph(new Export({ name: 'export', timeoutMs: 300 })).run({});
      const pid = await startedOnServer(ENDLESS);
      const result = await run;

      expect(result.status).toBe('timeout');
      await expectGone(pid);
      expect(await backendPid(db)).not.toBe(pid);
      expect(db.stats()).toMatchObject({ inUse: 0, destroyed: 1 });
    });

    it('a run that fails holding a connection ends with it gone and counted', async () => {
      const db = provider({ name: 'db-failed-run', max: 1 });
      const resources = new ResourcePool().add(db);
      class Export extends Node {
        override async exec(_input: unknown, ctx: NodeContext) {
          const lease = await ctx.acquire<pg.PoolClient>('db-failed-run');
          await lease.resource.query('SELECT 1');
          throw new Error('export failed');
        }
      }

      const result = await new Graph(new Export({ name: 'export' })).run({}, { resources });

      // The scope destroyed the lease it was left with, and run() waited for the socket to close.
      expect(result.status).toBe('error');
      expect(db.stats()).toMatchObject({ inUse: 0, size: 0, created: 1, destroyed: 1 });
    });

    it('raw lease destroyed by its holder mid-statement: the statement ends too', async () => {
      const db = provider({ max: 1 });
      const lease = await db.acquire();
      const statement = lease.resource.query(ENDLESS).catch((e: unknown) => e);
      const pid = await startedOnServer(ENDLESS);

      await lease.destroy(new Error('holder gave up'));

      expect(await statement).toBeInstanceOf(Error);
      await expectGone(pid);
      expect(await backendPid(db)).not.toBe(pid);
      expect(db.stats()).toMatchObject({ inUse: 0, destroyed: 1 });
    });
  },
);
