import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDbProvider, type DbProvider } from '../src/index.js';
import { delay, type PgTarget, recordEvents, startTarget, testAppName } from './pg-target.js';

// The idle timer of a connection and its checkout race all the time with a short idle timeout:
// a connection must never be closed while it is lent.

const appName = testAppName('idle-checkout');
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

describe('idle timeout at the moment of checkout', () => {
  it('never closes a lent connection', async () => {
    const events = recordEvents();
    try {
      db = createDbProvider({
        name: 'db-idle-race',
        connectionString: target.url,
        applicationName: appName,
        max: 2,
        idleTimeoutMs: 5,
      });
      const provider = db;
      const lent = new Set<number>();
      const closedWhileLent: number[] = [];
      const account = () => {
        for (const e of events.seen.splice(0)) {
          const payload = e.payload as { provider?: string; resourceId?: number };
          if (payload.provider !== 'db-idle-race' || payload.resourceId === undefined) continue;
          if (e.name === 'resource:acquire') lent.add(payload.resourceId);
          if (e.name === 'resource:release') lent.delete(payload.resourceId);
          if (e.name === 'resource:destroy' && lent.has(payload.resourceId)) {
            closedWhileLent.push(payload.resourceId);
          }
        }
      };

      const worker = async (seed: number) => {
        for (let i = 0; i < 40; i++) {
          const lease = await provider.acquire();
          account();
          await delay((i * 7 + seed) % 9);
          await lease.resource.query('SELECT 1');
          await lease.release();
          account();
          // Every few rounds, stay away long enough for the idle timeout to close it.
          await delay(i % 8 === 0 ? 25 : (i * 3 + seed) % 7);
        }
      };
      await Promise.all([worker(1), worker(4)]);
      account();

      expect(closedWhileLent).toEqual([]);
      const stats = provider.stats();
      expect(stats.destroyed).toBeGreaterThan(0);
      expect(stats).toMatchObject({ inUse: 0, acquired: 80, released: 80, errors: 0 });
    } finally {
      events.stop();
    }
  });
});
