import { afterEach, describe, expect, it, vi } from 'vitest';
import { type Monitor, createMonitor } from '../src/index.js';
import { createTestProvider, sourceOf } from './fixtures/test-provider.js';

let monitor: Monitor | undefined;

afterEach(async () => {
  vi.useRealTimers();
  await monitor?.close();
  monitor = undefined;
});

function recorder(isTTY: boolean) {
  const writes: string[] = [];
  return {
    writes,
    stream: { isTTY, write: (chunk: string) => writes.push(chunk) },
  };
}

describe('monitor live view', () => {
  it('redraws the table in place on a terminal', async () => {
    vi.useFakeTimers();
    monitor = createMonitor({
      resources: sourceOf(createTestProvider({ name: 'db' })),
      healthIntervalMs: 0,
    });
    const { writes, stream } = recorder(true);
    const stop = monitor.live(stream, { intervalMs: 500 });
    expect(writes).toHaveLength(1);
    expect(writes[0]).toMatch(/^kaygraph monitor/);

    await vi.advanceTimersByTimeAsync(1000);
    expect(writes).toHaveLength(3);
    const frameLines = (writes[0] ?? '').split('\n').length - 1;
    expect(writes[1]?.startsWith(`\x1b[${frameLines}A\r\x1b[0J`)).toBe(true);
    expect(writes[1]).toContain('PROVIDER');

    stop();
    await vi.advanceTimersByTimeAsync(2000);
    expect(writes).toHaveLength(3);
  });

  it('appends plain lines when the stream is not a terminal', async () => {
    vi.useFakeTimers();
    monitor = createMonitor({
      resources: sourceOf(createTestProvider({ name: 'db' })),
      healthIntervalMs: 0,
    });
    const { writes, stream } = recorder(false);
    monitor.live(stream, { intervalMs: 100 });
    await vi.advanceTimersByTimeAsync(100);

    expect(writes).toHaveLength(2);
    expect(writes.join('')).not.toContain('\x1b');
    expect(writes[1]).toMatch(/provider=db state=new size=0 inUse=0/);
  });

  it('stops by itself when the stream throws', async () => {
    vi.useFakeTimers();
    monitor = createMonitor({ resources: sourceOf(), healthIntervalMs: 0 });
    let calls = 0;
    monitor.live({
      isTTY: true,
      write() {
        calls++;
        throw new Error('EPIPE');
      },
    });
    await vi.advanceTimersByTimeAsync(2000);
    expect(calls).toBe(1);
  });
});
