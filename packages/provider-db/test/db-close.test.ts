import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { AcquireTimeoutError, LeaseRevokedError, PoolClosedError } from '@kaygraph/core';
import { describe, expect, it } from 'vitest';
import { recordEvents, testAppName, until, useProviders } from './pg-target.js';

const appName = testAppName('close');
const { provider, url } = useProviders(appName);

describe('close and destroy', () => {
  it('close waits for outstanding leases, refusing new acquires meanwhile', async () => {
    const db = provider({ max: 2 });
    const lease = await db.acquire();
    await lease.resource.query('SELECT 1');
    let closed = false;
    const closing = db.close().then(() => {
      closed = true;
    });
    expect(db.state).toBe('closing');
    await expect(db.acquire()).rejects.toSatisfy((e) => PoolClosedError.isInstance(e));
    await expect(db.query('SELECT 1')).rejects.toSatisfy((e) => PoolClosedError.isInstance(e));
    // The holder can still use what it borrowed.
    await expect(lease.resource.query('SELECT 2 AS two')).resolves.toMatchObject({
      rows: [{ two: 2 }],
    });
    expect(closed).toBe(false);

    await lease.release();
    await closing;
    expect(db.state).toBe('closed');
    expect(db.stats()).toMatchObject({ size: 0, idle: 0, inUse: 0, created: 1, destroyed: 1 });
  });

  it('close fails waiting acquires at once with PoolClosedError', async () => {
    const db = provider({ max: 1 });
    const holder = await db.acquire();
    const waiting = db.acquire().catch((e: unknown) => e);
    await until(() => db.stats().waiting === 1);
    const closing = db.close();
    const failure = await waiting;
    expect(PoolClosedError.isInstance(failure)).toBe(true);
    expect(AcquireTimeoutError.isInstance(failure)).toBe(false);
    await holder.release();
    await closing;
    expect(db.stats()).toMatchObject({ size: 0, waiting: 0, acquired: 1 });
  });

  it('close destroys leases still out when its timeout passes', async () => {
    const events = recordEvents();
    try {
      const db = provider({ name: 'db-close-timeout' });
      const lease = await db.acquire();
      await db.close({ timeoutMs: 50 });
      expect(db.state).toBe('closed');
      expect(lease.returned).toBe(true);
      await expect(lease.release()).rejects.toSatisfy((e) => LeaseRevokedError.isInstance(e));
      expect(db.stats()).toMatchObject({ size: 0, destroyed: 1, released: 1, leaks: 1 });
      const leaks = events.named('resource:leak').filter((e) => e.provider === 'db-close-timeout');
      expect(leaks).toMatchObject([{ leaseId: lease.id }]);
      const warnings = events
        .named('provider:warning')
        .filter((e) => e.provider === 'db-close-timeout');
      expect(warnings[0]?.message).toContain('close timed out');
    } finally {
      events.stop();
    }
  });

  it('close and destroy are idempotent in any order', async () => {
    const db = provider();
    await db.query('SELECT 1');
    const first = db.close();
    const second = db.close();
    expect(second).toBe(first);
    await Promise.all([first, second, db.destroy(), db.destroy()]);
    await db.close();
    expect(db.state).toBe('closed');
    await expect(db.acquire()).rejects.toSatisfy((e) => PoolClosedError.isInstance(e));
    await expect(db.open()).rejects.toSatisfy((e) => PoolClosedError.isInstance(e));
  });

  it('destroy returns outstanding leases with an error, so their connections close', async () => {
    const events = recordEvents();
    try {
      const db = provider({ name: 'db-destroy' });
      const leases = await Promise.all([db.acquire(), db.acquire()]);
      await db.destroy(new Error('shutting down hard'));
      expect(leases.every((l) => l.returned)).toBe(true);
      expect(db.stats()).toMatchObject({ size: 0, inUse: 0, destroyed: 2 });
      const close = events.named('provider:close').filter((e) => e.provider === 'db-destroy');
      expect(close).toEqual([expect.objectContaining({ forced: true })]);
      const reasons = events.named('resource:destroy').filter((e) => e.provider === 'db-destroy');
      expect(reasons.every((e) => e.reason.includes('shutting down hard'))).toBe(true);
      await expect(db.acquire()).rejects.toSatisfy((e) => PoolClosedError.isInstance(e));
    } finally {
      events.stop();
    }
  });

  it('destroy cuts a graceful close short', async () => {
    const db = provider();
    const lease = await db.acquire();
    const closing = db.close({ timeoutMs: 60_000 });
    await db.destroy();
    await closing;
    expect(lease.returned).toBe(true);
    expect(db.state).toBe('closed');
  });

  it('a process that closed its provider exits on its own', async () => {
    const child = fork(fileURLToPath(new URL('./fixtures/close-child.mjs', import.meta.url)), {
      env: { ...process.env, CHILD_PG_URL: url(), CHILD_APP_NAME: `${appName}-child` },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let report: { stats: Record<string, number>; state: string } | undefined;
    child.on('message', (message) => {
      report = message as typeof report;
    });
    // If close() left a socket or timer alive the child would hang; the guard turns that into a
    // failure (signal SIGKILL) instead of a stuck test run.
    const guard = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
      child.on('exit', (c, s) => resolve([c, s])),
    );
    clearTimeout(guard);
    expect(signal).toBeNull();
    expect(code).toBe(0);
    expect(report?.state).toBe('closed');
    expect(report?.stats).toMatchObject({ size: 0, inUse: 0, idle: 0 });
    expect(report?.stats.destroyed).toBe(report?.stats.created);
  });
});
