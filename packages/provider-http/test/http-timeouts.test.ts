import { afterEach, describe, expect, it } from 'vitest';
import { type HttpProvider, HttpTimeoutError, createHttpProvider } from '../src/index.js';
import { type TestServer, startServer } from './support/test-server.js';

let server: TestServer;
let http: HttpProvider | undefined;

afterEach(async () => {
  await http?.destroy();
  http = undefined;
  await server?.close();
});

async function setup() {
  server = await startServer((req, res) => {
    if (req.url === '/no-headers') return; // never answers
    if (req.url === '/slow-body') {
      res.writeHead(200, { 'content-length': '100' });
      res.write('only part of it');
      return;
    }
    res.end('ok');
  });
  http = createHttpProvider({
    origin: server.origin,
    connections: 1,
    headersTimeoutMs: 100,
    bodyTimeoutMs: 100,
  });
  return http;
}

describe('timeouts', () => {
  it('fail a request whose headers never come with HttpTimeoutError', async () => {
    const provider = await setup();

    const error = await provider.request({ path: '/no-headers' }).catch((e: unknown) => e);

    expect(HttpTimeoutError.isInstance(error)).toBe(true);
    expect((error as HttpTimeoutError).code).toBe('KG_HTTP_TIMEOUT');
    expect((error as HttpTimeoutError).phase).toBe('headers');
    expect((error as HttpTimeoutError).url).toBe(`${server.origin}/no-headers`);
  });

  it('fail a request whose body stalls with HttpTimeoutError', async () => {
    const provider = await setup();

    const error = await provider.request({ path: '/slow-body' }).catch((e: unknown) => e);

    expect(HttpTimeoutError.isInstance(error)).toBe(true);
    expect((error as HttpTimeoutError).phase).toBe('body');
  });

  it('leak no connection: the one socket serves the next request', async () => {
    const provider = await setup();

    await provider.request({ path: '/no-headers' }).catch(() => undefined);
    await provider.request({ path: '/slow-body' }).catch(() => undefined);
    const res = await provider.request({ path: '/ok' });

    expect(res.statusCode).toBe(200);
    const stats = provider.stats();
    expect(stats.inUse).toBe(0);
    expect(stats.pool.running).toBe(0);
    expect(stats.pool.connected).toBe(1);
  });
});
