import { existsSync } from 'node:fs';
import { join } from 'node:path';
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

// What a user writes after `npm i @kaygraph/core @kaygraph/provider-http`: a graph whose batch
// node fetches items through the provider's pooled connections, then a clean shutdown. No
// process.exit: the process has to end by itself once everything is closed.
const program = `
import { Graph, ParallelBatchNode, ResourcePool } from '@kaygraph/core';
import { HttpStatusError, createHttpProvider } from '@kaygraph/provider-http';

class FetchItems extends ParallelBatchNode {
  prep(ctx) {
    return ctx.shared.paths;
  }
  async exec(path, ctx) {
    const http = ctx.resources.get('http');
    const res = await http.request({ method: 'GET', path, signal: ctx.signal, owner: ctx.owner });
    return res.body.toString();
  }
  post(ctx, _paths, bodies) {
    ctx.shared.bodies = bodies;
  }
}

const http = createHttpProvider({ origin: process.env.ORIGIN, connections: 2 });
const resources = new ResourcePool().add(http);
await resources.open();

const shared = { paths: Array.from({ length: 20 }, (_, i) => '/items/' + i) };
const result = await new Graph(new FetchItems({ concurrency: 6 })).run(shared, {
  resources,
  timeoutMs: 30_000,
});

let missing;
try {
  await http.request({ method: 'GET', path: '/missing' });
} catch (error) {
  missing = { code: error.code, isStatusError: HttpStatusError.isInstance(error) };
}

const health = await http.check();
const stats = http.stats();
await resources.close();
console.log(JSON.stringify({ status: result.status, bodies: shared.bodies, missing, health, stats }));
`;

describe('a project that installs only @kaygraph/core and @kaygraph/provider-http', () => {
  let tarballDir: string | undefined;
  let consumer: string | undefined;
  let server: LoopbackServer | undefined;

  beforeAll(async () => {
    tarballDir = makeTempDir('kaygraph-tarballs-');
    const tarballs = packPackages(['@kaygraph/core', '@kaygraph/provider-http'], tarballDir);
    consumer = makeConsumer(['@kaygraph/core', '@kaygraph/provider-http'], tarballs);
    server = await startLoopbackServer();
  });

  afterAll(async () => {
    await server?.close();
    removeDir(consumer);
    removeDir(tarballDir);
  });

  it('gets undici and none of the other providers’ dependencies', () => {
    const installed = installedPackages(consumer!);
    expect(installed).toContain('@kaygraph/core');
    expect(installed).toContain('@kaygraph/provider-http');
    expect(installed).toContain('undici');
    for (const name of ['pg', 'pg-cursor', 'nodemailer', 'lru-cache', 'prom-client']) {
      expect(installed, `${name} must not be installed`).not.toContain(name);
      expect(existsSync(join(consumer!, 'node_modules', name))).toBe(false);
    }
  });

  it('makes pooled requests to a loopback server and exits on its own', async () => {
    const run = await runProgram(consumer!, 'main.mjs', program, { ORIGIN: server!.origin });

    expect(run.signal, `the program did not exit by itself\n${run.stderr}`).toBeNull();
    expect(run.code, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout);
    expect(out.status).toBe('ok');
    expect(out.bodies).toEqual(Array.from({ length: 20 }, (_, i) => `item ${i}`));
    expect(out.missing).toEqual({ code: 'KG_HTTP_STATUS', isStatusError: true });
    expect(out.health.ok).toBe(true);
    expect(out.stats.inUse).toBe(0);
    expect(out.stats.acquired).toBe(out.stats.released);
    // 20 items, 6 at a time, over a pool of 2 connections: the sockets were reused.
    expect(server!.requests).toBeGreaterThanOrEqual(22);
    expect(server!.sockets).toBeLessThanOrEqual(2);
  });
});
