import type { Lease } from '@kaygraph/core';
import { afterEach, describe, expect, it } from 'vitest';
import { type Monitor, TABLE_WIDTH, createMonitor } from '../src/index.js';
import { type TestResource, createTestProvider, sourceOf } from './fixtures/test-provider.js';

let monitor: Monitor | undefined;
const held: Lease<TestResource>[] = [];

afterEach(async () => {
  for (const lease of held.splice(0)) if (!lease.returned) await lease.release();
  await monitor?.close();
  monitor = undefined;
});

describe('monitor snapshot', () => {
  it('has the documented shape and survives a JSON round trip', async () => {
    const db = createTestProvider({ name: 'db', kind: 'postgres' });
    monitor = createMonitor({ resources: sourceOf(db), healthIntervalMs: 0 });
    await db.open();
    const lease = await db.acquire({ owner: { node: 'reader' } });
    await lease.release();

    const snap = monitor.snapshot();
    expect(typeof snap.time).toBe('number');
    expect(Object.keys(snap).sort()).toEqual(['nodes', 'providers', 'runs', 'time']);
    expect(snap.providers.db).toMatchObject({
      kind: 'postgres',
      state: 'open',
    });
    const summary = {
      p50: expect.any(Number),
      p95: expect.any(Number),
      p99: expect.any(Number),
    };
    expect(snap.providers.db?.acquireWaitMs).toMatchObject({
      ...summary,
      max: expect.any(Number),
      count: 1,
    });
    expect(snap.providers.db?.health).toMatchObject({ ok: null, checks: 0 });
    for (const key of ['size', 'inUse', 'idle', 'waiting', 'pending', 'created', 'destroyed']) {
      expect(snap.providers.db).toHaveProperty(key);
    }
    for (const key of ['errors', 'acquireTimeouts', 'leaks', 'holdMs', 'config', 'warnings']) {
      expect(snap.providers.db).toHaveProperty(key);
    }
    expect(snap.nodes.reader).toMatchObject({
      runs: 0,
      errors: 0,
      leases: 1,
      holdMs: { count: 1 },
    });
    expect(JSON.parse(JSON.stringify(snap))).toEqual(snap);
  });

  it('reads size, inUse, idle and waiting from stats() at snapshot time', async () => {
    const db = createTestProvider({ name: 'db', max: 2 });
    monitor = createMonitor({ resources: sourceOf(db), healthIntervalMs: 0 });
    await db.open();

    held.push(await db.acquire(), await db.acquire());
    const waiting = db.acquire({ timeoutMs: 10_000 });
    expect(monitor.snapshot().providers.db).toMatchObject({
      size: 2,
      inUse: 2,
      idle: 0,
      waiting: 1,
    });

    await held[0]?.release();
    held.push(await waiting);
    expect(monitor.snapshot().providers.db).toMatchObject({
      size: 2,
      inUse: 2,
      idle: 0,
      waiting: 0,
    });

    await held[1]?.release();
    expect(monitor.snapshot().providers.db).toMatchObject({
      size: 2,
      inUse: 1,
      idle: 1,
      waiting: 0,
    });
  });

  it('shows describe() facts with secrets masked and flags TLS verification off', () => {
    const db = createTestProvider({
      name: 'db',
      describe: () => ({
        host: 'db.internal',
        url: 'postgres://app:hunter2@db.internal/app',
        max: 10,
        ssl: { tlsVerify: false },
      }),
      extraStats: () => ({ bytesInUse: 4096 }),
    });
    monitor = createMonitor({ resources: sourceOf(db), healthIntervalMs: 0 });

    const p = monitor.snapshot().providers.db;
    expect(p?.config).toMatchObject({
      host: 'db.internal',
      max: 10,
      ssl: { tlsVerify: false },
    });
    expect(JSON.stringify(p)).not.toContain('hunter2');
    expect(p?.warnings).toContain('TLS certificate verification is off');
    expect(p?.extra).toEqual({ bytesInUse: 4096 });
    expect(monitor.table()).toContain('! db: TLS certificate verification is off');
  });

  it('reports a provider whose stats() throws instead of throwing', () => {
    const db = createTestProvider({ name: 'db' });
    db.stats = () => {
      throw new Error('stats broke at postgres://app:hunter2@db.internal/app');
    };
    monitor = createMonitor({ resources: sourceOf(db), healthIntervalMs: 0 });

    const p = monitor.snapshot().providers.db;
    expect(p).toMatchObject({ size: 0, inUse: 0 });
    expect(p?.warnings.join('\n')).toContain('stats() failed');
    expect(p?.warnings.join('\n')).not.toContain('hunter2');
  });

  it('renders a table of providers and nodes that fits in 100 columns', async () => {
    const db = createTestProvider({ name: 'db', kind: 'postgres' });
    const files = createTestProvider({
      name: 'a-provider-with-a-very-long-name',
      kind: 'file',
    });
    monitor = createMonitor({
      resources: sourceOf(db, files),
      healthIntervalMs: 0,
    });
    await db.open();
    const lease = await db.acquire({ owner: { node: 'DatabaseReaderNode' } });
    await lease.release();

    const table = monitor.table();
    const lines = table.trimEnd().split('\n');
    expect(lines.every((line) => line.length <= TABLE_WIDTH)).toBe(true);
    expect(table).toMatch(/^PROVIDER\s+KIND\s+STATE\s+SIZE\s+USE\s+IDLE\s+WAIT/m);
    expect(table).toMatch(/^db\s+postgres\s+open\s+1\s+0\s+1\s+0/m);
    expect(table).toMatch(/^a-provider-~\s+file\s+new/m);
    expect(table).toMatch(/^NODE\s+RUNS/m);
    expect(table).toMatch(/^DatabaseReaderNode\s+0\s+0\s+1/m);
    expect(table).toContain('runs: 0 started, 0 ok, 0 failed');
  });
});
