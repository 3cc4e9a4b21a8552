import { AcquireTimeoutError } from '@kaygraph/core';
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

describe('after waiters timed out', () => {
  it('a later acquire gets the slot as soon as it is released', async () => {
    server = await startServer((_req, res) => res.end('ok'));
    http = createHttpProvider({ origin: server.origin, connections: 1, acquireTimeoutMs: 20 });
    const holder = await http.acquire();
    const gaveUp = await Promise.all(
      [1, 2, 3].map(() => (http as HttpProvider).request({ path: '/' }).catch((e: unknown) => e)),
    );
    expect(gaveUp.every((e) => AcquireTimeoutError.isInstance(e))).toBe(true);
    expect(http.stats()).toMatchObject({ acquireTimeouts: 3, waiting: 0 });

    const later = http.acquire({ timeoutMs: 600_000 });
    expect(http.stats().waiting).toBe(1);
    await holder.release();
    const lease = await later;

    expect(lease.resource.slot).toBe(holder.resource.slot);
    await expect(lease.resource.request({ path: '/' })).resolves.toMatchObject({ statusCode: 200 });
    expect(http.stats()).toMatchObject({ inUse: 1, waiting: 0 });
    await lease.release();
  });
});
