import { AcquireTimeoutError } from '@kaygraph/core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDbProvider, type DbProvider, type DbProviderOptions } from '../src/index.js';
import { type PgTarget, startTarget, testAppName, until } from './pg-target.js';
import { startProxy, type TcpProxy } from './tcp-proxy.js';

// Connects that finish after their waiter gave up, and connects that never finish, made real by
// a proxy that holds new connections back before the server ever sees them.

const appName = testAppName('late-connect');
// Starting embedded PostgreSQL (the fallback) can take many seconds on a busy machine.
const STARTUP_TIMEOUT_MS = 120_000;
let target: PgTarget;
let proxy: TcpProxy;
const providers: DbProvider[] = [];

beforeAll(async () => {
  target = await startTarget();
}, STARTUP_TIMEOUT_MS);

afterEach(async () => {
  await Promise.all(providers.splice(0).map((p) => p.destroy()));
  await proxy?.close();
});

afterAll(async () => {
  await target.close();
});

async function provider(options: DbProviderOptions = {}): Promise<DbProvider> {
  proxy = await startProxy(target.url);
  const db = createDbProvider({
    connectionString: proxy.url,
    applicationName: appName,
    ...options,
  });
  providers.push(db);
  return db;
}

/** What the provider made and did not destroy must be exactly what it holds. */
function expectBooksBalance(db: DbProvider): void {
  const stats = db.stats();
  expect(stats.created - stats.destroyed).toBe(stats.size - stats.pending);
}

describe('a connect that finishes after its waiter gave up', () => {
  it('keeps the late connection idle and lends it next, without connecting again', async () => {
    const db = await provider({ max: 1 });
    proxy.hold();

    const failure = await db.acquire({ timeoutMs: 100 }).catch((e: unknown) => e);
    expect(AcquireTimeoutError.isInstance(failure)).toBe(true);
    expect(db.stats()).toMatchObject({ pending: 1, inUse: 0, created: 0 });

    proxy.pass();
    await until(() => db.stats().idle === 1);
    expect(db.stats()).toMatchObject({ created: 1, destroyed: 0, inUse: 0, pending: 0 });
    expectBooksBalance(db);

    await expect(db.query('SELECT 1 AS ok')).resolves.toMatchObject({ rows: [{ ok: 1 }] });
    expect(proxy.accepted).toBe(1);
    expect(db.stats()).toMatchObject({ created: 1, inUse: 0, idle: 1 });
  });

  it('hands the late connection to a waiter that came after the one that gave up', async () => {
    const db = await provider({ max: 1 });
    proxy.hold();

    const gaveUp = db.acquire({ timeoutMs: 100 }).catch((e: unknown) => e);
    const patient = db.acquire();
    expect(AcquireTimeoutError.isInstance(await gaveUp)).toBe(true);

    proxy.pass();
    const lease = await patient;
    await expect(lease.resource.query('SELECT 1 AS ok')).resolves.toMatchObject({
      rows: [{ ok: 1 }],
    });
    expect(db.stats()).toMatchObject({ created: 1, inUse: 1, waiting: 0 });
    expect(proxy.accepted).toBe(1);
    await lease.release();
    expectBooksBalance(db);
  });
});

describe('a connect that never settles', () => {
  it('fails the acquire at its deadline, and the pool is not left wedged', async () => {
    // The connect timeout is far away: only the acquire deadline can end the wait.
    const db = await provider({ max: 1, acquireTimeoutMs: 200, connectTimeoutMs: 600_000 });
    proxy.hold();

    const failure = await db.acquire().catch((e: unknown) => e);
    expect(AcquireTimeoutError.isInstance(failure)).toBe(true);
    expect(db.stats().acquireTimeouts).toBe(1);

    // The stuck connect is cut off behind the scenes, and the pool connects again.
    await until(() => db.stats().pending === 0);
    proxy.pass();
    await expect(db.query('SELECT 1 AS ok')).resolves.toMatchObject({ rows: [{ ok: 1 }] });
    expect(db.stats()).toMatchObject({ inUse: 0, pending: 0, waiting: 0, created: 1 });
    expect(db.stats().errors).toBeGreaterThanOrEqual(1);
    expectBooksBalance(db);
  });
});
