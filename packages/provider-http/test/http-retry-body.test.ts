import { randomBytes } from 'node:crypto';
import { type IncomingMessage, type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type HttpProvider,
  HttpRequestError,
  contentDigest,
  createHttpProvider,
} from '../src/index.js';

// A connection reset while the request body is still going out: the retry must send the whole
// body again, byte for byte, with the same digest and idempotency key.

interface Arrival {
  headers: IncomingMessage['headers'];
  body: Buffer;
}

let server: Server | undefined;
let http: HttpProvider | undefined;

afterEach(async () => {
  await http?.destroy();
  http = undefined;
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  server = undefined;
});

/** Cuts the connection of the first `resets` requests after their first body chunk. */
async function resettingServer(resets: number) {
  const arrivals: Arrival[] = [];
  let started = 0;
  server = createServer((req, res) => {
    started++;
    if (started <= resets) {
      req.once('data', () => req.socket.destroy());
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      arrivals.push({ headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(201).end('stored');
    });
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { origin: `http://127.0.0.1:${port}`, arrivals, started: () => started };
}

const body = new Uint8Array(randomBytes(4 * 1024 * 1024));
const digest = contentDigest(body);

describe('a request body cut off by a reset', () => {
  it('is sent again whole, with the same digest and key, on a PUT', async () => {
    const target = await resettingServer(1);
    http = createHttpProvider({ origin: target.origin, retry: { minDelayMs: 1, maxDelayMs: 5 } });

    const res = await http.request({
      method: 'PUT',
      path: '/chunks/7',
      body,
      idempotencyKey: 'chunk-7',
      headers: { 'content-digest': digest },
    });

    expect(res.statusCode).toBe(201);
    expect(res.attempts).toBe(2);
    expect(target.started()).toBe(2);
    expect(target.arrivals).toHaveLength(1);
    const [arrival] = target.arrivals;
    expect(Buffer.compare(arrival?.body ?? Buffer.alloc(0), Buffer.from(body))).toBe(0);
    expect(contentDigest(arrival?.body ?? '')).toBe(digest);
    expect(arrival?.headers['content-digest']).toBe(digest);
    expect(arrival?.headers['idempotency-key']).toBe('chunk-7');
  });

  it('is sent again whole on a POST with an idempotency key', async () => {
    const target = await resettingServer(2);
    http = createHttpProvider({ origin: target.origin, retry: { minDelayMs: 1, maxDelayMs: 5 } });

    const res = await http.request({ method: 'POST', path: '/rows', body, idempotencyKey: 'k-1' });

    expect(res.attempts).toBe(3);
    expect(Buffer.compare(target.arrivals[0]?.body ?? Buffer.alloc(0), Buffer.from(body))).toBe(0);
  });

  it('is not sent again on a POST without a key', async () => {
    const target = await resettingServer(1);
    http = createHttpProvider({ origin: target.origin, retry: { minDelayMs: 1, maxDelayMs: 5 } });

    const error = await http
      .request({ method: 'POST', path: '/rows', body })
      .catch((e: unknown) => e);

    expect(HttpRequestError.isInstance(error)).toBe(true);
    expect(target.started()).toBe(1);
    expect(http.stats().inUse).toBe(0);
  });
});
