import { randomBytes } from 'node:crypto';
import { AbortedError, subscribe } from '@kaygraph/core';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type HttpProvider,
  type HttpProviderOptions,
  HttpRequestError,
  HttpStatusError,
  contentDigest,
  createHttpProvider,
} from '../src/index.js';
import { type Handler, type TestServer, startServer } from './support/test-server.js';

let server: TestServer;
let http: HttpProvider | undefined;
let stopListening: (() => void) | undefined;

afterEach(async () => {
  stopListening?.();
  await http?.destroy();
  http = undefined;
  await server?.close();
});

const fast = { minDelayMs: 1, maxDelayMs: 5 };

async function setup(handler: Handler, options: Partial<HttpProviderOptions> = {}) {
  server = await startServer(handler);
  http = createHttpProvider({ origin: server.origin, connections: 1, retry: fast, ...options });
  return http;
}

function warnings(): string[] {
  const messages: string[] = [];
  stopListening = subscribe('provider:warning', (e) => messages.push(e.message));
  return messages;
}

/** Serves `/warm` normally; kills the socket of any other request that reuses a warm socket. */
const staleKeepAlive: Handler = (req, res, seen) => {
  if (req.url !== '/warm' && seen.socketRequests > 0) {
    req.socket.destroy();
    return;
  }
  res.end(`done ${seen.method}`);
};

describe('connection reset on a pooled keep-alive socket', () => {
  for (const [method, key] of [
    ['GET', undefined],
    ['PUT', undefined],
    ['DELETE', undefined],
    ['POST', 'key-1'],
  ] as const) {
    it(`retries ${method}${key ? ' with an idempotency key' : ''} on a fresh socket`, async () => {
      const provider = await setup(staleKeepAlive);
      await provider.request({ path: '/warm' });

      const res = await provider.request({
        method,
        path: '/work',
        body: method === 'GET' || method === 'DELETE' ? undefined : 'payload',
        ...(key ? { idempotencyKey: key } : {}),
      });

      expect(res.statusCode).toBe(200);
      expect(res.body.toString()).toBe(`done ${method}`);
      expect(res.attempts).toBe(2);
      const work = server.seen.filter((s) => s.url === '/work');
      expect(work).toHaveLength(2);
      if (key) expect(work.map((s) => s.headers['idempotency-key'])).toEqual([key, key]);
      expect(provider.stats().inUse).toBe(0);
    });
  }

  it('never retries a POST without an idempotency key', async () => {
    const provider = await setup(staleKeepAlive);
    await provider.request({ path: '/warm' });

    const error = await provider
      .request({ method: 'POST', path: '/work', body: 'once' })
      .catch((e: unknown) => e);

    expect(HttpRequestError.isInstance(error)).toBe(true);
    expect((error as HttpRequestError).code).toBe('KG_HTTP_REQUEST');
    expect((error as HttpRequestError).attempts).toBe(1);
    expect((error as HttpRequestError).cause).toBeInstanceOf(Error);
    expect(server.seen.filter((s) => s.url === '/work')).toHaveLength(1);
  });

  it('stops at maxRetries and throws the last error', async () => {
    const provider = await setup((req) => req.socket.destroy(), {
      retry: { ...fast, maxRetries: 2 },
    });

    const error = await provider.request({ path: '/always-broken' }).catch((e: unknown) => e);

    expect(HttpRequestError.isInstance(error)).toBe(true);
    expect((error as HttpRequestError).attempts).toBe(3);
    expect(server.seen).toHaveLength(3);
    expect(provider.stats().inUse).toBe(0);
  });
});

