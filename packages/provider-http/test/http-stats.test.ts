import { afterEach, describe, expect, it } from 'vitest';
import { type HttpProvider, createHttpProvider } from '../src/index.js';
import { type TestServer, startServer } from './support/test-server.js';

let server: TestServer | undefined;
let http: HttpProvider | undefined;

afterEach(async () => {
  await http?.destroy();
  http = undefined;
  await server?.close();
  server = undefined;
});

async function usedOnce(): Promise<HttpProvider> {
  server = await startServer((_req, res) => res.end('ok'));
  http = createHttpProvider({ origin: server.origin, connections: 2 });
  await Promise.all([http.request({ path: '/a' }), http.request({ path: '/b' })]);
  return http;
}

describe('stats', () => {
  it('counts open sockets while open: size connected, idle the free ones among them', async () => {
    const provider = await usedOnce();

    const stats = provider.stats();

    expect(stats.size).toBeGreaterThan(0);
    expect(stats.idle).toBeLessThanOrEqual(stats.size);
    expect(stats.inUse).toBe(0);
  });

  it('shows every socket gone after close: size, idle and inUse are 0', async () => {
    const provider = await usedOnce();

    await provider.close();

    expect(provider.stats()).toMatchObject({ size: 0, inUse: 0, idle: 0, waiting: 0 });
    expect(provider.stats().pool).toMatchObject({ connected: 0, free: 0 });
  });

  it('shows every socket gone after destroy, a lent slot included', async () => {
    const provider = await usedOnce();
    await provider.acquire();

    await provider.destroy();

    expect(provider.stats()).toMatchObject({ size: 0, inUse: 0, idle: 0, waiting: 0 });
  });
});
