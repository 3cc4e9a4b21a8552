import { Pool, ResourcePool } from '@kaygraph/core';
import { afterEach, describe, expect, it } from 'vitest';
import { type Monitor, createMonitor } from '../src/index.js';

let monitor: Monitor | undefined;
let resources: ResourcePool | undefined;

afterEach(async () => {
  await monitor?.close();
  await resources?.close();
  monitor = undefined;
  resources = undefined;
});

describe("monitor watching core's Pool", () => {
  it('shows its gauges, counters and timeouts', async () => {
    let next = 0;
    const pool = new Pool({
      name: 'buffers',
      kind: 'buffer',
      max: 2,
      create: () => ({ id: next++ }),
    });
    resources = new ResourcePool().add(pool);
    monitor = createMonitor({ resources, healthIntervalMs: 0 });
    await resources.open();

    const a = await pool.acquire({ owner: { node: 'fill' } });
    const b = await pool.acquire({ owner: { node: 'fill' } });
    await expect(pool.acquire({ timeoutMs: 10 })).rejects.toMatchObject({
      code: 'KG_ACQUIRE_TIMEOUT',
    });
    expect(monitor.snapshot().providers.buffers).toMatchObject({
      kind: 'buffer',
      state: 'open',
      size: 2,
      inUse: 2,
      idle: 0,
      created: 2,
      acquireTimeouts: 1,
    });

    await a.release();
    await b.destroy(new Error('broken'));
    const snap = monitor.snapshot();
    expect(snap.providers.buffers).toMatchObject({ inUse: 0, acquired: 2, released: 2 });
    expect(snap.providers.buffers?.holdMs.count).toBe(2);
    expect(snap.nodes.fill?.leases).toBe(2);
    expect(await monitor.prometheus()).toContain(
      'kaygraph_resources_acquire_timeouts_total{provider="buffers"} 1',
    );
  });

  it('counts failed creates as errors and reports health from check()', async () => {
    const pool = new Pool({
      name: 'flaky',
      max: 1,
      acquireTimeoutMs: 50,
      createRetryMs: 10,
      create: () => {
        throw new Error('cannot connect to postgres://app:hunter2@db/app');
      },
    });
    resources = new ResourcePool().add(pool);
    monitor = createMonitor({ resources, healthIntervalMs: 0 });
    await resources.open();

    await expect(pool.acquire()).rejects.toThrow();
    await monitor.checkHealth();
    const snap = monitor.snapshot();
    expect(snap.providers.flaky?.errors).toBeGreaterThanOrEqual(1);
    expect(snap.providers.flaky?.health.checks).toBe(1);
    expect(JSON.stringify(snap)).not.toContain('hunter2');
    expect(monitor.table()).not.toContain('hunter2');
  });
});
