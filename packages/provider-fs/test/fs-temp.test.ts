import { readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { AbortedError, PoolClosedError } from '@kaygraph/core';
import { afterEach, describe, expect, it } from 'vitest';
import { type FsProvider, FsPathError, createFsProvider } from '../src/index.js';
import { inScope, useTempRoots } from './helpers.js';

const makeRoot = useTempRoots();
const providers: FsProvider[] = [];
afterEach(async () => {
  await Promise.all(providers.splice(0).map((p) => p.destroy()));
});

async function setup(options: { tempRoot?: string } = {}) {
  const root = await makeRoot();
  const fs = createFsProvider({ root, ...options });
  providers.push(fs);
  return { root, fs };
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

async function modeOf(file: string): Promise<number> {
  return (await stat(file)).mode & 0o777;
}

describe('temp directories', () => {
  it('creates private directories (0700) under <root>/.kaygraph-tmp', async () => {
    const { root, fs } = await setup();
    const tmp = await fs.tempDir({ prefix: 'export-' });
    expect(path.dirname(tmp.path)).toBe(path.join(root, '.kaygraph-tmp'));
    expect(path.basename(tmp.path)).toMatch(/^export-/);
    expect(await modeOf(tmp.path)).toBe(0o700);
    expect(await modeOf(path.join(root, '.kaygraph-tmp'))).toBe(0o700);
    expect(fs.tempEntriesLeft()).toBe(1);
    await tmp.remove();
    await tmp.remove();
    expect(await exists(tmp.path)).toBe(false);
    expect(fs.tempEntriesLeft()).toBe(0);
  });

  it('writes temp files private to the user (0600)', async () => {
    const { fs } = await setup();
    const tmp = await fs.tempDir();
    await fs.writeAtomic(tmp.join('chunk-1.ndjson'), '{"a":1}\n');
    const lease = await fs.acquire({ path: tmp.join('chunk-2.ndjson'), flags: 'w' });
    await lease.release();
    expect(await modeOf(tmp.join('chunk-1.ndjson'))).toBe(0o600);
    expect(await modeOf(tmp.join('chunk-2.ndjson'))).toBe(0o600);
    await tmp.remove();
  });

  it('is removed when its scope ends with success', async () => {
    const { fs } = await setup();
    const dir = await inScope(async (scope) => {
      const tmp = await fs.tempDir({ scope });
      await writeFile(tmp.join('a.txt'), 'a');
      expect(fs.tempEntriesLeft()).toBe(1);
      return tmp.path;
    });
    expect(await exists(dir)).toBe(false);
    expect(fs.tempEntriesLeft()).toBe(0);
  });

  it('is removed when its scope ends with a throw', async () => {
    const { fs } = await setup();
    let dir = '';
    const failure = inScope(async (scope) => {
      const tmp = await fs.tempDir({ scope });
      dir = tmp.path;
      await fs.writeAtomic(tmp.join('a.txt'), 'a');
      throw new Error('node failed');
    });
    await expect(failure).rejects.toThrow('node failed');
    expect(await exists(dir)).toBe(false);
    expect(fs.tempEntriesLeft()).toBe(0);
  });

  it('is removed when its scope ends with an abort', async () => {
    const { fs } = await setup();
    const controller = new AbortController();
    let dir = '';
    async function* endless() {
      for (;;) {
        yield Buffer.alloc(1024, 1);
        controller.abort();
      }
    }
    const run = inScope(async (scope) => {
      const tmp = await fs.tempDir({ scope, signal: controller.signal });
      dir = tmp.path;
      await fs.writeAtomic(tmp.join('big.bin'), endless(), { signal: controller.signal });
    });
    await expect(run).rejects.toSatisfy((e) => AbortedError.isInstance(e));
    expect(await exists(dir)).toBe(false);
    expect(fs.tempEntriesLeft()).toBe(0);
  });

  it('keeps join() inside the directory', async () => {
    const { fs } = await setup();
    const tmp = await fs.tempDir();
    expect(tmp.join('a', 'b.txt')).toBe(path.join(tmp.path, 'a', 'b.txt'));
    expect(() => tmp.join('../escape.txt')).toThrow(FsPathError);
    expect(() => tmp.join('.')).toThrow(FsPathError);
    await tmp.remove();
  });

  it('counts what is on disk: an entry removed by someone else no longer counts', async () => {
    const { fs } = await setup();
    const first = await fs.tempDir();
    await fs.tempDir();
    expect(fs.tempEntriesLeft()).toBe(2);
    await import('node:fs/promises').then((m) => m.rm(first.path, { recursive: true }));
    expect(fs.tempEntriesLeft()).toBe(1);
  });

  it('removes what is left, and the temp root it made, on close', async () => {
    const { root, fs } = await setup();
    await fs.tempDir();
    await fs.tempDir();
    await fs.close();
    expect(fs.tempEntriesLeft()).toBe(0);
    expect(await readdir(root)).toEqual([]);
    await expect(fs.tempDir()).rejects.toSatisfy((e) => PoolClosedError.isInstance(e));
  });

  it('uses a temp root outside the root when told to, and accepts paths there', async () => {
    const elsewhere = await makeRoot();
    const { root, fs } = await setup({ tempRoot: path.join(elsewhere, 'tmp') });
    const tmp = await fs.tempDir();
    expect(path.dirname(tmp.path)).toBe(path.join(elsewhere, 'tmp'));
    const written = await fs.writeAtomic(tmp.join('x.txt'), 'x');
    expect(written.path).toBe(tmp.join('x.txt'));
    await fs.close();
    expect(await readdir(elsewhere)).toEqual([]);
    expect(await readdir(root)).toEqual([]);
  });

  it('refuses a prefix that is not a plain name', async () => {
    const { fs } = await setup();
    await expect(fs.tempDir({ prefix: '../x' })).rejects.toThrow('prefix');
    expect(fs.tempEntriesLeft()).toBe(0);
  });
});
