import { PoolClosedError } from '@kaygraph/core';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDbProvider, type DbProvider, type DbProviderOptions } from '../src/index.js';
import {
  delay,
  type PgTarget,
  skipWithoutRealServer,
  startTarget,
  testAppName,
  until,
} from './pg-target.js';
import { startProxy, type TcpProxy } from './tcp-proxy.js';

// close() while work is still on its way: a connect in flight, a statement still running.

const appName = testAppName('close-inflight');
// Starting embedded PostgreSQL (the fallback) can take many seconds on a busy machine.
const STARTUP_TIMEOUT_MS = 120_000;
let target: PgTarget;
let admin: pg.Client | undefined;
let proxy: TcpProxy | undefined;
const providers: DbProvider[] = [];

beforeAll(async () => {
  target = await startTarget();
  if (!target.real) return;
  admin = new pg.Client({ connectionString: target.url, application_name: `${appName}-admin` });
  await admin.connect();
}, STARTUP_TIMEOUT_MS);

afterEach(async () => {
  await Promise.all(providers.splice(0).map((p) => p.destroy()));
  await proxy?.close();
  proxy = undefined;
  await admin?.query(
    'SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE application_name = $1',
    [appName],
  );
});

afterAll(async () => {
  await admin?.end();
  await target.close();
});

function provider(url: string, options: DbProviderOptions = {}): DbProvider {
  const db = createDbProvider({ connectionString: url, applicationName: appName, ...options });
  providers.push(db);
  return db;
}

async function ourBackends(): Promise<number> {
  const { rowCount } = await (admin as pg.Client).query(
    'SELECT 1 FROM pg_stat_activity WHERE application_name = $1',
    [appName],
  );
  return rowCount ?? 0;
}

describe('close with work in flight', () => {
  it('fails the waiting acquire at once; waits for the connect in flight to close', async () => {
    proxy = await startProxy(target.url);
    const db = provider(proxy.url, { max: 1 });
    proxy.hold();
    const waiting = db.acquire().catch((e: unknown) => e);
    await until(() => db.stats().pending === 1 && (proxy as TcpProxy).held === 1);

    let closed = false;
    const closing = db.close().then(() => {
      closed = true;
    });
    expect(PoolClosedError.isInstance(await waiting)).toBe(true);
    await expect(db.acquire()).rejects.toSatisfy((e) => PoolClosedError.isInstance(e));
    await delay(50);
    expect(closed).toBe(false);

    proxy.pass();
    await closing;

    // The connection that arrived during close was closed, not lent and not left open.
    expect(db.stats()).toMatchObject({ size: 0, pending: 0, inUse: 0, acquired: 0 });
    expect(db.stats().created).toBe(db.stats().destroyed);
    expect(proxy.accepted).toBe(1);
  });

  it.skipIf(skipWithoutRealServer('close ends a running statement'))(
    'ends a statement still running when the close timeout destroys its lease',
    async () => {
      const db = provider(target.url, { max: 2 });
      const lease = await db.acquire();
      const statement = lease.resource.query('SELECT pg_sleep(600)').catch((e: unknown) => e);
      await db.query('SELECT 1');
      expect(await ourBackends()).toBe(2);

      await db.close({ timeoutMs: 50 });

      expect(lease.returned).toBe(true);
      expect(await statement).toBeInstanceOf(Error);
      expect(db.stats()).toMatchObject({ size: 0, inUse: 0, created: 2, destroyed: 2 });
      for (let tries = 0; tries < 200 && (await ourBackends()) > 0; tries++) await delay(50);
      expect(await ourBackends()).toBe(0);
    },
  );
});
