import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type Monitor, MonitorClosedError, createMonitor } from '../src/index.js';
import { createTestProvider, sourceOf } from './fixtures/test-provider.js';

let monitor: Monitor | undefined;

afterEach(async () => {
  vi.useRealTimers();
  await monitor?.close();
  monitor = undefined;
});

describe('monitor close', () => {
  it('stops counting events once closed', async () => {
    const db = createTestProvider({ name: 'db', ownCounters: false });
    monitor = createMonitor({ resources: sourceOf(db), healthIntervalMs: 0 });
    await db.open();
    await (await db.acquire({ owner: { node: 'reader' } })).release();
    await monitor.close();

    await (await db.acquire({ owner: { node: 'reader' } })).release();
    db.ledger.reportLeak(await db.acquire());

    const snap = monitor.snapshot();
    expect(snap.providers.db).toMatchObject({
      acquired: 1,
      released: 1,
      leaks: 0,
    });
    expect(snap.providers.db?.holdMs.count).toBe(1);
    expect(snap.nodes.reader?.leases).toBe(1);
  });

  it('stops health checks and is idempotent', async () => {
    const db = createTestProvider({ name: 'db' });
    await db.open();
    monitor = createMonitor({ resources: sourceOf(db), healthIntervalMs: 5 });
    await monitor.close();
    const checks = db.checks;
    await new Promise((resolve) => setTimeout(resolve, 30));

    expect(db.checks).toBe(checks);
    await expect(monitor.close()).resolves.toBeUndefined();
  });

  it('clears every timer it started', async () => {
    vi.useFakeTimers();
    const db = createTestProvider({ name: 'db' });
    monitor = createMonitor({
      resources: sourceOf(db),
      healthIntervalMs: 1000,
    });
    monitor.live({ isTTY: true, write() {} }, { intervalMs: 100 });
    monitor.live({ write() {} });
    // Opening schedules a health check for the next turn of the event loop: one more timer.
    await db.open();
    expect(vi.getTimerCount()).toBe(4);

    await monitor.close();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('refuses to serve or draw after close', async () => {
    monitor = createMonitor({ resources: sourceOf(), healthIntervalMs: 0 });
    await monitor.close();

    await expect(monitor.serve()).rejects.toSatisfy((e) => MonitorClosedError.isInstance(e));
    expect(() => monitor?.live({ write() {} })).toThrow(MonitorClosedError);
  });

  it('leaves nothing running: a process that closed its monitor exits on its own', async () => {
    const child = fileURLToPath(new URL('./fixtures/close-child.mjs', import.meta.url));
    const dist = fileURLToPath(new URL('../dist/index.js', import.meta.url));
    expect(existsSync(dist), 'build the package first: the child runs dist/').toBe(true);

    // If a timer or socket outlived close(), the child would hang and execFile would kill it.
    const { stdout } = await promisify(execFile)(process.execPath, [child], {
      timeout: 20_000,
    });
    const report = JSON.parse(stdout) as { left: string[]; acquired: number };
    expect(report.acquired).toBe(1);
    expect(report.left).not.toContain('Timeout');
    expect(report.left.filter((kind) => kind.startsWith('TCP'))).toEqual([]);
  });
});
