import {
  type KayGraphEvents,
  LeaseRevokedError,
  PoolClosedError,
  subscribe,
} from '@kaygraph/core';
import { describe, expect, it, vi } from 'vitest';
import { KiB, state, useProviders } from './helpers.js';

const make = useProviders();
const isClosed = (error: unknown) => PoolClosedError.isInstance(error);

describe('close and destroy', () => {
  it('are idempotent and publish provider:close once', async () => {
    const memory = make();
    const closes: KayGraphEvents['provider:close'][] = [];
    const stop = subscribe('provider:close', (event) => {
      if (event.provider === memory.name) closes.push(event);
    });
    await memory.open();
    expect(memory.state).toBe('open');
    const first = memory.close();
    expect(memory.close()).toBe(first);
    await Promise.all([first, memory.destroy(), memory.close()]);
    stop();
    expect(memory.state).toBe('closed');
    expect(closes).toEqual([expect.objectContaining({ forced: false, kind: 'buffer' })]);
  });

  it('refuses acquires and caches after close with PoolClosedError', async () => {
    const memory = make();
    await memory.close();
    await expect(memory.acquire({ size: 1 })).rejects.toSatisfy(isClosed);
    expect(() => memory.createCache({ maxBytes: 1024 })).toThrow(PoolClosedError);
    await expect(memory.open()).rejects.toSatisfy(isClosed);
  });

  it('refuses acquires after destroy', async () => {
    const memory = make();
    await memory.destroy(new Error('going down'));
    await expect(memory.acquire({ size: 1 })).rejects.toSatisfy(isClosed);
  });

  it('fails queued acquires at once with PoolClosedError', async () => {
    const memory = make({ budgetBytes: 4 * KiB, sizeClasses: [4 * KiB] });
    const holder = await memory.acquire({ size: 1 });
    const queued = memory.acquire({ size: 1 });
    await vi.waitFor(() => expect(memory.stats().waiting).toBe(1));
    const closing = memory.close({ timeoutMs: 10_000 });
    await expect(queued).rejects.toSatisfy(isClosed);
    await holder.release();
    await closing;
    expect(memory.stats()).toMatchObject({ waiting: 0, size: 0, bytesInUse: 0, leaks: 0 });
  });

  it('waits for outstanding leases, then frees everything', async () => {
    const memory = make();
    const lease = await memory.acquire({ size: 1 });
    const idle = await memory.acquire({ size: 1 });
    await idle.release();
    const closing = memory.close({ timeoutMs: 10_000 });
    expect(await state(closing)).toBe('pending');
    expect(memory.state).toBe('closing');
    await lease.release();
    await closing;
    expect(memory.stats()).toMatchObject({ size: 0, idle: 0, bytesInUse: 0, bytesIdle: 0 });
    expect(memory.stats().destroyed).toBe(memory.stats().created);
  });

  it('after the timeout, reports leases still out as leaks and writes them off', async () => {
    const memory = make();
    const leaks: KayGraphEvents['resource:leak'][] = [];
    const stop = subscribe('resource:leak', (event) => {
      if (event.provider === memory.name) leaks.push(event);
    });
    const lease = await memory.acquire({ size: 1, owner: { runId: 'r1', node: 'reader' } });
    await memory.close({ timeoutMs: 20 });
    stop();
    expect(lease.returned).toBe(true);
    expect(leaks).toEqual([expect.objectContaining({ owner: { runId: 'r1', node: 'reader' } })]);
    expect(memory.stats()).toMatchObject({ leaks: 1, inUse: 0, bytesInUse: 0, size: 0 });
    const before = memory.stats();
    await expect(lease.release()).rejects.toSatisfy((e) => LeaseRevokedError.isInstance(e));
    expect(memory.stats()).toEqual(before);
  });

  it('destroy writes off lent buffers at once and cuts a waiting close short', async () => {
    const memory = make();
    const lease = await memory.acquire({ size: 1 });
    const closing = memory.close({ timeoutMs: 60_000 });
    expect(await state(closing)).toBe('pending');
    await memory.destroy();
    await closing;
    expect(lease.returned).toBe(true);
    expect(memory.stats()).toMatchObject({ inUse: 0, bytesInUse: 0 });
  });
});
