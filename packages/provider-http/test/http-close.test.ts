import { PoolClosedError, subscribe } from '@kaygraph/core';
import { afterEach, describe, expect, it } from 'vitest';
import { type HttpProvider, createHttpProvider } from '../src/index.js';
import { type TestServer, startServer } from './support/test-server.js';

let server: TestServer;
let http: HttpProvider | undefined;

afterEach(async () => {
  await http?.destroy();
  http = undefined;
  await server?.close();
});

async function setup(connections = 2) {
  server = await startServer((req, res) => {
    if (req.url === '/slow') setTimeout(() => res.end('slow done'), 150);
    else res.end('ok');
  });
  http = createHttpProvider({ origin: server.origin, connections });
  return http;
}

function closeEvents() {
  const forced: boolean[] = [];
  const stop = subscribe('provider:close', (e) => forced.push(e.forced));
  return { forced, stop };
}

describe('close', () => {
  it('is idempotent and refuses requests afterwards with PoolClosedError', async () => {
    const provider = await setup();
    await provider.request({ path: '/' });
    const events = closeEvents();

    const first = provider.close();
    const second = provider.close();
    await Promise.all([first, second]);
    await provider.close();
    await provider.destroy();
    events.stop();

    expect(second).toBe(first);
    expect(provider.state).toBe('closed');
    expect(events.forced).toEqual([false]);
    const error = await provider.request({ path: '/' }).catch((e: unknown) => e);
    expect(PoolClosedError.isInstance(error)).toBe(true);
    await expect(provider.acquire()).rejects.toMatchObject({ code: 'KG_POOL_CLOSED' });
    expect(provider.stats().pool.connected).toBe(0);
  });

  it('lets in-flight requests finish and fails queued ones', async () => {
    const provider = await setup(1);

    const inFlight = provider.request({ path: '/slow' });
    const queued = provider.request({ path: '/' }).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 20));
    const closed = provider.close();

    expect((await inFlight).body.toString()).toBe('slow done');
    expect(PoolClosedError.isInstance(await queued)).toBe(true);
    await closed;
    expect(provider.stats().inUse).toBe(0);
  });

  it('stops waiting for a held lease at the timeout and forces the pool shut', async () => {
    const provider = await setup();
    const lease = await provider.acquire();
    const events = closeEvents();

    await provider.close({ timeoutMs: 50 });
    events.stop();

    expect(events.forced).toEqual([true]);
    // Written off by the close: nothing lent, and the holder's late release is refused.
    expect(provider.stats()).toMatchObject({ inUse: 0, leaks: 1 });
    await expect(lease.release()).rejects.toMatchObject({ code: 'KG_LEASE_REVOKED' });
  });
});

describe('destroy', () => {
  it('fails in-flight requests at once and is idempotent', async () => {
    const provider = await setup();

    const inFlight = provider.request({ path: '/slow' }).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 20));
    const first = provider.destroy(new Error('shutting down'));
    const second = provider.destroy();
    await first;

    expect(second).toBe(first);
    expect(PoolClosedError.isInstance(await inFlight)).toBe(true);
    expect(provider.state).toBe('closed');
    expect(provider.stats().inUse).toBe(0);
    await expect(provider.request({ path: '/' })).rejects.toMatchObject({ code: 'KG_POOL_CLOSED' });
  });
});

describe('destroy while a response body arrives', () => {
  it('fails the request with PoolClosedError and closes its socket', async () => {
    // No caller signal: the provider then hands undici none, and the pool's destroy must be
    // what ends the body read and the socket.
    let socketClosed = false;
    server = await startServer((req, res) => {
      req.socket.once('close', () => {
        socketClosed = true;
      });
      res.writeHead(200, { 'content-length': '1000' });
      res.write('the first part');
    });
    http = createHttpProvider({ origin: server.origin, connections: 1 });
    const provider = http;
    const request = provider.request({ path: '/stalled-body' }).catch((e: unknown) => e);
    while (server.seen.length === 0) await new Promise((resolve) => setImmediate(resolve));

    await provider.destroy(new Error('shutting down'));
    const error = await request;
    while (!socketClosed) await new Promise((resolve) => setImmediate(resolve));

    expect(PoolClosedError.isInstance(error)).toBe(true);
    expect((error as Error).message).toContain('was destroyed');
    expect(provider.stats()).toMatchObject({ inUse: 0, size: 0 });
  });
});

describe('destroy during a retry wait', () => {
  it('ends the wait at once with PoolClosedError', async () => {
    // A wait longer than the test timeout: only the destroy can end it in time.
    server = await startServer((_req, res) => res.writeHead(503, { 'retry-after': '60' }).end());
    http = createHttpProvider({ origin: server.origin, retry: { maxRetryAfterMs: 120_000 } });
    const provider = http;
    const stop = subscribe('provider:warning', () => void provider.destroy());

    const error = await provider.request({ path: '/' }).catch((e: unknown) => e);
    stop();

    expect(PoolClosedError.isInstance(error)).toBe(true);
    expect(server.seen).toHaveLength(1);
    expect(provider.stats().inUse).toBe(0);
  });
});