describe('retry on status', () => {
  it('resends the whole body with the same digest and key after a 503', async () => {
    const body = new Uint8Array(randomBytes(256 * 1024));
    const provider = await setup((_req, res) => {
      if (server.seen.length === 1) res.writeHead(503).end('busy');
      else res.writeHead(201).end('stored');
    });

    const res = await provider.request({
      method: 'PUT',
      path: '/chunks/1',
      body,
      idempotencyKey: 'chunk-1',
      headers: { 'content-digest': contentDigest(body) },
    });

    expect(res.statusCode).toBe(201);
    expect(server.seen).toHaveLength(2);
    for (const seen of server.seen) {
      expect(Buffer.compare(seen.body, Buffer.from(body))).toBe(0);
      expect(seen.headers['content-digest']).toBe(contentDigest(body));
      expect(seen.headers['idempotency-key']).toBe('chunk-1');
    }
    expect(contentDigest(server.seen[1]?.body ?? '')).toBe(contentDigest(body));
  });

  it('does not retry a 500', async () => {
    const provider = await setup((_req, res) => res.writeHead(500).end('broken'));

    const error = await provider.request({ path: '/' }).catch((e: unknown) => e);

    expect(HttpStatusError.isInstance(error)).toBe(true);
    expect((error as HttpStatusError).attempts).toBe(1);
    expect(server.seen).toHaveLength(1);
  });

  it('keeps the last status error when retries run out', async () => {
    const provider = await setup((_req, res) => {
      res.writeHead(server.seen.length < 3 ? 502 : 504).end(`answer ${server.seen.length}`);
    }, { retry: { ...fast, maxRetries: 2 } });

    const error = await provider.request({ path: '/' }).catch((e: unknown) => e);

    expect(HttpStatusError.isInstance(error)).toBe(true);
    expect((error as HttpStatusError).statusCode).toBe(504);
    expect((error as HttpStatusError).bodySnippet).toBe('answer 3');
    expect((error as HttpStatusError).attempts).toBe(3);
    expect(server.seen).toHaveLength(3);
  });

  it('returns the last response when throwOnStatus is false', async () => {
    const provider = await setup((_req, res) => res.writeHead(429).end('slow down'), {
      retry: { ...fast, maxRetries: 1 },
    });

    const res = await provider.request({ path: '/', throwOnStatus: false });

    expect(res.statusCode).toBe(429);
    expect(res.attempts).toBe(2);
  });
});

describe('Retry-After', () => {
  it('waits what the server asks instead of the backoff', async () => {
    const messages = warnings();
    const provider = await setup(
      (_req, res) => {
        if (server.seen.length === 1) res.writeHead(503, { 'retry-after': '1' }).end();
        else res.end('ok');
      },
      // A backoff this long would outlast the abort below; only Retry-After can finish in time.
      { retry: { minDelayMs: 60_000, maxDelayMs: 60_000, maxRetryAfterMs: 5_000 } },
    );

    const res = await provider.request({ path: '/', signal: AbortSignal.timeout(10_000) });

    expect(res.statusCode).toBe(200);
    expect(res.attempts).toBe(2);
    expect(messages.some((m) => m.includes('status 503') && m.includes('in 1000 ms'))).toBe(true);
  });

  it('accepts an HTTP date', async () => {
    const messages = warnings();
    const provider = await setup((_req, res) => {
      const past = new Date(Date.now() - 60_000).toUTCString();
      if (server.seen.length === 1) res.writeHead(429, { 'retry-after': past }).end();
      else res.end('ok');
    }, { retry: { minDelayMs: 60_000, maxDelayMs: 60_000 } });

    const res = await provider.request({ path: '/' });

    expect(res.statusCode).toBe(200);
    expect(messages.some((m) => m.includes('in 0 ms'))).toBe(true);
  });

  it('gives up at once when the server asks for more than the cap', async () => {
    const refuse: Handler = (_req, res) => res.writeHead(503, { 'retry-after': '120' }).end();
    const provider = await setup(refuse, { retry: { ...fast, maxRetryAfterMs: 1_000 } });

    const error = await provider.request({ path: '/' }).catch((e: unknown) => e);

    expect(HttpStatusError.isInstance(error)).toBe(true);
    expect((error as HttpStatusError).attempts).toBe(1);
    expect(server.seen).toHaveLength(1);
  });

  it('stops waiting when the signal aborts', async () => {
    const provider = await setup((_req, res) => res.writeHead(503, { 'retry-after': '20' }).end());
    const controller = new AbortController();
    const stop = subscribe('provider:warning', () => controller.abort());

    const error = await provider
      .request({ path: '/', signal: controller.signal })
      .catch((e: unknown) => e);
    stop();

    expect(AbortedError.isInstance(error)).toBe(true);
    expect(server.seen).toHaveLength(1);
    expect(provider.stats().inUse).toBe(0);
  });
});
