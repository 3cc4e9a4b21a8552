import { Graph, type Lease, Node, type NodeContext, ResourcePool } from '@kaygraph/core';
import { afterEach, describe, expect, it } from 'vitest';
import { type Monitor, createMonitor } from '../src/index.js';
import { createTestProvider } from './fixtures/test-provider.js';

let monitor: Monitor | undefined;
let resources: ResourcePool | undefined;

afterEach(async () => {
  await monitor?.close();
  await resources?.close();
  monitor = undefined;
  resources = undefined;
});

class ReadNode extends Node {
  override async exec(_input: unknown, ctx: NodeContext) {
    for (let i = 0; i < 3; i++) {
      const lease = await ctx.acquire('db');
      await lease.release();
    }
  }
}

/** Forgets to return its lease: the node's scope must release it and report a leak. */
class ForgetfulNode extends Node {
  kept: Lease<unknown> | undefined;

  override async exec(_input: unknown, ctx: NodeContext) {
    this.kept = await ctx.acquire('files');
  }
}

describe('monitor watching a ResourcePool and a graph run', () => {
  it('accounts leases, leaks, node runs and the run from the real runtime', async () => {
    const db = createTestProvider({ name: 'db', kind: 'postgres' });
    const files = createTestProvider({ name: 'files', kind: 'file' });
    resources = new ResourcePool().add(db).add(files);
    monitor = createMonitor({ resources, healthIntervalMs: 0 });
    await resources.open();

    const read = new ReadNode({ name: 'read' });
    const forget = new ForgetfulNode({ name: 'forget' });
    read.next(forget);
    const result = await new Graph(read, { name: 'export' }).run({}, { resources });
    expect(result.status).toBe('ok');

    const snap = monitor.snapshot();
    expect(snap.providers.db).toMatchObject({
      kind: 'postgres',
      acquired: 3,
      released: 3,
      inUse: 0,
    });
    expect(snap.providers.files).toMatchObject({ acquired: 1, released: 1, leaks: 1, inUse: 0 });
    expect(snap.nodes.read).toMatchObject({ runs: 1, errors: 0, leases: 3, holdMs: { count: 3 } });
    expect(snap.nodes.forget).toMatchObject({ runs: 1, leases: 1 });
    expect(snap.runs).toEqual({ started: 1, ok: 1, failed: 0 });
  });

  it("counts a retried node's leases under it, its failed attempt's leak included", async () => {
    const db = createTestProvider({ name: 'db', kind: 'postgres', max: 1 });
    resources = new ResourcePool().add(db);
    monitor = createMonitor({ resources, healthIntervalMs: 0 });
    await resources.open();
    class FlakyRead extends Node {
      override async exec(_input: unknown, ctx: NodeContext) {
        const lease = await ctx.acquire('db');
        // The first attempt fails holding its lease; its scope destroys it before the retry.
        if (ctx.attempt === 1) throw new Error('transient failure');
        await lease.release();
      }
    }

    const result = await new Graph(new FlakyRead({ name: 'flaky', maxRetries: 1 })).run(
      {},
      { resources },
    );
    expect(result.status).toBe('ok');

    const snap = monitor.snapshot();
    expect(snap.providers.db).toMatchObject({ acquired: 2, released: 2, leaks: 1, inUse: 0 });
    expect(snap.nodes.flaky).toMatchObject({ runs: 1, errors: 0, leases: 2 });
    expect(snap.nodes.flaky?.holdMs.count).toBe(2);
  });
});
