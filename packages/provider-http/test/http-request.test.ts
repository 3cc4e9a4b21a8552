import {
  AbortedError,
  AcquireTimeoutError,
  type KayGraphEvents,
  subscribe,
} from '@kaygraph/core';
import { getEventListeners } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { type HttpProvider, HttpStatusError, createHttpProvider } from '../src/index.js';
import { type TestServer, freePort, startServer } from './support/test-server.js';

let server: TestServer;
let http: HttpProvider | undefined;

afterEach(async () => {
  await http?.destroy();
  http = undefined;
  await server?.close();
});

async function serve() {
  server = await startServer((req, res, seen) => {
    if (req.url === '/missing') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('no such thing here');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ method: seen.method, url: seen.url, body: seen.body.toString() }));
  });
  http = createHttpProvider({ origin: server.origin, connections: 2 });
  return http;
}

describe('request', () => {
  it('leaves no listener on the signal it was given once it is done', async () => {
    const provider = await serve();
    const controller = new AbortController();

    await provider.request({ path: '/', signal: controller.signal });
    await provider.request({ path: '/missing', signal: controller.signal, throwOnStatus: false });

    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('returns status, headers and the whole body', async () => {
    const provider = await serve();

    const res = await provider.request({ method: 'POST', path: '/echo?x=1', body: 'hello' });

    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.attempts).toBe(1);
    expect(JSON.parse(res.body.toString())).toEqual({
      method: 'POST',
      url: '/echo?x=1',
      body: 'hello',
    });
  });

  it('defaults to GET and sends default and per-request headers', async () => {
    server = await startServer((_req, res) => res.end('ok'));
    http = createHttpProvider({ origin: server.origin, headers: { 'X-Team': 'a' } });

    await http.request({ path: '/', headers: { 'x-run': 'r1' } });

    expect(server.seen[0]?.method).toBe('GET');
    expect(server.seen[0]?.headers['x-team']).toBe('a');
    expect(server.seen[0]?.headers['x-run']).toBe('r1');
  });

  it('throws HttpStatusError with status, url and a body snippet', async () => {
    const provider = await serve();

    const error = await provider.request({ path: '/missing' }).catch((e: unknown) => e);

    expect(HttpStatusError.isInstance(error)).toBe(true);
    const status = error as HttpStatusError;
    expect(status.code).toBe('KG_HTTP_STATUS');
    expect(status.statusCode).toBe(404);
    expect(status.url).toBe(`${server.origin}/missing`);
    expect(status.method).toBe('GET');
    expect(status.bodySnippet).toBe('no such thing here');
  });

  it('returns error responses when throwOnStatus is false', async () => {
    const provider = await serve();

    const res = await provider.request({ path: '/missing', throwOnStatus: false });

    expect(res.statusCode).toBe(404);
    expect(res.body.toString()).toBe('no such thing here');
  });

  it('brings every counter back to zero after requests finish', async () => {
    const provider = await serve();

    await Promise.all(Array.from({ length: 10 }, (_, i) => provider.request({ path: `/${i}` })));
    await provider.request({ path: '/missing' }).catch(() => undefined);

    const stats = provider.stats();
    expect(stats.inUse).toBe(0);
    expect(stats.waiting).toBe(0);
    expect(stats.pool.running).toBe(0);
    expect(stats.pool.pending).toBe(0);
    expect(stats.acquired).toBe(11);
    expect(stats.released).toBe(11);
    expect(stats.created).toBeGreaterThanOrEqual(1);
    expect(stats.created).toBeLessThanOrEqual(2);
  });

  it('publishes acquire and release with the owner', async () => {
    const provider = await serve();
    const seen: KayGraphEvents['resource:acquire'][] = [];
    const stop = subscribe('resource:acquire', (e) => {
      if (e.provider === 'http') seen.push(e);
    });

    await provider.request({ path: '/', owner: { runId: 'r1', node: 'upload' } });
    stop();

    expect(seen).toHaveLength(1);
    expect(seen[0]?.owner).toEqual({ runId: 'r1', node: 'upload' });
  });
});

describe('acquire', () => {
  it('leases a slot whose requests need no further slot', async () => {
    const provider = await serve();

    const lease = await provider.acquire();
    const res = await lease.resource.request({ path: '/in-slot' });
    expect(provider.stats().inUse).toBe(1);
    await lease.release();

    expect(res.statusCode).toBe(200);
    expect(provider.stats().inUse).toBe(0);
    await expect(lease.resource.request({ path: '/' })).rejects.toMatchObject({
      code: 'KG_LEASE_RELEASED',
    });
  });

  it('queues callers FIFO once every slot is taken', async () => {
    server = await startServer((_req, res) => res.end('ok'));
    http = createHttpProvider({ origin: server.origin, connections: 1 });
    const holder = await http.acquire();
    const order: string[] = [];

    const first = http.request({ path: '/first' }).then(() => order.push('first'));
    const second = http.request({ path: '/second' }).then(() => order.push('second'));
    await new Promise((r) => setImmediate(r));
    expect(http.stats().waiting).toBe(2);
    await holder.release();
    await Promise.all([first, second]);

    expect(order).toEqual(['first', 'second']);
    expect(http.stats().waiting).toBe(0);
  });

  it('fails a wait with AcquireTimeoutError and counts it', async () => {
    server = await startServer((_req, res) => res.end('ok'));
    http = createHttpProvider({ origin: server.origin, connections: 1, acquireTimeoutMs: 50 });
    const holder = await http.acquire();

    const error = await http.request({ path: '/' }).catch((e: unknown) => e);
    await holder.release();

    expect(AcquireTimeoutError.isInstance(error)).toBe(true);
    expect(http.stats().acquireTimeouts).toBe(1);
    expect(http.stats().waiting).toBe(0);
  });

  it('leaves the queue when the signal aborts', async () => {
    server = await startServer((_req, res) => res.end('ok'));
    http = createHttpProvider({ origin: server.origin, connections: 1 });
    const holder = await http.acquire();
    const controller = new AbortController();

    const pending = http.request({ path: '/', signal: controller.signal });
    controller.abort();
    const error = await pending.catch((e: unknown) => e);
    await holder.release();

    expect(AbortedError.isInstance(error)).toBe(true);
    expect(http.stats().waiting).toBe(0);
    expect(server.seen).toHaveLength(0);
  });
});

describe('check', () => {
  it('reports a reachable server as healthy', async () => {
    const provider = await serve();

    const report = await provider.check();

    expect(report.ok).toBe(true);
    expect(server.seen[0]?.method).toBe('HEAD');
  });

  it('reports a server that is down without throwing', async () => {
    server = await startServer((_req, res) => res.end());
    http = createHttpProvider({ origin: `http://127.0.0.1:${await freePort()}` });

    const report = await http.check();

    expect(report.ok).toBe(false);
    expect(report.error).toContain('ECONNREFUSED');
    expect(http.stats().errors).toBeGreaterThanOrEqual(1);
  });
});

describe('leak detection', () => {
  it('reports a slot held past leakDetectionMs, and its return', async () => {
    server = await startServer((_req, res) => res.end('ok'));
    http = createHttpProvider({ origin: server.origin, leakDetectionMs: 20 });
    const events: string[] = [];
    const stops = [
      subscribe('resource:leak', (e) => events.push(`leak ${e.provider} ${Boolean(e.stack)}`)),
      subscribe('resource:leak-returned', (e) => events.push(`returned ${e.provider}`)),
    ];

    const lease = await http.acquire();
    await new Promise((r) => setTimeout(r, 100));
    await lease.release();
    for (const stop of stops) stop();

    expect(events).toEqual(['leak http true', 'returned http']);
    expect(http.stats().leaks).toBe(1);
  });
});
