import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { AbortedError, AcquireTimeoutError } from '@kaygraph/core';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  createDbProvider,
  DbConnectError,
  DbError,
  type DbProvider,
  type DbProviderOptions,
} from '../src/index.js';
import {
  type PgTarget,
  recordEvents,
  skipWithoutRealServer,
  startTarget,
  testAppName,
  until,
} from './pg-target.js';
import { unusedPort } from './ports.js';

const appName = testAppName('faults');
// Starting embedded PostgreSQL (the fallback) can take many seconds on a busy machine.
const STARTUP_TIMEOUT_MS = 120_000;
let target: PgTarget;
let admin: pg.Client | undefined;
const providers: DbProvider[] = [];
const servers: Server[] = [];

beforeAll(async () => {
  target = await startTarget();
  if (target.real) {
    admin = new pg.Client({ connectionString: target.url, application_name: `${appName}-admin` });
    await admin.connect();
  }
}, STARTUP_TIMEOUT_MS);

afterEach(async () => {
  await Promise.all(providers.splice(0).map((p) => p.destroy()));
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
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

/** Terminate this file's pooled backends (never other helpers'), waiting until they are gone. */
async function killOurBackends(): Promise<number> {
  const { rows } = await (admin as pg.Client).query<{ killed: boolean }>(
    `SELECT pg_terminate_backend(pid, 5000) AS killed FROM pg_stat_activity WHERE application_name = $1`,
    [appName],
  );
  return rows.filter((r) => r.killed).length;
}

/** Terminate this file's backends through psql, waiting for them to exit, event loop blocked. */
function killOurBackendsBlocking(): void {
  execFileSync('psql', [
    '-X',
    '-q',
    '-v',
    'ON_ERROR_STOP=1',
    target.url,
    '-c',
    'SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity ' +
      `WHERE application_name = '${appName}'`,
  ]);
}

async function backendPid(db: DbProvider): Promise<number> {
  const { rows } = await db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  return rows[0]?.pid ?? -1;
}

describe('faults', () => {
  it.skipIf(skipWithoutRealServer('idle connection killed'))(
    'an idle connection killed by pg_terminate_backend is evicted and counted; the process lives',
    async () => {
      const events = recordEvents();
      try {
        const db = provider({ name: 'db-idle-kill', max: 3 });
        const leases = await Promise.all([db.acquire(), db.acquire(), db.acquire()]);
        await Promise.all(leases.map((l) => l.release()));
        expect(db.stats()).toMatchObject({ idle: 3, created: 3 });

        expect(await killOurBackends()).toBe(3);
        await until(() => db.stats().destroyed === 3);

        expect(db.stats()).toMatchObject({ size: 0, idle: 0, errors: 3, destroyed: 3 });
        const errors = events.named('resource:error').filter((e) => e.provider === 'db-idle-kill');
        expect(errors).toHaveLength(3);
        expect(errors[0]?.error.code).toBe('KG_DB_CONNECT');
        const destroys = events
          .named('resource:destroy')
          .filter((e) => e.provider === 'db-idle-kill');
        expect(destroys.every((e) => e.reason.startsWith('connection error'))).toBe(true);

        await expect(db.query('SELECT 1 AS alive')).resolves.toMatchObject({
          rows: [{ alive: 1 }],
        });
        expect(db.stats().created).toBe(4);
      } finally {
        events.stop();
      }
    },
  );

  it.skipIf(skipWithoutRealServer('validate on borrow after a kill'))(
    'validation on borrow replaces connections killed moments ago, before their error arrives',
    async () => {
      const db = provider({ max: 3, validateAfterIdleMs: 0 });
      for (let round = 0; round < 5; round++) {
        const leases = await Promise.all([db.acquire(), db.acquire(), db.acquire()]);
        await Promise.all(leases.map((l) => l.release()));
        // Killed from another process while this one's event loop is blocked: when the query
        // starts, the backends are gone but their FATAL and EOF still sit unread in our sockets,
        // so nothing but the check on borrow can tell. (Killing from this process made the kill
        // race the check itself, and a kill landing after a passing check is case 2.)
        killOurBackendsBlocking();
        await expect(db.query('SELECT 1 AS ok')).resolves.toMatchObject({ rows: [{ ok: 1 }] });
      }
      expect(db.stats().inUse).toBe(0);
    },
  );

  it.skipIf(skipWithoutRealServer('connection killed while held'))(
    'a connection killed while held fails the holder typed and is destroyed, never reused',
    async () => {
      const db = provider({ max: 1 });
      const pidBefore = await backendPid(db);
      const failure = await db
        .transaction(async (client) => {
          await client.query('SELECT 1');
          await killOurBackends();
          await client.query('SELECT 2');
        })
        .catch((e: unknown) => e);
      expect(DbConnectError.isInstance(failure)).toBe(true);
      expect((failure as DbConnectError).message).toContain('127.0.0.1');
      await until(() => db.stats().destroyed === 1);
      expect(db.stats()).toMatchObject({ inUse: 0, idle: 0 });
      expect(await backendPid(db)).not.toBe(pidBefore);
    },
  );

  it.skipIf(skipWithoutRealServer('raw lease killed while held'))(
    'a raw lease whose connection emitted an error is destroyed on release',
    async () => {
      const events = recordEvents();
      try {
        const db = provider({ name: 'db-held-kill', max: 1 });
        const lease = await db.acquire();
        await killOurBackends();
        // The client emits the error with no query running; the provider's listener takes it.
        await until(() =>
          events.named('resource:error').some((e) => e.provider === 'db-held-kill'),
        );
        await expect(lease.resource.query('SELECT 1')).rejects.toThrow();
        await lease.release();
        await until(() => db.stats().destroyed === 1);
        expect(db.stats()).toMatchObject({ idle: 0, size: 0, errors: 1 });
        await expect(db.query('SELECT 1 AS ok')).resolves.toMatchObject({ rows: [{ ok: 1 }] });
      } finally {
        events.stop();
      }
    },
  );

  it('a full pool times out a nested acquire with AcquireTimeoutError', async () => {
    const events = recordEvents();
    try {
      const db = provider({ name: 'db-full', max: 1 });
      const outer = await db.acquire();
      const nested = db.acquire({ timeoutMs: 200 });
      const rejected = nested.catch((e: unknown) => e);
      await until(() => db.stats().waiting > 0);
      expect(db.stats()).toMatchObject({ waiting: 1, idle: 0, inUse: 1 });

      const failure = await rejected;
      expect(AcquireTimeoutError.isInstance(failure)).toBe(true);
      expect((failure as Error).message).toContain('max 1');
      expect(db.stats().acquireTimeouts).toBe(1);
      expect(
        events.named('resource:acquire-timeout').filter((e) => e.provider === 'db-full'),
      ).toHaveLength(1);

      await outer.release();
      await expect(db.query('SELECT 1 AS ok')).resolves.toMatchObject({ rows: [{ ok: 1 }] });
      expect(db.stats()).toMatchObject({ inUse: 0, waiting: 0 });
    } finally {
      events.stop();
    }
  });

  it('an aborted acquire rejects at once; the late connection goes back idle', async () => {
    const db = provider({ max: 1 });
    const holder = await db.acquire();
    const controller = new AbortController();
    const waiting = db.acquire({ signal: controller.signal });
    await until(() => db.stats().waiting === 1);
    controller.abort();
    await expect(waiting).rejects.toSatisfy((e) => AbortedError.isInstance(e));

    await holder.release();
    await until(() => db.stats().idle === 1);
    expect(db.stats()).toMatchObject({ inUse: 0, waiting: 0, destroyed: 0, acquired: 1 });
    await expect(db.query('SELECT 1 AS ok')).resolves.toMatchObject({ rows: [{ ok: 1 }] });
  });

  it('a wrong port fails the first acquire with DbConnectError and its cause', async () => {
    const port = await unusedPort();
    const events = recordEvents();
    try {
      const db = createDbProvider({
        name: 'db-wrong-port',
        connectionString: `postgres://kg_user:hunter2-s3cret@127.0.0.1:${port}/orders`,
      });
      providers.push(db);
      const failure = await db.acquire().catch((e: unknown) => e);
      expect(DbConnectError.isInstance(failure)).toBe(true);
      const error = failure as DbConnectError;
      expect(error.message).toContain(`127.0.0.1:${port}/orders`);
      expect(error.message).toContain('ECONNREFUSED');
      expect((error.cause as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
      expect(error.host).toBe('127.0.0.1');
      expect(error.database).toBe('orders');
      expect(db.stats()).toMatchObject({ errors: 1, created: 0, size: 0, pending: 0 });

      const createErrors = events.named('resource:create-error');
      expect(createErrors.filter((e) => e.provider === 'db-wrong-port')).toHaveLength(1);
      // The password is nowhere: not in the message, the stack, the cause, events or describe().
      const everything = [
        error.message,
        String(error.stack),
        String(error.cause),
        JSON.stringify(events.seen),
        JSON.stringify(db.describe()),
        JSON.stringify(db.stats()),
      ].join('\n');
      expect(everything).not.toContain('hunter2-s3cret');
    } finally {
      events.stop();
    }
  });

  it('a server that never answers fails the connect after connectTimeoutMs', async () => {
    // Accepts and never answers; resume() lets the socket see the client hang up, so the
    // server can close afterwards.
    const silent = createServer((socket) => socket.resume());
    servers.push(silent);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as { port: number };
    const db = createDbProvider({
      connectionString: `postgres://kg_user:pw-never-shown@127.0.0.1:${port}/slow`,
      connectTimeoutMs: 100,
    });
    providers.push(db);
    const failure = await db.acquire().catch((e: unknown) => e);
    expect(DbConnectError.isInstance(failure)).toBe(true);
    expect((failure as Error).message).toContain('connectTimeoutMs');
    expect((failure as Error).message).not.toContain('pw-never-shown');
  });

  it.skipIf(skipWithoutRealServer('unknown database'))(
    'an unknown database fails the first acquire with DbConnectError naming it (3D000)',
    async () => {
      const db = provider({
        connectionString: target.url.replace(/\/[^/?]*(\?|$)/, '/kg_no_such_db$1'),
      });
      const failure = await db.acquire().catch((e: unknown) => e);
      expect(DbConnectError.isInstance(failure)).toBe(true);
      expect((failure as DbConnectError).sqlState).toBe('3D000');
      expect((failure as Error).message).toContain('kg_no_such_db');
    },
  );

  it('an unknown table fails with DbError 42P01 naming it; the connection is kept', async () => {
    const db = provider();
    const failure = await db.query('SELECT * FROM kg_missing_table_xyz').catch((e: unknown) => e);
    expect(DbError.isInstance(failure)).toBe(true);
    expect(DbConnectError.isInstance(failure)).toBe(false);
    const error = failure as DbError;
    expect(error.code).toBe('KG_DB');
    expect(error.sqlState).toBe('42P01');
    expect(error.table).toBe('kg_missing_table_xyz');
    expect(error.message).toContain('kg_missing_table_xyz');
    expect(db.stats()).toMatchObject({ destroyed: 0, idle: 1, errors: 0 });
  });
});
