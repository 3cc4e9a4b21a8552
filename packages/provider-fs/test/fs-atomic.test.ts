import { open, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { AbortedError, ConfigInvalidError } from '@kaygraph/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FsError, type FsProvider, createFsProvider } from '../src/index.js';
import { useTempRoots } from './helpers.js';

const makeRoot = useTempRoots();
const providers: FsProvider[] = [];
afterEach(async () => {
  await Promise.all(providers.splice(0).map((p) => p.destroy()));
});

async function setup(options: { maxOpenFiles?: number } = {}) {
  const root = await makeRoot();
  const fs = createFsProvider({ root, ...options });
  providers.push(fs);
  return { root, fs };
}

async function* chunks(count: number, size: number, failAt = -1) {
  for (let i = 0; i < count; i++) {
    if (i === failAt) throw new Error('source broke');
    yield Buffer.alloc(size, 97 + (i % 26));
  }
}

describe('writeAtomic', () => {
  it('writes text, bytes, iterables and streams, with mode 0600', async () => {
    const { root, fs } = await setup();
    const text = await fs.writeAtomic('a.txt', 'hello');
    expect(text).toEqual({ path: path.join(root, 'a.txt'), bytes: 5 });
    await fs.writeAtomic('b.bin', new Uint8Array([1, 2, 3]));
    await fs.writeAtomic('c.txt', chunks(3, 4));
    await fs.writeAtomic('d.txt', Readable.from(['x', 'y', 'z']));
    await fs.writeAtomic('e.txt', [Buffer.from('it'), Buffer.from('er')]);
    expect(await readFile(path.join(root, 'a.txt'), 'utf8')).toBe('hello');
    expect([...(await readFile(path.join(root, 'b.bin')))]).toEqual([1, 2, 3]);
    expect(await readFile(path.join(root, 'c.txt'), 'utf8')).toBe('aaaabbbbcccc');
    expect(await readFile(path.join(root, 'd.txt'), 'utf8')).toBe('xyz');
    expect(await readFile(path.join(root, 'e.txt'), 'utf8')).toBe('iter');
    expect((await stat(path.join(root, 'a.txt'))).mode & 0o777).toBe(0o600);
    expect(fs.stats()).toMatchObject({ size: 0, inUse: 0 });
    expect(fs.tempEntriesLeft()).toBe(0);
  });

  it('fsyncs the file and its directory unless durable is false; atomic either way', async () => {
    const { root, fs } = await setup();
    // Both fsyncs go through a FileHandle: the stream's flush, and the directory's handle.
    const probe = await open(root, 'r');
    const sync = vi.spyOn(Object.getPrototypeOf(probe), 'sync');
    await probe.close();
    try {
      await fs.writeAtomic('durable.txt', chunks(3, 4));
      expect(sync).toHaveBeenCalledTimes(2);
      sync.mockClear();

      await writeFile(path.join(root, 'scratch.txt'), 'old');
      const seen: string[] = [];
      async function* lines() {
        yield Buffer.from('new ');
        seen.push(await readFile(path.join(root, 'scratch.txt'), 'utf8'));
        yield Buffer.from('content');
      }
      const written = await fs.writeAtomic('scratch.txt', lines(), { durable: false });

      expect(sync).not.toHaveBeenCalled();
      expect(written.bytes).toBe(11);
      expect(seen).toEqual(['old']);
      expect(await readFile(path.join(root, 'scratch.txt'), 'utf8')).toBe('new content');
      await expect(
        fs.writeAtomic('broken.txt', chunks(4, 16, 2), { durable: false }),
      ).rejects.toThrow('source broke');
      expect((await readdir(root)).sort()).toEqual(['durable.txt', 'scratch.txt']);
      expect(fs.tempEntriesLeft()).toBe(0);
    } finally {
      sync.mockRestore();
    }
  });

  it('refuses a durable option that is not a boolean, naming it', async () => {
    const { root, fs } = await setup();
    const error = await fs
      .writeAtomic('x.txt', 'x', { durable: 'no' as unknown as boolean })
      .catch((e: unknown) => e);
    expect(ConfigInvalidError.isInstance(error)).toBe(true);
    expect((error as ConfigInvalidError).code).toBe('KG_CONFIG_INVALID');
    expect((error as Error).message).toContain('durable');
    expect(await readdir(root)).toEqual([]);
  });

  it('replaces an existing file only once the new one is complete', async () => {
    const { root, fs } = await setup();
    const target = path.join(root, 'report.json');
    await writeFile(target, 'old');
    const seen: string[] = [];
    async function* slow() {
      yield Buffer.from('new ');
      seen.push(await readFile(target, 'utf8'));
      yield Buffer.from('content');
    }
    await fs.writeAtomic('report.json', slow(), { mode: 0o644 });
    expect(seen).toEqual(['old']);
    expect(await readFile(target, 'utf8')).toBe('new content');
    expect((await stat(target)).mode & 0o777).toBe(0o644);
  });

  it('leaves nothing at the path and no temp file when the source throws midway', async () => {
    const { root, fs } = await setup();
    const error = await fs.writeAtomic('out.bin', chunks(10, 1024, 5)).catch((e: unknown) => e);
    expect((error as Error).message).toBe('source broke');
    expect(await readdir(root)).toEqual([]);
    expect(fs.tempEntriesLeft()).toBe(0);
    expect(fs.stats()).toMatchObject({ size: 0, inUse: 0 });
  });

  it('keeps the old file when a replacement fails', async () => {
    const { root, fs } = await setup();
    await writeFile(path.join(root, 'keep.txt'), 'old');
    await expect(fs.writeAtomic('keep.txt', chunks(4, 16, 2))).rejects.toThrow('source broke');
    expect(await readFile(path.join(root, 'keep.txt'), 'utf8')).toBe('old');
    expect(await readdir(root)).toEqual(['keep.txt']);
  });

  it('honours an abort midway: AbortedError, nothing at the path, no temp file', async () => {
    const { root, fs } = await setup();
    const controller = new AbortController();
    async function* endless() {
      for (let i = 0; ; i++) {
        if (i === 3) controller.abort();
        yield Buffer.alloc(4096, 1);
      }
    }
    const write = fs.writeAtomic('aborted.bin', endless(), { signal: controller.signal });
    await expect(write).rejects.toSatisfy((e) => AbortedError.isInstance(e));
    expect(await readdir(root)).toEqual([]);
    expect(fs.tempEntriesLeft()).toBe(0);
  });

  it('does not start when the signal is already aborted', async () => {
    const { root, fs } = await setup();
    const write = fs.writeAtomic('never.txt', 'x', { signal: AbortSignal.abort() });
    await expect(write).rejects.toSatisfy((e) => AbortedError.isInstance(e));
    expect(await readdir(root)).toEqual([]);
  });

  it('fails with FsError naming the path when the directory is missing', async () => {
    const { root, fs } = await setup();
    const error = await fs.writeAtomic('no/such/dir/x.txt', 'x').catch((e: unknown) => e);
    expect(FsError.isInstance(error)).toBe(true);
    expect((error as FsError).fsCode).toBe('ENOENT');
    expect((error as Error).message).toContain('no/such/dir/x.txt');
    expect(await readdir(root)).toEqual([]);
    expect(fs.tempEntriesLeft()).toBe(0);
  });

  it('holds one handle slot while writing', async () => {
    const { fs } = await setup({ maxOpenFiles: 1 });
    let inUseWhileWriting = -1;
    async function* watch() {
      yield Buffer.from('a');
      inUseWhileWriting = fs.stats().inUse;
      yield Buffer.from('b');
    }
    await fs.writeAtomic('w.txt', watch());
    expect(inUseWhileWriting).toBe(1);
    expect(fs.stats()).toMatchObject({ inUse: 0, size: 0, acquired: 1, released: 1 });
  });

  it('streams 50 MB with backpressure instead of buffering it', async () => {
    const { root, fs } = await setup();
    const chunkSize = 64 * 1024;
    const total = 50 * 1024 * 1024;
    collectGarbage();
    const before = process.memoryUsage();
    let peakHeap = before.heapUsed;
    let peakBuffers = before.arrayBuffers;
    let maxAhead = 0;
    let produced = 0;
    async function* big() {
      while (produced < total) {
        yield Buffer.alloc(chunkSize, produced % 251);
        produced += chunkSize;
        if ((produced / chunkSize) % 16 === 0) {
          collectGarbage(); // so what is measured is what is held, not what awaits collection
          const usage = process.memoryUsage();
          peakHeap = Math.max(peakHeap, usage.heapUsed);
          peakBuffers = Math.max(peakBuffers, usage.arrayBuffers);
          maxAhead = Math.max(maxAhead, produced - (await bytesOnDisk(root)));
        }
      }
    }
    const result = await fs.writeAtomic('big.bin', big());
    expect(result.bytes).toBe(total);
    expect((await stat(path.join(root, 'big.bin'))).size).toBe(total);
    // The writer pulls a chunk only once the file has taken the previous ones: the producer is
    // never more than a few chunks ahead of the disk, and memory stays far below 50 MB.
    expect(maxAhead).toBeLessThan(1024 * 1024);
    expect(peakHeap - before.heapUsed).toBeLessThan(10 * 1024 * 1024);
    expect(peakBuffers - before.arrayBuffers).toBeLessThan(10 * 1024 * 1024);
  });
});

/** V8's `gc()`, reached without a command-line flag (the flag only has to be set before use). */
function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

/** Size of the temp file being written in `dir` (0 before it exists). */
async function bytesOnDisk(dir: string): Promise<number> {
  const names = await readdir(dir);
  const temp = names.find((name) => name.endsWith('.tmp'));
  if (temp === undefined) return 0;
  return (await stat(path.join(dir, temp))).size;
}
