import { publish } from '@kaygraph/core';
import { afterEach, describe, expect, it } from 'vitest';
import { type Monitor, createMonitor } from '../src/index.js';
import { createTestProvider, sourceOf } from './fixtures/test-provider.js';

// The HTTP and mail providers report TLS verification as a top-level `tlsVerify` in describe(),
// and publish a provider:warning when they open with it off.

let monitor: Monitor | undefined;

afterEach(async () => {
  await monitor?.close();
  monitor = undefined;
});

const TLS_OFF = 'TLS certificate verification is off';

describe('monitor and TLS verification', () => {
  it('warns about a provider that describes tlsVerify false, in the snapshot and the table', () => {
    const http = createTestProvider({
      name: 'upload',
      kind: 'http',
      describe: () => ({ origin: 'https://api.example.test', tlsVerify: false, slots: 8 }),
    });
    const mail = createTestProvider({
      name: 'notify',
      kind: 'smtp',
      describe: () => ({ host: 'smtp.example.test', secure: true, tlsVerify: false }),
    });
    monitor = createMonitor({ resources: sourceOf(http, mail), healthIntervalMs: 0 });

    const snap = monitor.snapshot();
    expect(snap.providers.upload?.warnings).toContain(TLS_OFF);
    expect(snap.providers.notify?.warnings).toContain(TLS_OFF);
    expect(snap.providers.upload?.config).toMatchObject({ tlsVerify: false });
    const table = monitor.table();
    expect(table).toContain(`! upload: ${TLS_OFF}`);
    expect(table).toContain(`! notify: ${TLS_OFF}`);
  });

  it('says nothing when verification is on', () => {
    const http = createTestProvider({
      name: 'upload',
      describe: () => ({ origin: 'https://api.example.test', tlsVerify: true }),
    });
    monitor = createMonitor({ resources: sourceOf(http), healthIntervalMs: 0 });

    expect(monitor.snapshot().providers.upload?.warnings).toEqual([]);
    expect(monitor.table()).not.toContain(TLS_OFF);
  });

  it('shows the warning a provider publishes when it opens with verification off', () => {
    const http = createTestProvider({ name: 'upload', describe: () => ({}) });
    monitor = createMonitor({ resources: sourceOf(http), healthIntervalMs: 0 });

    publish('provider:warning', {
      provider: 'upload',
      time: Date.now(),
      message: `${TLS_OFF} for https://bob:hunter2@api.example.test`,
    });

    const warnings = monitor.snapshot().providers.upload?.warnings ?? [];
    expect(warnings.some((w) => w.startsWith(TLS_OFF))).toBe(true);
    expect(warnings.join('\n')).not.toContain('hunter2');
  });
});
