import { ResourcePool } from '@kaygraph/core';
import { describe, expect, it } from 'vitest';
import { recordEvents, testAppName, until, useProviders } from './pg-target.js';

const appName = testAppName('leak-detection');
const { provider } = useProviders(appName);

describe('a connection never given back', () => {
  it('is reported past leakDetectionMs with the borrower stack, again on return', async () => {
    const events = recordEvents();
    try {
      const db = provider({ name: 'db-leaky', leakDetectionMs: 50 });
      const lease = await db.acquire({ owner: { node: 'export' } });

      await until(() => db.stats().leaks === 1);
      const leaks = events.named('resource:leak').filter((e) => e.provider === 'db-leaky');
      expect(leaks).toHaveLength(1);
      expect(leaks[0]).toMatchObject({ leaseId: lease.id, owner: { node: 'export' } });
      expect(leaks[0]?.stack).toContain('db-leak-detection.test.ts');

      await lease.release();
      const returned = events
        .named('resource:leak-returned')
        .filter((e) => e.provider === 'db-leaky');
      expect(returned).toMatchObject([{ leaseId: lease.id }]);
      expect(db.stats()).toMatchObject({ leaks: 1, inUse: 0, idle: 1 });
    } finally {
      events.stop();
    }
  });

  it('carries the stack of a borrower who waited for a connection', async () => {
    const events = recordEvents();
    try {
      const db = provider({ name: 'db-leaky-waiter', max: 1, leakDetectionMs: 50 });
      const first = await db.acquire();
      // Neither function is async, so no async frame would name them after the wait.
      const waitForConnection = () => db.acquire();
      const giveConnectionBack = () => first.release();
      const waiting = waitForConnection();
      await new Promise((resolve) => setTimeout(resolve, 20));
      await giveConnectionBack();

      const lease = await waiting;
      await until(() => db.stats().leaks >= 1);

      const leak = events.named('resource:leak').find((e) => e.leaseId === lease.id);
      expect(leak?.stack).toContain('waitForConnection');
      expect(leak?.stack).not.toContain('giveConnectionBack');
      await lease.release();
    } finally {
      events.stop();
    }
  });

  it('is returned when its scope ends, and counted as a leak by the provider', async () => {
    const events = recordEvents();
    try {
      const db = provider({ name: 'db-scoped' });
      const scope = new ResourcePool().add(db).scope('export', { owner: { runId: 'run-1' } });
      const lease = await scope.acquire('db-scoped');

      await scope.close();

      expect(lease.returned).toBe(true);
      const leaks = events.named('resource:leak').filter((e) => e.provider === 'db-scoped');
      expect(leaks).toHaveLength(1);
      expect(leaks[0]?.stack).toContain('db-leak-detection.test.ts');
      expect(db.stats()).toMatchObject({ leaks: 1, inUse: 0, idle: 1, destroyed: 0 });
      await expect(db.query('SELECT 1 AS ok')).resolves.toMatchObject({ rows: [{ ok: 1 }] });
    } finally {
      events.stop();
    }
  });
});
