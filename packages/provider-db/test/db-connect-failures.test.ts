import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createDbProvider, DbConnectError, type DbProvider } from '../src/index.js';

// A server that is down: every acquire fails with the reason, at once; connects are made only
// for acquires that ask (nothing retries in the background), and nothing piles up.

const providers: DbProvider[] = [];

afterEach(async () => {
  await Promise.all(providers.splice(0).map((p) => p.destroy()));
});

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('a server that is down', () => {
  it('fails every acquire with DbConnectError, one connect each, nothing left', async () => {
    const db = createDbProvider({
      connectionString: `postgres://kg@127.0.0.1:${await closedPort()}/orders`,
      max: 5,
    });
    providers.push(db);

    for (let round = 0; round < 10; round++) {
      const failures = await Promise.all(
        Array.from({ length: 20 }, () => db.acquire().catch((e: unknown) => e)),
      );
      expect(failures.every((e) => DbConnectError.isInstance(e))).toBe(true);
    }

    // 200 acquires, 200 connects at most: failures are not retried behind the callers' backs.
    const stats = db.stats();
    expect(stats.errors).toBeLessThanOrEqual(200);
    expect(stats).toMatchObject({ size: 0, pending: 0, waiting: 0, inUse: 0, created: 0 });
    const before = stats.errors;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(db.stats().errors).toBe(before);
    expect(db.stats().acquireTimeouts).toBe(0);
  });
});
