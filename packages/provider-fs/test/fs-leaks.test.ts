import { type KayGraphEvents, ResourcePool, subscribe } from '@kaygraph/core';
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

async function provider(leakDetectionMs = 0): Promise<FsProvider> {
  const fs = createFsProvider({ name: 'files', root: await makeRoot(), leakDetectionMs });
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
