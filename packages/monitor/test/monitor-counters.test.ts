import { publish } from '@kaygraph/core';
import { afterEach, describe, expect, it } from 'vitest';
import { type Monitor, createMonitor } from '../src/index.js';
import { Percentiles } from '../src/percentiles.js';
import { createTestProvider, sourceOf } from './fixtures/test-provider.js';

let monitor: Monitor | undefined;

afterEach(async () => {
  await monitor?.close();
  monitor = undefined;
});

function acquireEvent(provider: string, waitMs: number, node?: string) {
  publish('resource:acquire', {
    provider,
    time: Date.now(),
    leaseId: 1,
    resourceId: 1,
    waitMs,
    ...(node ? { owner: { node } } : {}),
  });
}

function releaseEvent(provider: string, heldMs: number, node?: string) {
  publish('resource:release', {
    provider,
    time: Date.now(),
    leaseId: 1,
    resourceId: 1,
    heldMs,
    ...(node ? { owner: { node } } : {}),
  });
}

describe('monitor counters', () => {
  it('counts creates, leases, timeouts and leaks of a provider without counters', async () => {
    const db = createTestProvider({ name: 'db', max: 1, ownCounters: false });
    monitor = createMonitor({ resources: sourceOf(db), healthIntervalMs: 0 });
    await db.open();

    const owner = { runId: 'r1', node: 'reader' };
    const first = await db.acquire({ owner });
    await expect(db.acquire({ timeoutMs: 5 })).rejects.toMatchObject({
      code: 'KG_ACQUIRE_TIMEOUT',
    });
    db.ledger.reportLeak(first);
    await first.release();
    const second = await db.acquire({ owner });
    await second.destroy('broken');

    const p = monitor.snapshot().providers.db;
    expect(p).toMatchObject({
      created: 1,
      destroyed: 1,
      acquired: 2,
      released: 2,
      acquireTimeouts: 1,
      leaks: 1,
      leaksReturned: 1,
    });
    expect(p?.acquireWaitMs.count).toBe(2);
    expect(p?.holdMs.count).toBe(2);
  });

  it('accounts leases and hold time to the node named in the lease owner', async () => {
    const db = createTestProvider({ name: 'db', max: 2 });
    monitor = createMonitor({ resources: sourceOf(db), healthIntervalMs: 0 });
    await db.open();

    for (const node of ['reader', 'reader', 'writer']) {
      const lease = await db.acquire({ owner: { runId: 'r1', node } });
      await lease.release();
    }
    const anonymous = await db.acquire();
    await anonymous.release();
    releaseEvent('db', 40, 'writer');

    const { nodes } = monitor.snapshot();
    expect(Object.keys(nodes).sort()).toEqual(['reader', 'writer']);
    expect(nodes.reader).toMatchObject({ leases: 2, holdMs: { count: 2 } });
    expect(nodes.writer?.leases).toBe(1);
    expect(nodes.writer?.holdMs.count).toBe(2);
    expect(nodes.writer?.holdMs.total).toBeGreaterThanOrEqual(40);
    expect(nodes.writer?.holdMs.max).toBeGreaterThanOrEqual(40);
  });

  it('computes wait and hold percentiles from the events', () => {
    monitor = createMonitor({
      resources: sourceOf(createTestProvider({ name: 'db' })),
      healthIntervalMs: 0,
    });
    for (let ms = 1; ms <= 100; ms++) acquireEvent('db', ms);
    for (let ms = 1; ms <= 100; ms++) releaseEvent('db', ms * 10);

    const p = monitor.snapshot().providers.db;
    expect(p?.acquireWaitMs).toEqual({
      count: 100,
      total: 5050,
      max: 100,
      p50: 50,
      p95: 95,
      p99: 99,
    });
    expect(p?.holdMs).toMatchObject({
      count: 100,
      max: 1000,
      p50: 500,
      p95: 950,
      p99: 990,
    });
  });

  it('counts node runs and errors and graph runs from node and run events', () => {
    monitor = createMonitor({ resources: sourceOf(), healthIntervalMs: 0 });
    const time = Date.now();
    for (const runId of ['a', 'b', 'c']) {
      publish('run:start', { runId, graph: 'export', time });
      publish('node:start', { runId, node: 'reader', time });
    }
    publish('node:error', {
      runId: 'c',
      node: 'reader',
      time,
      durationMs: 1,
      error: { name: 'Error', message: 'boom' },
    });
    publish('run:end', {
      runId: 'a',
      graph: 'export',
      time,
      durationMs: 2,
      status: 'ok',
    });
    publish('run:end', {
      runId: 'b',
      graph: 'export',
      time,
      durationMs: 2,
      status: 'timeout',
    });
    publish('run:end', {
      runId: 'c',
      graph: 'export',
      time,
      durationMs: 2,
      status: 'error',
    });

    const snap = monitor.snapshot();
    expect(snap.nodes.reader).toMatchObject({ runs: 3, errors: 1, leases: 0 });
    expect(snap.runs).toEqual({ started: 3, ok: 1, failed: 2 });
  });

  it('prefers the counters a provider reports, events filling what it missed', async () => {
    const db = createTestProvider({ name: 'db', max: 2 });
    await db.open();
    // Taken before the monitor exists: only the provider's own counters know about it.
    const before = await db.acquire();
    await before.release();

    monitor = createMonitor({ resources: sourceOf(db), healthIntervalMs: 0 });
    const after = await db.acquire();
    await after.release();

    // A leak the provider did not count itself (a scope published it) still counts.
    publish('resource:leak', {
      provider: 'db',
      time: Date.now(),
      leaseId: 9,
      resourceId: 1,
      heldMs: 5,
    });

    const p = monitor.snapshot().providers.db;
    expect(p).toMatchObject({ created: 1, acquired: 2, released: 2, leaks: 1 });
    expect(p?.acquireWaitMs.count).toBe(1);
  });

  it('ignores events of providers it does not watch and malformed payloads', () => {
    monitor = createMonitor({
      resources: sourceOf(createTestProvider({ name: 'db' })),
      healthIntervalMs: 0,
    });
    acquireEvent('elsewhere', 5);
    publish('resource:acquire', { provider: 'db', waitMs: 'soon' } as never);
    publish('resource:release', {
      provider: 'db',
      heldMs: Number.NaN,
    } as never);
    publish('resource:leak', null as never);

    const snap = monitor.snapshot();
    expect(Object.keys(snap.providers)).toEqual(['db']);
    expect(snap.providers.db?.acquireWaitMs).toMatchObject({
      count: 1,
      total: 0,
      p99: 0,
    });
    // A release with no hold time counts as returned but stays out of the hold figures.
    expect(snap.providers.db?.released).toBe(1);
    expect(snap.providers.db?.holdMs).toMatchObject({ count: 0, total: 0 });
    const durations = [snap.providers.db?.acquireWaitMs, snap.providers.db?.holdMs];
    expect(durations.flatMap((d) => Object.values(d ?? {})).every(Number.isFinite)).toBe(true);
  });
});

describe('Percentiles', () => {
  it('keeps memory fixed: percentiles cover the last window, totals everything', () => {
    const window = new Percentiles(100);
    for (let ms = 1; ms <= 10_000; ms++) window.record(ms);
    expect(window.summary()).toEqual({
      count: 10_000,
      total: 50_005_000,
      max: 10_000,
      p50: 9950,
      p95: 9995,
      p99: 9999,
    });
  });

  it('reports zeros before the first sample', () => {
    expect(new Percentiles(10).summary()).toEqual({
      count: 0,
      total: 0,
      max: 0,
      p50: 0,
      p95: 0,
      p99: 0,
    });
  });
});
