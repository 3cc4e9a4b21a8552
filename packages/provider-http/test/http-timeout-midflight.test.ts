import { AbortedError } from '@kaygraph/core';
import { afterEach, describe, expect, it } from 'vitest';
import { type HttpProvider, HttpTimeoutError, createHttpProvider } from '../src/index.js';
import { type TestServer, startServer } from './support/test-server.js';

// A request given up mid-flight leaves its socket mid-response: whatever the server sends next
// on it belongs to the abandoned request. The socket must be destroyed, never lent again.

let server: TestServer;
let http: HttpProvider | undefined;

afterEach(async () => {
  await http?.destroy();
  http = undefined;
  await server?.close();
});

async function setup() {
  server = await startServer((req, res) => {
    if (req.url === '/no-headers') return;
    if (req.url === '/stalled-body') {
      res.writeHead(200, { 'content-length': '1000' });
      res.write('the first part');
      return;
    }
    res.end(`answer to ${req.url}`);
  });
  http = createHttpProvider({
    origin: server.origin,
    connections: 1,
    headersTimeoutMs: 100,
    bodyTimeoutMs: 100,
    retry: { maxRetries: 0 },
  });
  return http;
}

/** The next request goes out on a socket that never carried the one given up. */
async function expectFreshSocket(provider: HttpProvider): Promise<void> {
  const res = await provider.request({ path: '/next' });
  expect(res.body.toString()).toBe('answer to /next');
  const next = server.seen.filter((s) => s.url === '/next').at(-1);
  expect(next?.socketRequests).toBe(0);
  const stats = provider.stats();
  expect(stats.created).toBe(2);
  expect(stats.destroyed).toBe(1);
  expect(stats).toMatchObject({ inUse: 0, size: 1 });
}

describe('a request given up mid-flight', () => {
  it('headers timeout: its socket is destroyed, the next request opens a new one', async () => {
    const provider = await setup();

    const error = await provider.request({ path: '/no-headers' }).catch((e: unknown) => e);

    expect(HttpTimeoutError.isInstance(error)).toBe(true);
    await expectFreshSocket(provider);
  });

  it('body timeout: its socket is destroyed, the next request opens a new one', async () => {
    const provider = await setup();

    const error = await provider.request({ path: '/stalled-body' }).catch((e: unknown) => e);

    expect((error as HttpTimeoutError).phase).toBe('body');
    await expectFreshSocket(provider);
  });

  it('aborted while the body arrives: its socket is destroyed, never reused', async () => {
    const provider = await setup();
    const controller = new AbortController();
    const request = provider.request({ path: '/stalled-body', signal: controller.signal });
    while (!server.seen.some((s) => s.url === '/stalled-body')) {
      await new Promise((resolve) => setImmediate(resolve));
    }

    controller.abort();

    expect(AbortedError.isInstance(await request.catch((e: unknown) => e))).toBe(true);
    await expectFreshSocket(provider);
  });

  it('in a leased slot: the slot goes on with a new socket', async () => {
    const provider = await setup();
    const lease = await provider.acquire();

    const error = await lease.resource.request({ path: '/no-headers' }).catch((e: unknown) => e);
    const res = await lease.resource.request({ path: '/in-slot' });
    await lease.release();

    expect(HttpTimeoutError.isInstance(error)).toBe(true);
    expect(res.statusCode).toBe(200);
    expect(server.seen.find((s) => s.url === '/in-slot')?.socketRequests).toBe(0);
    expect(provider.stats()).toMatchObject({ inUse: 0, created: 2, destroyed: 1 });
  });
});
