import { afterEach, describe, expect, it } from 'vitest';
import { type Monitor, createMonitor } from '../src/index.js';
import { type TestProvider, createTestProvider } from './fixtures/test-provider.js';

let monitor: Monitor | undefined;

afterEach(async () => {
  await monitor?.close();
  monitor = undefined;
});

describe('monitor with a subset of providers', () => {
  it('works with a single provider', async () => {
    const memory = createTestProvider({ name: 'memory', kind: 'buffer' });
    monitor = createMonitor({
      resources: { list: () => [memory] },
      healthIntervalMs: 0,
    });
    await memory.open();
    await (await memory.acquire()).release();

    expect(Object.keys(monitor.snapshot().providers)).toEqual(['memory']);
    expect(monitor.snapshot().providers.memory?.acquired).toBe(1);
    expect(monitor.table()).toMatch(/^memory\s+buffer\s+open/m);
    expect(await monitor.prometheus()).toContain(
      'kaygraph_resources_acquired_total{provider="memory"} 1',
    );
  });

  it('works with no providers at all', async () => {
    monitor = createMonitor({
      resources: { list: () => [] },
      healthIntervalMs: 10,
    });
    await monitor.checkHealth();

    const snap = monitor.snapshot();
    expect(snap.providers).toEqual({});
    expect(snap.nodes).toEqual({});
    expect(monitor.table()).toContain('(no providers)');
    const text = await monitor.prometheus();
    expect(text).toContain('# TYPE kaygraph_resources_in_use gauge');
    expect(text).not.toContain('provider=');
  });

  it('picks up a provider added to the pool after the monitor started', async () => {
    const providers: TestProvider[] = [];
    monitor = createMonitor({
      resources: { list: () => providers },
      healthIntervalMs: 0,
    });
    const http = createTestProvider({ name: 'http' });
    providers.push(http);
    await http.open();
    await (await http.acquire()).release();

    expect(monitor.snapshot().providers.http).toMatchObject({
      acquired: 1,
      holdMs: { count: 1 },
    });
  });

  it('keeps working when the source throws', () => {
    monitor = createMonitor({
      resources: {
        list: () => {
          throw new Error('registry broken');
        },
      },
      healthIntervalMs: 0,
    });
    expect(monitor.snapshot().providers).toEqual({});
  });
});
