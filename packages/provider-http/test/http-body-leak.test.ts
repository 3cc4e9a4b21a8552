import { AbortedError } from '@kaygraph/core';
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

const big = Buffer.alloc(256 * 1024, 'x');

async function setup() {
  server = await startServer((req, res) => {
    if (req.url === '/stall') {
      // Headers and a first chunk, then nothing: the caller has to give up on the body.
      res.writeHead(200, { 'content-length': String(big.length * 2) });
      res.write(big);
      return;
    }
    const status = req.url === '/error' ? 500 : 200;
    res.writeHead(status, { 'content-length': String(big.length) }).end(big);
  });
  http = createHttpProvider({ origin: server.origin, connections: 1, retry: { maxRetries: 0 } });
  return http;
}

describe('response bodies', () => {
  it('never stall a one-socket pool when callers ignore the bodies', async () => {
    const provider = await setup();

    for (let i = 0; i < 40; i++) {
      await provider.request({ path: i % 2 ? '/error' : '/ok', throwOnStatus: false });
    }

    const stats = provider.stats();
    expect(server.seen).toHaveLength(40);
    expect(stats.inUse).toBe(0);
    expect(stats.pool.running).toBe(0);
    expect(stats.created).toBe(1);
  });

  it('are read in full even when the status is an error', async () => {
    const provider = await setup();

    await provider.request({ path: '/error' }).catch(() => undefined);
    const res = await provider.request({ path: '/ok' });

    expect(res.body.length).toBe(big.length);
    expect(provider.stats().created).toBe(1);
  });

  it('are destroyed on abort, and the one-socket pool serves the next request', async () => {
    const provider = await setup();
    const controller = new AbortController();
    const stalled = provider.request({ path: '/stall', signal: controller.signal });
    setTimeout(() => controller.abort(), 50);

    const error = await stalled.catch((e: unknown) => e);
    const next = await provider.request({ path: '/ok' });

    expect(AbortedError.isInstance(error)).toBe(true);
    expect(next.statusCode).toBe(200);
    expect(provider.stats().inUse).toBe(0);
    expect(provider.stats().pool.running).toBe(0);
  });
});
