import { publish } from '@kaygraph/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type Monitor, createMonitor } from '../src/index.js';
import { createTestProvider, sourceOf } from './fixtures/test-provider.js';

let monitor: Monitor | undefined;

afterEach(async () => {
  vi.useRealTimers();
  await monitor?.close();
  monitor = undefined;
});

describe('monitor health', () => {
  it('checks every open provider at start and then on each interval', async () => {
    vi.useFakeTimers();
    const db = createTestProvider({ name: 'db' });
    await db.open();
    monitor = createMonitor({
      resources: sourceOf(db),
      healthIntervalMs: 5000,
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(db.checks).toBe(1);

    await vi.advanceTimersByTimeAsync(15_000);
    expect(db.checks).toBe(4);
    expect(monitor.snapshot().providers.db?.health).toMatchObject({
      ok: true,
      checks: 4,
      failures: 0,
    });
  });

  it('reports a failing check with its error, secrets masked', async () => {
    let ok = true;
    const db = createTestProvider({
      name: 'db',
      check: () =>
        ok
          ? { ok: true, latencyMs: 2 }
          : {
              ok: false,
              latencyMs: 7,
              error: 'connect refused: postgres://app:hunter2@db:5432/app',
            },
    });
    await db.open();
    monitor = createMonitor({ resources: sourceOf(db), healthIntervalMs: 10 });
    await vi.waitFor(() => expect(monitor?.snapshot().providers.db?.health.ok).toBe(true));

    ok = false;
    await vi.waitFor(() => expect(monitor?.snapshot().providers.db?.health.ok).toBe(false));
    const health = monitor.snapshot().providers.db?.health;
    expect(health?.error).toContain('connect refused');
    expect(health?.error).not.toContain('hunter2');
    expect(health?.failures).toBeGreaterThanOrEqual(1);
    expect(health?.latencyMs).toBe(7);
    expect(monitor.table()).toMatch(/^! db: health check failed: connect refused/m);
  });

  it('turns a check that throws into a failed report', async () => {
    const db = createTestProvider({
      name: 'db',
      check: () => {
        throw new Error('driver exploded');
      },
    });
    await db.open();
    monitor = createMonitor({ resources: sourceOf(db), healthIntervalMs: 0 });
    await monitor.checkHealth();

    expect(monitor.snapshot().providers.db?.health).toMatchObject({
      ok: false,
      error: 'Error: driver exploded',
      checks: 1,
    });
  });

  it('skips providers that are not open, and checks one as soon as it opens', async () => {
    const db = createTestProvider({ name: 'db' });
    monitor = createMonitor({
      resources: sourceOf(db),
      healthIntervalMs: 60_000,
    });
    await monitor.checkHealth();
    expect(db.checks).toBe(0);

    await db.open();
    await vi.waitFor(() => expect(db.checks).toBe(1));
    expect(monitor.snapshot().providers.db?.health.ok).toBe(true);
  });

  it('never runs two checks of one provider at once', async () => {
    let finish: (() => void) | undefined;
    const db = createTestProvider({
      name: 'db',
      check: () =>
        new Promise((resolve) => {
          finish = () => resolve({ ok: true, latencyMs: 1 });
        }),
    });
    await db.open();
    monitor = createMonitor({ resources: sourceOf(db), healthIntervalMs: 0 });
    const first = monitor.checkHealth();
    await monitor.checkHealth();
    await monitor.checkHealth();
    finish?.();
    await first;

    expect(db.checks).toBe(1);
    expect(monitor.snapshot().providers.db?.health.checks).toBe(1);
  });

  it('records provider:health events from checks run by others', () => {
    const db = createTestProvider({ name: 'db' });
    monitor = createMonitor({ resources: sourceOf(db), healthIntervalMs: 0 });
    publish('provider:health', {
      provider: 'db',
      time: Date.now(),
      ok: false,
      latencyMs: 3,
      error: { name: 'DbError', message: 'password authentication failed' },
    });

    expect(monitor.snapshot().providers.db?.health).toMatchObject({
      ok: false,
      error: 'password authentication failed',
    });
  });
});
