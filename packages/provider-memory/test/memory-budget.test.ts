import { AbortedError, type Lease } from '@kaygraph/core';
import { describe, expect, it, vi } from 'vitest';
import { MemoryBudgetError } from '../src/index.js';
import { KiB, seededRandom, state, useProviders } from './helpers.js';

const make = useProviders();
const isBudgetError = (error: unknown) => MemoryBudgetError.isInstance(error);

describe('byte budget', () => {
  it('is never exceeded under a random schedule of acquires and releases', async () => {
    const budgetBytes = 256 * KiB;
    const sizeClasses = [1 * KiB, 4 * KiB, 16 * KiB, 64 * KiB];
    const memory = make({ budgetBytes, sizeClasses, maxIdleBytes: 96 * KiB });
    const random = seededRandom(20_240_601);
    const held: Lease<Buffer>[] = [];
    const pending = new Set<Promise<void>>();
    let worst = 0;
    let mostWaiting = 0;

    const check = () => {
      const stats = memory.stats();
      worst = Math.max(worst, stats.bytesInUse + stats.bytesIdle);
      mostWaiting = Math.max(mostWaiting, stats.waiting);
      expect(stats.bytesInUse + stats.bytesIdle).toBeLessThanOrEqual(budgetBytes);
      expect(stats.bytesIdle).toBeLessThanOrEqual(96 * KiB);
      const lent = held.reduce((sum, lease) => sum + lease.resource.length, 0);
      expect(stats.bytesInUse).toBe(lent);
    };

    for (let step = 0; step < 3000; step++) {
      if (held.length > 0 && random() < 0.45) {
        const [lease] = held.splice(Math.floor(random() * held.length), 1);
        await lease?.release();
      } else {
        const size = 1 + Math.floor(random() * 64 * KiB);
        const waiting = memory.acquire({ size, timeoutMs: 60_000 }).then((lease) => {
          expect(lease.resource.length).toBeGreaterThanOrEqual(size);
          held.push(lease);
          pending.delete(waiting);
        });
        pending.add(waiting);
      }
      await new Promise((resolve) => setImmediate(resolve));
      check();
    }
    while (held.length > 0 || pending.size > 0) {
      await held.pop()?.release();
      await new Promise((resolve) => setImmediate(resolve));
      check();
    }
    // The schedule did press on the budget: it came close, and acquires had to wait.
    expect(worst).toBeGreaterThan(budgetBytes / 2);
    expect(mostWaiting).toBeGreaterThan(0);
    expect(memory.stats()).toMatchObject({ bytesInUse: 0, waiting: 0, acquireTimeouts: 0 });
    expect(memory.stats().peakBytes).toBeLessThanOrEqual(budgetBytes);
  });

  it('makes an acquire wait while the budget is spent, then lends when bytes return', async () => {
    const memory = make({ budgetBytes: 8 * KiB, sizeClasses: [4 * KiB] });
    const first = await memory.acquire({ size: 4 * KiB });
    const second = await memory.acquire({ size: 4 * KiB });
    const third = memory.acquire({ size: 100 });
    expect(await state(third)).toBe('pending');
    expect(memory.stats()).toMatchObject({ waiting: 1, bytesInUse: 8 * KiB });
    await first.release();
    const lease = await third;
    expect(lease.resource).toBe(first.resource);
    expect(memory.stats()).toMatchObject({ waiting: 0, bytesInUse: 8 * KiB, created: 2 });
    await Promise.all([second.release(), lease.release()]);
  });

  it('frees idle buffers of other classes before making anyone wait', async () => {
    const sizeClasses = [4 * KiB, 32 * KiB];
    const memory = make({ budgetBytes: 64 * KiB, sizeClasses, maxIdleBytes: 64 * KiB });
    const small = await Promise.all(Array.from({ length: 16 }, () => memory.acquire({ size: 1 })));
    await Promise.all(small.map((lease) => lease.release()));
    expect(memory.stats()).toMatchObject({ bytesIdle: 64 * KiB, bytesInUse: 0 });
    const big = await memory.acquire({ size: 20 * KiB, timeoutMs: 0 });
    expect(big.resource.length).toBe(32 * KiB);
    expect(memory.stats()).toMatchObject({
      bytesInUse: 32 * KiB,
      bytesIdle: 32 * KiB,
      destroyed: 8,
    });
    await big.release();
  });

  it('fails a waiting acquire with MemoryBudgetError at its timeout, and counts it', async () => {
    const memory = make({ budgetBytes: 4 * KiB, sizeClasses: [4 * KiB] });
    const holder = await memory.acquire({ size: 1 });
    const error = await memory.acquire({ size: 1, timeoutMs: 20 }).catch((e: unknown) => e);
    expect(isBudgetError(error)).toBe(true);
    expect((error as MemoryBudgetError).code).toBe('KG_MEMORY_BUDGET');
    expect((error as MemoryBudgetError).size).toBe(1);
    expect(memory.stats()).toMatchObject({ acquireTimeouts: 1, waiting: 0 });
    await holder.release();
    const next = await memory.acquire({ size: 1, timeoutMs: 0 });
    await next.release();
  });

  it('fails at once for a size beyond the largest class or the budget', async () => {
    const memory = make({ budgetBytes: 1024 * KiB, sizeClasses: [4 * KiB, 64 * KiB] });
    const holder = await memory.acquire({ size: 64 * KiB });
    const tooBig = await memory.acquire({ size: 64 * KiB + 1 }).catch((e: unknown) => e);
    expect(isBudgetError(tooBig)).toBe(true);
    expect((tooBig as Error).message).toContain(String(64 * KiB + 1));
    expect((tooBig as Error).message).toContain('largest size class');
    const overBudget = await memory.acquire({ size: 2048 * KiB }).catch((e: unknown) => e);
    expect((overBudget as Error).message).toContain('budget');
    expect((overBudget as MemoryBudgetError).size).toBe(2048 * KiB);
    expect(memory.stats()).toMatchObject({ acquireTimeouts: 0, waiting: 0 });
    await holder.release();
  });

  it('stops waiting when the signal aborts', async () => {
    const memory = make({ budgetBytes: 4 * KiB, sizeClasses: [4 * KiB] });
    const holder = await memory.acquire({ size: 1 });
    const controller = new AbortController();
    const waiting = memory.acquire({ size: 1, signal: controller.signal });
    expect(await state(waiting)).toBe('pending');
    controller.abort();
    await expect(waiting).rejects.toSatisfy((e) => AbortedError.isInstance(e));
    expect(memory.stats()).toMatchObject({ waiting: 0, bytesInUse: 4 * KiB });
    await holder.release();
    await expect(memory.acquire({ size: 1, signal: controller.signal })).rejects.toSatisfy((e) =>
      AbortedError.isInstance(e),
    );
  });

  it('serves waiters in arrival order, a large one at the head included', async () => {
    const memory = make({ budgetBytes: 16 * KiB, sizeClasses: [4 * KiB, 16 * KiB] });
    const holders = await Promise.all([1, 2, 3, 4].map(() => memory.acquire({ size: 1 })));
    const order: string[] = [];
    const big = memory.acquire({ size: 16 * KiB }).then(async (lease) => {
      order.push('big');
      await lease.release();
    });
    const small = memory.acquire({ size: 1 }).then(async (lease) => {
      order.push('small');
      await lease.release();
    });
    await vi.waitFor(() => expect(memory.stats().waiting).toBe(2));
    await holders[0]?.release(); // room for the small one, but the big one is first in line
    expect(await state(small)).toBe('pending');
    await Promise.all(holders.slice(1).map((lease) => lease.release()));
    await Promise.all([big, small]);
    expect(order).toEqual(['big', 'small']);
  });

  it('publishes provider:warning once per crossing of 90% of the budget', async () => {
    const { subscribe } = await import('@kaygraph/core');
    const memory = make({ budgetBytes: 40 * KiB, sizeClasses: [4 * KiB] });
    const warnings: string[] = [];
    const stop = subscribe('provider:warning', (event) => {
      if (event.provider === memory.name) warnings.push(event.message);
    });
    const leases = await Promise.all(Array.from({ length: 9 }, () => memory.acquire({ size: 1 })));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('90%');
    const tenth = await memory.acquire({ size: 1 });
    await tenth.release();
    const again = await memory.acquire({ size: 1 });
    expect(warnings).toHaveLength(1);
    await Promise.all([...leases.splice(0, 5), again].map((lease) => lease.release()));
    const refill = await Promise.all(Array.from({ length: 6 }, () => memory.acquire({ size: 1 })));
    stop();
    expect(warnings).toHaveLength(2);
    await Promise.all([...leases, ...refill].map((lease) => lease.release()));
  });
});
