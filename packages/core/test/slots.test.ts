import { describe, expect, it } from 'vitest';
import {
  AbortedError,
  AcquireTimeoutError,
  LeaseReleasedError,
  PoolClosedError,
  SlotGate,
  SlotLeases,
  closedError,
} from '../src/index.js';

describe('SlotGate', () => {
  it('serves waiters first come, first served', async () => {
    const gate = new SlotGate(1);
    const first = await gate.take(1000, undefined, 'take');
    const order: number[] = [];
    const waits = [1, 2, 3].map((n) => gate.take(1000, undefined, 'take').then((slot) => {
      order.push(n);
      gate.give(slot);
    }));
    expect(gate.waiting).toBe(3);

    gate.give(first);
    await Promise.all(waits);

    expect(order).toEqual([1, 2, 3]);
    expect(gate.inUse).toBe(0);
  });

  it('fails at once with timeout 0 when no slot is free, and waits without a deadline for Infinity', async () => {
    const gate = new SlotGate(1);
    const slot = await gate.take(0, undefined, 'take');

    await expect(gate.take(0, undefined, 'take')).rejects.toSatisfy((e) => AcquireTimeoutError.isInstance(e));
    const patient = gate.take(Number.POSITIVE_INFINITY, undefined, 'take');
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(gate.waiting).toBe(1);

    gate.give(slot);
    await expect(patient).resolves.toBe(slot);
  });

  it('drops a waiter whose signal aborts and never hands it a slot', async () => {
    const gate = new SlotGate(1);
    const slot = await gate.take(1000, undefined, 'take');
    const controller = new AbortController();
    const aborted = gate.take(1000, controller.signal, 'take');

    controller.abort();
    await expect(aborted).rejects.toSatisfy((e) => AbortedError.isInstance(e));
    expect(gate.waiting).toBe(0);
    gate.give(slot);
    expect(gate.inUse).toBe(0);
  });

  it('fails waiters and later takes once closed', async () => {
    const gate = new SlotGate(1);
    await gate.take(1000, undefined, 'take');
    const waiting = gate.take(1000, undefined, 'take');

    gate.close(closedError('p'));

    await expect(waiting).rejects.toSatisfy((e) => PoolClosedError.isInstance(e));
    await expect(gate.take(1000, undefined, 'take')).rejects.toSatisfy((e) => PoolClosedError.isInstance(e));
  });
});

describe('SlotLeases', () => {
  function handle(slot: number) {
    let live = true;
    return {
      slot,
      retire: () => {
        live = false;
      },
      get live() {
        return live;
      },
    };
  }

  it('lends a fresh handle per lease, retires it on return, and refuses a second return', async () => {
    const slots = new SlotLeases<ReturnType<typeof handle>>('p', 1);
    const lease = await slots.acquire(handle, {}, 1000);
    const resource = lease.resource;

    await lease.release();

    expect(resource.live).toBe(false);
    await expect(lease.release()).rejects.toSatisfy((e) => LeaseReleasedError.isInstance(e));
    const next = await slots.acquire(handle, {}, 1000);
    expect(next.resource).not.toBe(resource);
    await next.release();
    expect(slots.ledger.acquired).toBe(2);
    expect(slots.ledger.returned).toBe(2);
  });

  it('puts the stack of a borrower who waited for a slot on its lease', async () => {
    const slots = new SlotLeases<ReturnType<typeof handle>>('p', 1, 60_000);
    const first = await slots.acquire(handle, {}, 1000);
    // Neither function is async, so no async frame would name them after the wait.
    const waitForSlot = () => slots.acquire(handle, {}, 1000);
    const giveSlotBack = () => first.release();
    const waiting = waitForSlot();
    await giveSlotBack();

    const lease = await waiting;

    expect(slots.ledger.stackOf(lease)).toContain('waitForSlot');
    expect(slots.ledger.stackOf(lease)).not.toContain('giveSlotBack');
    await lease.release();
    slots.ledger.close();
  });

  it('tryAcquire lends a free slot at once, and nothing when none is free or closed', async () => {
    const slots = new SlotLeases<ReturnType<typeof handle>>('p', 1);
    const owner = { runId: 'r1' };

    const lease = slots.tryAcquire(handle, { owner });

    expect(lease?.resource.slot).toBe(1);
    expect(lease?.owner).toBe(owner);
    expect(slots.gate.inUse).toBe(1);
    expect(slots.tryAcquire(handle, {})).toBeUndefined();
    const waiting = slots.acquire(handle, {}, 1000);
    await lease?.release();
    expect(lease?.resource.live).toBe(false);
    const next = await waiting;
    await next.release();
    expect(slots.tryAcquire(handle, { signal: AbortSignal.abort() })).toBeUndefined();
    slots.gate.close(closedError('p'));
    expect(slots.tryAcquire(handle, {})).toBeUndefined();
    expect(slots.ledger.acquired).toBe(2);
    expect(slots.ledger.returned).toBe(2);
  });

  it('counts acquire timeouts and reports when every lease is back', async () => {
    const slots = new SlotLeases<ReturnType<typeof handle>>('p', 1);
    const lease = await slots.acquire(handle, {}, 1000);

    await expect(slots.acquire(handle, {}, 5)).rejects.toSatisfy((e) => AcquireTimeoutError.isInstance(e));
    expect(slots.acquireTimeouts).toBe(1);
    const drained = slots.waitForReturn(1000);
    await lease.release();

    await expect(drained).resolves.toBe(true);
  });
});
