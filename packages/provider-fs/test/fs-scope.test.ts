import type { FileHandle } from 'node:fs/promises';
import { readdir } from 'node:fs/promises';
import { ResourcePool, ScopeClosedError } from '@kaygraph/core';
import { describe, expect, it } from 'vitest';
import { type FsAcquireOptions, createFsProvider } from '../src/index.js';
import { useTempRoots } from './helpers.js';

const makeRoot = useTempRoots();

describe('with core ResourcePool and Scope', () => {
  it('a run scope returns its file leases and removes its temp dirs when it ends', async () => {
    const root = await makeRoot();
    const fs = createFsProvider({ root });
    const resources = new ResourcePool().add(fs);
    await resources.open();
    try {
      const scope = resources.scope('run-1');
      const tmp = await fs.tempDir({ scope });
      // Typed as the provider's options, which extend core's AcquireOptions that Scope takes.
      const options: FsAcquireOptions = { path: tmp.join('chunk.txt'), flags: 'w' };
      const lease = await scope.acquire<FileHandle>('fs', options);
      await lease.resource.writeFile('chunk');
      expect(fs.stats().inUse).toBe(1);

      await scope.close().catch(() => undefined); // the lease still out is reported as a leak
      expect(lease.returned).toBe(true);
      expect(fs.stats()).toMatchObject({ inUse: 0, size: 0 });
      expect(fs.tempEntriesLeft()).toBe(0);
    } finally {
      await resources.close();
    }
    expect(await readdir(root)).toEqual([]);
  });
});

describe('with a scope that has already ended', () => {
  it('removes the temp dir at once and passes the refusal on', async () => {
    const root = await makeRoot();
    const fs = createFsProvider({ root });
    const resources = new ResourcePool().add(fs);
    const scope = resources.scope('ended');
    await scope.close();
    await expect(fs.tempDir({ scope })).rejects.toSatisfy((e) => ScopeClosedError.isInstance(e));
    expect(fs.tempEntriesLeft()).toBe(0);
    await resources.close();
    await fs.close();
  });
});
