import {
  ConfigInvalidError,
  type KayGraphEvents,
  LeaseReleasedError,
  LeaseRevokedError,
  PoolClosedError,
  subscribe,
} from '@kaygraph/core';
import { afterEach, describe, expect, it } from 'vitest';
import { type HttpProvider, createHttpProvider } from '../src/index.js';
import { type TestServer, startServer } from './support/test-server.js';

// A slot returned twice, used after its return, or still held when the provider shuts down:
// each ends in a typed error or a reported leak, and the counters stay true.

let server: TestServer;
let http: HttpProvider | undefined;
const stops: (() => void)[] = [];

afterEach(async () => {
  for (const stop of stops.splice(0)) stop();
  await http?.destroy();
  http = undefined;
  await server?.close();
});

async function setup() {
  server = await startServer((req, res) => {
    if (req.url === '/slow') setTimeout(() => res.end('slow done'), 200);
    else res.end('ok');
  });
  http = createHttpProvider({ origin: server.origin, connections: 1 });
  return http;
}

function leaks(provider: HttpProvider): KayGraphEvents['resource:leak'][] {
  const seen: KayGraphEvents['resource:leak'][] = [];
  stops.push(subscribe('resource:leak', (e) => e.provider === provider.name && seen.push(e)));
  return seen;
}

describe('returning a slot the wrong way', () => {
  it('a second release or destroy rejects, typed; counters unchanged', async () => {
    const provider = await setup();
    const lease = await provider.acquire();
    await lease.resource.request({ path: '/' });
    await lease.release();
    const before = provider.stats();

    const again = await lease.release().catch((e: unknown) => e);
    const destroyAfter = await lease.destroy(new Error('late')).catch((e: unknown) => e);
    const useAfter = await lease.resource.request({ path: '/' }).catch((e: unknown) => e);

    expect(LeaseReleasedError.isInstance(again)).toBe(true);
    expect(LeaseReleasedError.isInstance(destroyAfter)).toBe(true);
    expect(LeaseReleasedError.isInstance(useAfter)).toBe(true);
    expect(provider.stats()).toEqual(before);
  });

  it('destroy writes off a held slot at once; a late release rejects', async () => {
    const provider = await setup();
    const lease = await provider.acquire();

    await provider.destroy(new Error('shutting down'));

    expect(lease.returned).toBe(true);
    expect(provider.stats().inUse).toBe(0);
    const before = provider.stats();
    const late = await lease.release().catch((e: unknown) => e);
    expect(LeaseRevokedError.isInstance(late)).toBe(true);
    expect(provider.stats()).toEqual(before);
    await expect(lease.resource.request({ path: '/' })).rejects.toSatisfy(
      (e) => LeaseReleasedError.isInstance(e) || PoolClosedError.isInstance(e),
    );
  });

  it('close reports a slot still held at its timeout as a leak and writes it off', async () => {
    const provider = await setup();
    const reported = leaks(provider);
    const lease = await provider.acquire({ owner: { runId: 'r1', node: 'upload' } });

    await provider.close({ timeoutMs: 50 });

    expect(lease.returned).toBe(true);
    expect(reported).toEqual([expect.objectContaining({ owner: { runId: 'r1', node: 'upload' } })]);
    expect(provider.stats()).toMatchObject({ inUse: 0, leaks: 1 });
    const before = provider.stats();
    await expect(lease.release()).rejects.toSatisfy((e) => LeaseRevokedError.isInstance(e));
    expect(provider.stats()).toEqual(before);
  });

  it('a slot given bad request options rejects, typed, instead of throwing', async () => {
    const provider = await setup();
    const lease = await provider.acquire();

    let returned: Promise<unknown> | undefined;
    expect(() => {
      returned = lease.resource.request({ path: '/', method: 42 as unknown as 'GET' });
    }).not.toThrow();

    await expect(returned).rejects.toSatisfy((e) => ConfigInvalidError.isInstance(e));
    await lease.release();
    expect(provider.stats()).toMatchObject({ inUse: 0 });
  });

  it('a request in flight when destroy takes its slot fails with PoolClosedError', async () => {
    const provider = await setup();

    const inFlight = provider.request({ path: '/slow' }).catch((e: unknown) => e);
    while (server.seen.length === 0) await new Promise((resolve) => setImmediate(resolve));
    await provider.destroy();

    expect(PoolClosedError.isInstance(await inFlight)).toBe(true);
    expect(provider.stats()).toMatchObject({ inUse: 0, acquired: 1, released: 1 });
  });
});
