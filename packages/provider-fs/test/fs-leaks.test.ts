import { type KayGraphEvents, LeaseRevokedError, ResourcePool, subscribe } from '@kaygraph/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type FsProvider, createFsProvider } from '../src/index.js';
import { useTempRoots } from './helpers.js';

const makeRoot = useTempRoots();
const stops: (() => void)[] = [];
const providers: FsProvider[] = [];

afterEach(async () => {
  for (const stop of stops.splice(0)) stop();
  await Promise.all(providers.splice(0).map((p) => p.destroy()));
});

async function provider(leakDetectionMs = 0, maxOpenFiles?: number): Promise<FsProvider> {
  const root = await makeRoot();
  const fs = createFsProvider({ name: 'files', root, leakDetectionMs, maxOpenFiles });
  providers.push(fs);
  return fs;
}

function listen<N extends 'resource:leak' | 'resource:leak-returned'>(name: N) {
  const seen: KayGraphEvents[N][] = [];
  stops.push(subscribe(name, (e) => e.provider === 'files' && seen.push(e)));
  return seen;
}

describe('a file handle never given back', () => {
  it('is reported past leakDetectionMs with the borrower stack, and again on return', async () => {
    const fs = await provider(20);
    const leaks = listen('resource:leak');
    const returned = listen('resource:leak-returned');

    const lease = await fs.acquire({ path: 'out.txt', flags: 'w' });
    await vi.waitFor(() => expect(leaks).toHaveLength(1));
    await lease.release();

    expect(leaks[0]?.stack).toContain('fs-leaks.test.ts');
    expect(returned).toMatchObject([{ leaseId: lease.id }]);
    expect(fs.stats()).toMatchObject({ leaks: 1, inUse: 0 });
  });

  it('carries the stack of a borrower who waited for a handle, not of the one who freed it', async () => {
    const fs = await provider(20, 1);
    const leaks = listen('resource:leak');
    const first = await fs.acquire({ path: 'a.txt', flags: 'w' });
    // Neither function is async, so no async frame would name them after the wait.
    const waitForHandle = () => fs.acquire({ path: 'b.txt', flags: 'w' });
    const closeFirst = () => first.release();
    const waiting = waitForHandle();
    await vi.waitFor(() => expect(fs.stats().waiting).toBe(1));
    await closeFirst();

    const lease = await waiting;
    await vi.waitFor(() => expect(leaks.map((e) => e.leaseId)).toContain(lease.id));

    const stack = leaks.find((e) => e.leaseId === lease.id)?.stack;
    expect(stack).toContain('waitForHandle');
    expect(stack).not.toContain('closeFirst');
    await lease.release();
  });

  it('revokes a handle still out at destroy: its late release is refused and counts nothing', async () => {
    const fs = await provider();
    const lease = await fs.acquire({ path: 'out.txt', flags: 'w' });
    await fs.destroy(new Error('shutting down'));
    const before = fs.stats();

    const late = await lease.release().catch((e: unknown) => e);

    expect(LeaseRevokedError.isInstance(late)).toBe(true);
    expect(fs.stats()).toEqual(before);
    expect(before).toMatchObject({ inUse: 0, acquired: 1, released: 1 });
  });

  it('is closed when its scope ends, and counted as a leak by the provider', async () => {
    const fs = await provider();
    const leaks = listen('resource:leak');
    const scope = new ResourcePool().add(fs).scope('step');

    const lease = await scope.acquire('files', { path: 'out.txt', flags: 'w' });
    await scope.close();

    expect(lease.returned).toBe(true);
    expect(leaks).toHaveLength(1);
    expect(leaks[0]?.stack).toContain('fs-leaks.test.ts');
    expect(fs.stats()).toMatchObject({ leaks: 1, inUse: 0 });
  });
});
