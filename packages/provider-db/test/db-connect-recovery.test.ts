import { type Server, type Socket, connect, createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { AbortedError } from '@kaygraph/core';
import { DbConnectError, type DbProvider, createDbProvider } from '../src/index.js';
import { startTarget } from './pg-target.js';
import { unusedPort } from './ports.js';

// A server that is down when the run starts and comes back: acquires waiting out the backoff
// connect as soon as an attempt works. The "server" is a TCP relay on a fixed port in front of
// the real PostgreSQL (or the embedded one), closed while it is down.

const cleanups: (() => Promise<unknown>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Start relaying 127.0.0.1:port to the database. */
async function relay(port: number, to: URL): Promise<Server> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(Number(to.port || 5432), to.hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {});
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  cleanups.push(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  return server;
}

describe('a server that comes back', () => {
  it('serves the acquires waiting out the backoff once an attempt works', async () => {
    const target = await startTarget();
    cleanups.push(() => target.close());
    const url = new URL(target.url);
    const port = await unusedPort();
    const relayed = new URL(target.url);
    relayed.host = `127.0.0.1:${port}`;
    const db: DbProvider = createDbProvider({
      connectionString: relayed.toString(),
      max: 4,
      connectRetryMs: 200,
      connectRetryMaxMs: 200,
      acquireTimeoutMs: 10_000,
    });
    cleanups.push(() => db.destroy());

    const down = await db.acquire().catch((e: unknown) => e);
    expect(DbConnectError.isInstance(down)).toBe(true);
    // These wait for the next attempt instead of each making a connect that would fail.
    const waiting = Array.from({ length: 3 }, () => db.acquire());
    expect(db.stats()).toMatchObject({ waiting: 3, pending: 0 });
    await relay(port, url);

    const leases = await Promise.all(waiting);
    const { rows } = await leases[0]!.resource.query('SELECT 1 AS ok');

    expect(rows).toEqual([{ ok: 1 }]);
    expect(db.stats()).toMatchObject({ inUse: 3, errors: 1 });
    for (const lease of leases) await lease.release();
  });

  it('lets an acquire that gives up leave the line; the next one still gets its attempt', async () => {
    const port = await unusedPort();
    const db = createDbProvider({
      connectionString: `postgres://kg@127.0.0.1:${port}/orders`,
      connectRetryMs: 100,
      connectRetryMaxMs: 100,
    });
    cleanups.push(() => db.destroy());
    await db.acquire().catch(() => undefined);

    // The first in line gives up before its turn comes; the second still gets an attempt.
    const quitter = new AbortController();
    const first = db.acquire({ signal: quitter.signal }).catch((e: unknown) => e);
    const second = db.acquire().catch((e: unknown) => e);
    quitter.abort();

    expect(AbortedError.isInstance(await first)).toBe(true);
    expect(DbConnectError.isInstance(await second)).toBe(true);
    expect(db.stats().errors).toBe(2);
  });
});
