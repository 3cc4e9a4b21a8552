import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { createDbProvider, DbConnectError, type DbProvider } from '../src/index.js';
import { unusedPort } from './ports.js';

// A server that is down: every acquire fails with the reason; connects are made only for
// acquires that ask (nothing retries in the background), they back off while they fail, and
// nothing piles up.

const providers: DbProvider[] = [];

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

afterEach(async () => {
  await Promise.all(providers.splice(0).map((p) => p.destroy()));
});

describe('a server that is down', () => {
  it('fails every acquire with DbConnectError, paced by the backoff, nothing left', async () => {
    const db = createDbProvider({
      connectionString: `postgres://kg@127.0.0.1:${await unusedPort()}/orders`,
      max: 5,
      connectRetryMs: 10,
      connectRetryMaxMs: 40,
    });
    providers.push(db);

    for (let round = 0; round < 10; round++) {
      const failures = await Promise.all(
        Array.from({ length: 20 }, () => db.acquire().catch((e: unknown) => e)),
      );
      expect(failures.every((e) => DbConnectError.isInstance(e))).toBe(true);
    }

    // 200 acquires: the 20 of the first round each connect (nothing had failed yet); after that,
    // one attempt per round, whose failure fails the whole round.
    const stats = db.stats();
    expect(stats.errors).toBeLessThanOrEqual(20 + 9);
    expect(stats).toMatchObject({ size: 0, pending: 0, waiting: 0, inUse: 0, created: 0 });
    const before = stats.errors;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(db.stats().errors).toBe(before);
    expect(db.stats().acquireTimeouts).toBe(0);
  });
});

describe('a server that stays down for 10 s while callers keep asking', () => {
  it('backs off its connects, tells every caller the cause, and keeps the heap flat', async () => {
    const db = createDbProvider({
      connectionString: `postgres://kg@127.0.0.1:${await unusedPort()}/orders`,
      max: 4,
    });
    providers.push(db);
    const soakMs = 10_000;
    const callers = 8;
    let acquires = 0;
    const unexpected: unknown[] = [];
    let heapEarly = 0;
    const endAt = Date.now() + soakMs;
    const caller = async () => {
      while (Date.now() < endAt) {
        acquires++;
        const failure = await db.acquire().then(
          (lease) => lease.release().then(() => new Error('connected to a closed port')),
          (error: unknown) => error,
        );
        const cause = (failure as Error).cause as NodeJS.ErrnoException | undefined;
        if (!(DbConnectError.isInstance(failure) && cause?.code === 'ECONNREFUSED')) {
          unexpected.push(failure);
        }
      }
    };
    const early = new Promise<void>((resolve) =>
      setTimeout(() => {
        heapEarly = heapAfterGc();
        resolve();
      }, 2_000),
    );

    await Promise.all([...Array.from({ length: callers }, caller), early]);
    const heapEnd = heapAfterGc();

    expect(unexpected).toEqual([]);
    // Backoff from 100 ms doubling: at most 9 attempts fit in 10 s, plus the first callers'
    // connects made before anything had failed. Without it: thousands (one per acquire).
    const connects = db.stats().errors;
    expect(connects).toBeLessThanOrEqual(callers + 9);
    // Each attempt's failure answers every caller waiting: callers are paced by it, no busy loop.
    expect(acquires).toBeLessThanOrEqual(callers * (connects + 1));
    expect(db.stats()).toMatchObject({ size: 0, pending: 0, waiting: 0, inUse: 0, created: 0 });
    expect(heapEnd - heapEarly).toBeLessThan(1024 * 1024);
  }, 30_000);
});
