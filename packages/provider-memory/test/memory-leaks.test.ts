import { type KayGraphEvents, ResourcePool, subscribe } from '@kaygraph/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { useProviders } from './helpers.js';

const make = useProviders();
const stops: (() => void)[] = [];

afterEach(() => {
  for (const stop of stops.splice(0)) stop();
});

function listen<N extends 'resource:leak' | 'resource:leak-returned'>(name: N, provider: string) {
  const seen: KayGraphEvents[N][] = [];
  stops.push(subscribe(name, (e) => e.provider === provider && seen.push(e)));
  return seen;
}

describe('a buffer never given back', () => {
  it('is reported past leakDetectionMs with the borrower stack, and again on return', async () => {
    const memory = make({ leakDetectionMs: 20 });
    const leaks = listen('resource:leak', memory.name);
    const returned = listen('resource:leak-returned', memory.name);

    const lease = await memory.acquire({ size: 100 });
    await vi.waitFor(() => expect(leaks).toHaveLength(1));
    await lease.release();

    expect(leaks[0]?.stack).toContain('memory-leaks.test.ts');
    expect(returned).toMatchObject([{ leaseId: lease.id }]);
    expect(memory.stats()).toMatchObject({ leaks: 1, inUse: 0, bytesInUse: 0 });
  });

  it('carries the stack of a borrower who waited for budget, not of the one who freed it', async () => {
    const memory = make({ leakDetectionMs: 20, budgetBytes: 4096, sizeClasses: [4096] });
    const leaks = listen('resource:leak', memory.name);
    const first = await memory.acquire({ size: 4096 });
    // Neither function is async, so no async frame would name them after the wait.
    const waitForBudget = () => memory.acquire({ size: 4096 });
    const freeBudget = () => first.release();
    const waiting = waitForBudget();
    await freeBudget();

    const lease = await waiting;
    await vi.waitFor(() => expect(leaks.map((e) => e.leaseId)).toContain(lease.id));

    const stack = leaks.find((e) => e.leaseId === lease.id)?.stack;
    expect(stack).toContain('waitForBudget');
    expect(stack).not.toContain('freeBudget');
    await lease.release();
  });

  it('is returned when its scope ends, and counted as a leak by the provider', async () => {
    const memory = make();
    const leaks = listen('resource:leak', memory.name);
    const scope = new ResourcePool().add(memory).scope('step');

    const lease = await scope.acquire<Buffer>(memory.name, { size: 100 });
    await scope.close();

    expect(lease.returned).toBe(true);
    expect(leaks).toHaveLength(1);
    expect(leaks[0]?.stack).toContain('memory-leaks.test.ts');
    expect(memory.stats()).toMatchObject({ leaks: 1, inUse: 0, bytesInUse: 0 });
  });
});
