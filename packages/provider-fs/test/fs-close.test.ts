import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { type KayGraphEvents, PoolClosedError, subscribe } from '@kaygraph/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type FsProvider, createFsProvider } from '../src/index.js';
import { state, useTempRoots } from './helpers.js';

const makeRoot = useTempRoots();
const providers: FsProvider[] = [];
afterEach(async () => {
  await Promise.all(providers.splice(0).map((p) => p.destroy()));
});

async function setup(options: { maxOpenFiles?: number } = {}) {
  const root = await makeRoot();
  await writeFile(path.join(root, 'a.txt'), 'a');
  const fs = createFsProvider({ root, name: `fs-close-${providers.length}`, ...options });
  providers.push(fs);
  return { root, fs };
}

const isClosed = (error: unknown) => PoolClosedError.isInstance(error);

describe('close and destroy', () => {
  it('are idempotent and publish provider:close once', async () => {
    const { fs } = await setup();
    const closes: KayGraphEvents['provider:close'][] = [];
    const stop = subscribe('provider:close', (event) => {
      if (event.provider === fs.name) closes.push(event);
    });
    await fs.open();
    expect(fs.state).toBe('open');
    const first = fs.close();
    const second = fs.close();
    expect(second).toBe(first);
    await Promise.all([first, second, fs.destroy()]);
    await fs.close();
    stop();
    expect(fs.state).toBe('closed');
    expect(closes).toEqual([expect.objectContaining({ forced: false, kind: 'file' })]);
  });

  it('refuses acquires and every convenience call after close with PoolClosedError', async () => {
    const { fs } = await setup();
    await fs.close();
    await expect(fs.acquire({ path: 'a.txt' })).rejects.toSatisfy(isClosed);
    await expect(fs.writeAtomic('b.txt', 'b')).rejects.toSatisfy(isClosed);
    await expect(fs.tempDir()).rejects.toSatisfy(isClosed);
    await expect(fs.open()).rejects.toSatisfy(isClosed);
  });

  it('refuses acquires after destroy too', async () => {
    const { fs } = await setup();
    await fs.destroy(new Error('shutting down'));
    await expect(fs.acquire({ path: 'a.txt' })).rejects.toSatisfy(isClosed);
    expect(fs.state).toBe('closed');
  });

  it('fails queued acquires at once with PoolClosedError', async () => {
    const { fs } = await setup({ maxOpenFiles: 1 });
    const holder = await fs.acquire({ path: 'a.txt' });
    const queued = fs.acquire({ path: 'a.txt' });
    await vi.waitFor(() => expect(fs.stats().waiting).toBe(1));
    const closing = fs.close({ timeoutMs: 10_000 });
    await expect(queued).rejects.toSatisfy(isClosed);
    await holder.release();
    await closing;
  });

  it('waits for leases to come back, then closes', async () => {
    const { fs } = await setup();
    const lease = await fs.acquire({ path: 'a.txt' });
    const closing = fs.close({ timeoutMs: 10_000 });
    expect(await state(closing)).toBe('pending');
    expect(fs.state).toBe('closing');
    await lease.release();
    await closing;
    expect(fs.stats()).toMatchObject({ size: 0, leaks: 0 });
  });

  it('after the timeout, closes handles still lent and reports them as leaks', async () => {
    const { fs } = await setup();
    const leaks: KayGraphEvents['resource:leak'][] = [];
    const stop = subscribe('resource:leak', (event) => {
      if (event.provider === fs.name) leaks.push(event);
    });
    const lease = await fs.acquire({ path: 'a.txt', owner: { node: 'forgetful' } });
    await fs.close({ timeoutMs: 20 });
    stop();
    expect(lease.returned).toBe(true);
    expect(lease.resource.fd).toBe(-1);
    expect(fs.stats()).toMatchObject({ size: 0, leaks: 1 });
    expect(leaks).toEqual([expect.objectContaining({ owner: { node: 'forgetful' } })]);
  });

  it('destroy closes lent handles at once, and cuts a waiting close short', async () => {
    const { fs } = await setup();
    const lease = await fs.acquire({ path: 'a.txt' });
    const closing = fs.close({ timeoutMs: 60_000 });
    expect(await state(closing)).toBe('pending');
    await fs.destroy();
    await closing;
    expect(lease.resource.fd).toBe(-1);
    expect(fs.stats().size).toBe(0);
  });

  it('lets a write in flight at close time end cleanly or leave nothing', async () => {
    const { root, fs } = await setup();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    async function* waiting() {
      yield Buffer.from('first ');
      await gate;
      yield Buffer.from('second');
    }
    const write = fs.writeAtomic('late.txt', waiting());
    await vi.waitFor(() => expect(fs.stats().inUse).toBe(1));
    const closing = fs.close({ timeoutMs: 10_000 });
    release();
    await expect(write).resolves.toMatchObject({ path: path.join(root, 'late.txt') });
    await closing;
    expect(fs.tempEntriesLeft()).toBe(0);
  });
});
