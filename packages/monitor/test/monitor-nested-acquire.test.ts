import { AcquireTimeoutError, Pool, ResourcePool } from '@kaygraph/core';
import { afterEach, describe, expect, it } from 'vitest';
import { type Monitor, createMonitor } from '../src/index.js';

// Each task holds one resource and asks for a second from a pool that is full: a deadlock
// unless acquire timeouts fire. The monitor must show it while it lasts.

let monitor: Monitor | undefined;
let resources: ResourcePool | undefined;

afterEach(async () => {
  await monitor?.close();
  monitor = undefined;
  await resources?.close();
  resources = undefined;
});

describe('nested acquires on a full pool', () => {
  it('show waiting with nothing idle, then time out; nothing hangs', async () => {
    let next = 0;
    const pool = new Pool({ name: 'conns', max: 3, create: () => ({ id: next++ }) });
    resources = new ResourcePool().add(pool);
    monitor = createMonitor({ resources, healthIntervalMs: 0 });
    await resources.open();
    const watched = monitor;

    let asked = 0;
    let sawDeadlock = false;
    let allHoldOne: () => void = () => {};
    const holding = new Promise<void>((resolve) => {
      allHoldOne = resolve;
    });
    let held = 0;
    const task = async (name: string) => {
      const outer = await pool.acquire({ owner: { node: name } });
      if (++held === 3) allHoldOne();
      await holding;
      try {
        asked++;
        const inner = pool.acquire({ owner: { node: name }, timeoutMs: 200 });
        if (asked === 3) {
          const p = watched.snapshot().providers.conns;
          sawDeadlock = p?.waiting === 3 && p.idle === 0 && p.inUse === 3;
        }
        await (await inner).release();
        return 'served';
      } catch (error) {
        return AcquireTimeoutError.isInstance(error) ? 'timed out' : String(error);
      } finally {
        await outer.release();
      }
    };

    const outcomes = await Promise.all(['a', 'b', 'c'].map((name) => task(name)));

    expect(sawDeadlock).toBe(true);
    expect(outcomes).toEqual(['timed out', 'timed out', 'timed out']);
    expect(monitor.snapshot().providers.conns).toMatchObject({
      acquireTimeouts: 3,
      waiting: 0,
      inUse: 0,
      idle: 3,
    });
  });
});
