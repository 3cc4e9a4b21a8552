import { publish } from '@kaygraph/core';
import { register } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { type Monitor, createMonitor } from '../src/index.js';
import { createTestProvider, sourceOf } from './fixtures/test-provider.js';

const monitors: Monitor[] = [];

afterEach(async () => {
  await Promise.all(monitors.splice(0).map((m) => m.close()));
});

function watch(...providers: ReturnType<typeof createTestProvider>[]): Monitor {
  const monitor = createMonitor({
    resources: sourceOf(...providers),
    healthIntervalMs: 0,
  });
  monitors.push(monitor);
  return monitor;
}

/** Prometheus text as `name{labels}` → value, plus the declared type of each metric family. */
function parse(text: string) {
  const samples = new Map<string, number>();
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type?.[1] && type[2]) types.set(type[1], type[2]);
    if (line === '' || line.startsWith('#')) continue;
    const sample = /^(\S+?)(\{.*\})? (\S+)$/.exec(line);
    if (!sample?.[1] || sample[3] === undefined) throw new Error(`unparsable line: ${line}`);
    samples.set(`${sample[1]}${sample[2] ?? ''}`, Number(sample[3]));
  }
  return { samples, types };
}

describe('monitor prometheus', () => {
  it('exports gauges and counters labelled by provider, matching the snapshot', async () => {
    const db = createTestProvider({ name: 'db', max: 3, kind: 'postgres' });
    const http = createTestProvider({ name: 'http', max: 1 });
    const monitor = watch(db, http);
    await Promise.all([db.open(), http.open()]);
    const a = await db.acquire({ owner: { node: 'reader' } });
    const b = await db.acquire({ owner: { node: 'reader' } });
    await b.release();
    await expect(http.acquire()).resolves.toBeDefined();
    await expect(http.acquire({ timeoutMs: 5 })).rejects.toThrow();

    const { samples, types } = parse(await monitor.prometheus());
    const snap = monitor.snapshot();
    expect(samples.get('kaygraph_resources_in_use{provider="db"}')).toBe(1);
    expect(samples.get('kaygraph_resources_idle{provider="db"}')).toBe(snap.providers.db?.idle);
    expect(samples.get('kaygraph_resources_size{provider="db"}')).toBe(2);
    expect(samples.get('kaygraph_resources_waiting{provider="http"}')).toBe(0);
    expect(samples.get('kaygraph_resources_created_total{provider="db"}')).toBe(2);
    expect(samples.get('kaygraph_resources_acquire_timeouts_total{provider="http"}')).toBe(1);
    expect(samples.get('kaygraph_resources_acquired_total{provider="db"}')).toBe(2);
    expect(samples.get('kaygraph_resources_leaks_total{provider="db"}')).toBe(0);
    expect(samples.get('kaygraph_provider_info{provider="db",kind="postgres",state="open"}')).toBe(
      1,
    );
    expect(samples.get('kaygraph_resources_acquire_wait_seconds_count{provider="db"}')).toBe(2);
    expect(samples.get('kaygraph_resources_hold_seconds_count{provider="db"}')).toBe(1);
    expect(samples.get('kaygraph_resources_hold_seconds_bucket{le="+Inf",provider="db"}')).toBe(1);
    expect(samples.get('kaygraph_node_leases_total{node="reader"}')).toBe(2);
    expect(types.get('kaygraph_resources_in_use')).toBe('gauge');
    expect(types.get('kaygraph_resources_created_total')).toBe('counter');
    expect(types.get('kaygraph_resources_hold_seconds')).toBe('histogram');
    await a.release();
  });

  it('reads values fresh at every scrape', async () => {
    const db = createTestProvider({ name: 'db' });
    const monitor = watch(db);
    await db.open();

    const lease = await db.acquire();
    expect(
      parse(await monitor.prometheus()).samples.get('kaygraph_resources_in_use{provider="db"}'),
    ).toBe(1);
    await lease.release();
    const after = parse(await monitor.prometheus()).samples;
    expect(after.get('kaygraph_resources_in_use{provider="db"}')).toBe(0);
    expect(after.get('kaygraph_resources_released_total{provider="db"}')).toBe(1);
  });

  it('exports health, node and run counters', async () => {
    const db = createTestProvider({
      name: 'db',
      check: () => ({ ok: false, latencyMs: 250, error: 'down' }),
    });
    const monitor = watch(db);
    await db.open();
    await monitor.checkHealth();
    const time = Date.now();
    publish('run:start', { runId: 'r', graph: 'g', time });
    publish('node:start', { runId: 'r', node: 'upload', time });
    publish('run:end', {
      runId: 'r',
      graph: 'g',
      time,
      durationMs: 1,
      status: 'aborted',
    });

    const { samples } = parse(await monitor.prometheus());
    expect(samples.get('kaygraph_provider_up{provider="db"}')).toBe(0);
    expect(samples.get('kaygraph_provider_health_latency_seconds{provider="db"}')).toBe(0.25);
    expect(samples.get('kaygraph_node_runs_total{node="upload"}')).toBe(1);
    expect(samples.get('kaygraph_runs_started_total')).toBe(1);
    expect(samples.get('kaygraph_runs_ended_total{outcome="failed"}')).toBe(1);
    expect(samples.get('kaygraph_runs_ended_total{outcome="ok"}')).toBe(0);
  });

  it('uses its own registry: monitors never collide with each other or the global', async () => {
    const first = watch(createTestProvider({ name: 'db' }));
    const second = watch(createTestProvider({ name: 'http' }));

    expect(first.registry).not.toBe(second.registry);
    expect(first.registry).not.toBe(register);
    expect(await register.metrics()).not.toContain('kaygraph_');
    expect(await first.prometheus()).not.toContain('provider="http"');
    expect(await second.prometheus()).toContain('kaygraph_resources_size{provider="http"} 0');
    expect(first.contentType).toMatch(/^text\/plain/);
  });
});
