import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LoopbackServer, startLoopbackServer } from './loopback-server.js';
import {
  installedPackages,
  makeConsumer,
  makeTempDir,
  packPackages,
  removeDir,
  runProgram,
} from './pack.js';

const packages = ['@kaygraph/core', '@kaygraph/provider-http', '@kaygraph/monitor'];

// The monitor with the one provider this project installed: it must not need any other.
const program = `
import { Graph, Node, ResourcePool } from '@kaygraph/core';
import { createHttpProvider } from '@kaygraph/provider-http';
import { createMonitor } from '@kaygraph/monitor';

class FetchOne extends Node {
  async exec(_input, ctx) {
    const http = ctx.resources.get('http');
    const res = await http.request({ path: '/items/1', signal: ctx.signal, owner: ctx.owner });
    return res.statusCode;
  }
}

const resources = new ResourcePool().add(createHttpProvider({ origin: process.env.ORIGIN }));
const monitor = createMonitor({ resources, healthIntervalMs: 0 });
await resources.open();

const graph = new Graph(new FetchOne({ name: 'fetch-one' }));
for (let i = 0; i < 3; i++) await graph.run({}, { resources });
await monitor.checkHealth();

const prometheus = await monitor.prometheus();
const snapshot = monitor.snapshot();
const table = monitor.table();
await monitor.close();
await resources.close();
console.log(JSON.stringify({ prometheus, snapshot, table }));
`;

describe('a project with @kaygraph/monitor and one provider (http)', () => {
  let tarballDir: string | undefined;
  let consumer: string | undefined;
  let server: LoopbackServer | undefined;

  beforeAll(async () => {
    tarballDir = makeTempDir('kaygraph-tarballs-');
    consumer = makeConsumer(packages, packPackages(packages, tarballDir));
    server = await startLoopbackServer();
  });

  afterAll(async () => {
    await server?.close();
    removeDir(consumer);
    removeDir(tarballDir);
  });

  it('gets prom-client and undici, and no other provider’s dependencies', () => {
    const installed = installedPackages(consumer!);
    expect(installed).toContain('prom-client');
    expect(installed).toContain('undici');
    for (const name of ['pg', 'nodemailer', 'lru-cache', '@kaygraph/provider-db']) {
      expect(installed, `${name} must not be installed`).not.toContain(name);
    }
  });

  it('prints Prometheus text and a snapshot for the provider, then exits on its own', async () => {
    const run = await runProgram(consumer!, 'main.mjs', program, { ORIGIN: server!.origin });

    expect(run.signal, `the program did not exit by itself\n${run.stderr}`).toBeNull();
    expect(run.code, run.stderr).toBe(0);
    const { prometheus, snapshot, table } = JSON.parse(run.stdout);
    expect(prometheus).toMatch(/^kaygraph_resources_in_use\{provider="http"\} 0$/m);
    expect(prometheus).toMatch(/^kaygraph_provider_up\{provider="http"\} 1$/m);
    expect(Object.keys(snapshot.providers)).toEqual(['http']);
    // Three runs plus the health check's HEAD request, each through one slot lease.
    expect(snapshot.providers.http.acquired).toBe(4);
    expect(snapshot.providers.http.released).toBe(4);
    expect(snapshot.providers.http.inUse).toBe(0);
    expect(snapshot.providers.http.health.ok).toBe(true);
    expect(snapshot.nodes['fetch-one'].leases).toBe(3);
    expect(snapshot.runs).toEqual({ started: 3, ok: 3, failed: 0 });
    expect(table).toContain('http');
  });
});
