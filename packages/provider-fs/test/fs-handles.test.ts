import { stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  AbortedError,
  AcquireTimeoutError,
  ConfigInvalidError,
  type KayGraphEvents,
  LeaseReleasedError,
  subscribe,
} from '@kaygraph/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FsError, type FsProvider, createFsProvider } from '../src/index.js';
import { state, useTempRoots } from './helpers.js';

const makeRoot = useTempRoots();
const providers: FsProvider[] = [];
afterEach(async () => {
  await Promise.all(providers.splice(0).map((p) => p.destroy()));
});

async function setup(options: { maxOpenFiles?: number; acquireTimeoutMs?: number } = {}) {
  const root = await makeRoot();
  for (const name of ['a.txt', 'b.txt', 'c.txt', 'd.txt']) {
    await writeFile(path.join(root, name), name);
  }
  const fs = createFsProvider({ root, name: `fs-${providers.length}`, ...options });
  providers.push(fs);
  return { root, fs };
}

describe('file handle cap', () => {
  it('lends an open handle and closes it when the lease is released', async () => {
    const { fs } = await setup();
    const lease = await fs.acquire({ path: 'a.txt' });
    expect(await lease.resource.readFile('utf8')).toBe('a.txt');
    expect(fs.stats()).toMatchObject({ size: 1, inUse: 1, created: 1, acquired: 1 });
    await lease.release();
    expect(lease.resource.fd).toBe(-1);
    expect(fs.stats()).toMatchObject({ size: 0, inUse: 0, destroyed: 1, released: 1 });
    await expect(lease.release()).rejects.toSatisfy((e) => LeaseReleasedError.isInstance(e));
  });

  it('with maxOpenFiles 2, the third acquire waits until a lease comes back', async () => {
    const { fs } = await setup({ maxOpenFiles: 2 });
    const first = await fs.acquire({ path: 'a.txt' });
    const second = await fs.acquire({ path: 'b.txt' });
    const third = fs.acquire({ path: 'c.txt' });
    await vi.waitFor(() => expect(fs.stats().waiting).toBe(1));
    expect(await state(third)).toBe('pending');
    expect(fs.stats()).toMatchObject({ size: 2, inUse: 2 });

    await first.release();
    const lease = await third;
    expect(await lease.resource.readFile('utf8')).toBe('c.txt');
    expect(fs.stats()).toMatchObject({ size: 2, inUse: 2, waiting: 0 });
    await second.release();
    await lease.release();
    expect(fs.stats().size).toBe(0);
  });

  it('serves waiters first come, first served', async () => {
    const { fs } = await setup({ maxOpenFiles: 1 });
    const holder = await fs.acquire({ path: 'a.txt' });
    const order: string[] = [];
    const waits = ['b.txt', 'c.txt', 'd.txt'].map((name) =>
      fs.acquire({ path: name }).then(async (lease) => {
        order.push(name);
        await lease.release();
      }),
    );
    await vi.waitFor(() => expect(fs.stats().waiting).toBe(3));
    await holder.release();
    await Promise.all(waits);
    expect(order).toEqual(['b.txt', 'c.txt', 'd.txt']);
  });

  it('times out a waiting acquire with AcquireTimeoutError and counts it', async () => {
    const { fs } = await setup({ maxOpenFiles: 1 });
    const timeouts: KayGraphEvents['resource:acquire-timeout'][] = [];
    const stop = subscribe('resource:acquire-timeout', (event) => {
      if (event.provider === fs.name) timeouts.push(event);
    });
    const holder = await fs.acquire({ path: 'a.txt' });
    const error = await fs.acquire({ path: 'b.txt', timeoutMs: 20 }).catch((e: unknown) => e);
    stop();
    expect(AcquireTimeoutError.isInstance(error)).toBe(true);
    expect((error as AcquireTimeoutError).code).toBe('KG_ACQUIRE_TIMEOUT');
    expect(fs.stats()).toMatchObject({ acquireTimeouts: 1, waiting: 0, size: 1 });
    expect(timeouts).toHaveLength(1);
    await holder.release();
    const next = await fs.acquire({ path: 'b.txt' });
    await next.release();
  });

  it('fails at once with a zero timeout when no slot is free', async () => {
    const { fs } = await setup({ maxOpenFiles: 1, acquireTimeoutMs: 0 });
    const holder = await fs.acquire({ path: 'a.txt' });
    await expect(fs.acquire({ path: 'b.txt' })).rejects.toSatisfy((e) =>
      AcquireTimeoutError.isInstance(e),
    );
    await holder.release();
  });

  it('stops waiting when the signal aborts, and never hands out the handle', async () => {
    const { fs } = await setup({ maxOpenFiles: 1 });
    const holder = await fs.acquire({ path: 'a.txt' });
    const controller = new AbortController();
    const waiting = fs.acquire({ path: 'b.txt', signal: controller.signal });
    await vi.waitFor(() => expect(fs.stats().waiting).toBe(1));
    controller.abort();
    await expect(waiting).rejects.toSatisfy((e) => AbortedError.isInstance(e));
    expect(fs.stats()).toMatchObject({ waiting: 0, size: 1 });
    await holder.release();
    await expect(fs.acquire({ path: 'b.txt', signal: controller.signal })).rejects.toSatisfy((e) =>
      AbortedError.isInstance(e),
    );
    expect(fs.stats().size).toBe(0);
  });

  it('gives the slot back when the open fails', async () => {
    const { fs } = await setup({ maxOpenFiles: 1 });
    const error = await fs.acquire({ path: 'missing.txt' }).catch((e: unknown) => e);
    expect(FsError.isInstance(error)).toBe(true);
    expect((error as FsError).fsCode).toBe('ENOENT');
    expect((error as Error).message).toContain('missing.txt');
    expect(fs.stats()).toMatchObject({ size: 0, errors: 1 });
    const lease = await fs.acquire({ path: 'a.txt', timeoutMs: 0 });
    await lease.release();
  });

  it('refuses bad open flags as a typed option error, not a file-system failure', async () => {
    const { fs } = await setup();
    for (const flags of ['bogus', 'rw', -1, 1.5]) {
      const error = await fs.acquire({ path: 'a.txt', flags }).catch((e: unknown) => e);
      expect(ConfigInvalidError.isInstance(error)).toBe(true);
      expect((error as Error).message).toContain(String(flags));
    }
    expect(fs.stats()).toMatchObject({ size: 0, errors: 0, acquired: 0 });
    const lease = await fs.acquire({ path: 'new.txt', flags: 'xw' });
    await lease.release();
  });

  it('creates new files private to the user (mode 0600) unless told otherwise', async () => {
    const { root, fs } = await setup();
    const lease = await fs.acquire({ path: 'new.txt', flags: 'w' });
    await lease.resource.writeFile('x');
    await lease.release();
    expect((await stat(path.join(root, 'new.txt'))).mode & 0o777).toBe(0o600);
    const shared = await fs.acquire({ path: 'shared.txt', flags: 'w', mode: 0o640 });
    await shared.release();
    expect((await stat(path.join(root, 'shared.txt'))).mode & 0o777).toBe(0o640);
  });

  it('closes the handle with `await using`', async () => {
    const { fs } = await setup();
    let fd = 0;
    {
      await using lease = await fs.acquire({ path: 'a.txt', owner: { node: 'reader' } });
      fd = lease.resource.fd;
      expect(lease.owner).toEqual({ node: 'reader' });
    }
    expect(fd).toBeGreaterThan(0);
    expect(fs.stats()).toMatchObject({ size: 0, released: 1 });
  });
});
