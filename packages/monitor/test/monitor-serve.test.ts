import { afterEach, describe, expect, it } from 'vitest';
import { type Monitor, type MonitorServer, createMonitor } from '../src/index.js';
import { createTestProvider, sourceOf } from './fixtures/test-provider.js';

let monitor: Monitor | undefined;
let server: MonitorServer | undefined;

afterEach(async () => {
  await server?.close();
  await monitor?.close();
  server = undefined;
  monitor = undefined;
});

async function serveOne() {
  const db = createTestProvider({ name: 'db' });
  await db.open();
  monitor = createMonitor({ resources: sourceOf(db), healthIntervalMs: 0 });
  server = await monitor.serve();
  return { db, monitor, server };
}

describe('monitor serve', () => {
  it('serves /metrics as Prometheus text on a free loopback port', async () => {
    const { db, server } = await serveOne();
    const lease = await db.acquire();

    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const response = await fetch(`${server.url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await response.text();
    expect(text).toContain('# TYPE kaygraph_resources_in_use gauge');
    expect(text).toContain('kaygraph_resources_in_use{provider="db"} 1');
    await lease.release();
  });

  it('serves /snapshot as JSON and the table at /', async () => {
    const { server } = await serveOne();

    const snapshot = await fetch(`${server.url}/snapshot`);
    expect(snapshot.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await snapshot.json()).toMatchObject({
      providers: { db: { state: 'open' } },
    });
    expect(await (await fetch(`${server.url}/`)).text()).toMatch(/^db\s+test\s+open/m);
  });

  it('answers unknown paths with 404 and other methods with 405', async () => {
    const { server } = await serveOne();

    expect((await fetch(`${server.url}/nope`)).status).toBe(404);
    const post = await fetch(`${server.url}/metrics`, {
      method: 'POST',
      body: 'x',
    });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });

  it('stops listening on close(), and monitor.close() closes its servers', async () => {
    const { monitor, server } = await serveOne();
    const second = await monitor.serve();
    await fetch(`${second.url}/metrics`);

    await server.close();
    await expect(fetch(`${server.url}/metrics`)).rejects.toThrow();
    await monitor.close();
    await expect(fetch(`${second.url}/metrics`)).rejects.toThrow();
  });

  it('rejects bad options with ConfigInvalidError', async () => {
    monitor = createMonitor({ resources: sourceOf(), healthIntervalMs: 0 });
    await expect(monitor.serve({ port: 70_000 })).rejects.toMatchObject({
      code: 'KG_CONFIG_INVALID',
    });
    await expect(monitor.serve({ hots: 'x' } as never)).rejects.toMatchObject({
      code: 'KG_CONFIG_INVALID',
    });
  });
});
