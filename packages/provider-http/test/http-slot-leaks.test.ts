import { type KayGraphEvents, ResourcePool, subscribe } from '@kaygraph/core';
import { afterEach, describe, expect, it } from 'vitest';
import { type HttpProvider, createHttpProvider } from '../src/index.js';
import { type TestServer, startServer } from './support/test-server.js';

let server: TestServer;
let http: HttpProvider | undefined;
const stops: (() => void)[] = [];

afterEach(async () => {
  for (const stop of stops.splice(0)) stop();
  await http?.destroy();
  http = undefined;
  await server?.close();
});

function leaks(): KayGraphEvents['resource:leak'][] {
  const seen: KayGraphEvents['resource:leak'][] = [];
  stops.push(subscribe('resource:leak', (e) => e.provider === 'api' && seen.push(e)));
  return seen;
}

describe('a slot never given back', () => {
  it('is reported past leakDetectionMs with the stack of the code that took it', async () => {
    server = await startServer((_req, res) => res.end('ok'));
    http = createHttpProvider({ name: 'api', origin: server.origin, leakDetectionMs: 20 });
    const reported = leaks();

    const lease = await http.acquire();
    while (reported.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    await lease.release();

    expect(reported[0]?.leaseId).toBe(lease.id);
    expect(reported[0]?.stack).toContain('http-slot-leaks.test.ts');
  });

  it('is returned when its scope ends, and counted as a leak by the provider', async () => {
    server = await startServer((_req, res) => res.end('ok'));
    http = createHttpProvider({ name: 'api', origin: server.origin, connections: 1 });
    const reported = leaks();
    const scope = new ResourcePool().add(http).scope('upload', { owner: { runId: 'r1' } });

    const lease = await scope.acquire('api');
    await scope.close();

    expect(lease.returned).toBe(true);
    expect(reported).toHaveLength(1);
    expect(reported[0]?.stack).toContain('http-slot-leaks.test.ts');
    expect(http.stats()).toMatchObject({ leaks: 1, inUse: 0 });
    await expect(http.request({ path: '/' })).resolves.toMatchObject({ statusCode: 200 });
  });
});
