import type { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import type { LeaseOwner } from '@kaygraph/core';
import type { FsProvider, TempDir } from '@kaygraph/provider-fs';
import { describe, expect, it } from 'vitest';
import { BoundedQueue } from '../src/bounded-queue.js';
import { ndjsonChunks } from '../src/chunk-encodings.js';
import { writeChunks } from '../src/chunk-writer.js';
import type { Row } from '../src/db-source.js';
import { emptyCounters } from '../src/export-counters.js';
import type { ChunkFile } from '../src/export-shared.js';
import { RowCursor } from '../src/row-cursor.js';

/** Rows `{ id }` 0 … count-1 in batches of `size`; `asked` lists the batches handed out. */
function rowSource(count: number, size: number) {
  const asked: number[] = [];
  async function* batches() {
    for (let at = 0; at < count; at += size) {
      asked.push(at / size);
      yield Array.from({ length: Math.min(size, count - at) }, (_, i) => ({ id: at + i }));
    }
  }
  return { cursor: new RowCursor<Row>(batches()), asked };
}

/**
 * The part of the fs provider the writer uses. Each write reads its whole body, then waits for
 * `finish(name)`; `fail` names a write that rejects instead once its body is read.
 */
function fakeFs(options: { fail?: string } = {}) {
  const gates = new Map<string, () => void>();
  const bodies = new Map<string, string[]>();
  let pending = 0;
  const fs = {
    async writeAtomic(path: string, body: Readable) {
      pending += 1;
      try {
        const parts: Buffer[] = [];
        for await (const part of body) parts.push(part as Buffer);
        const name = path.slice(path.lastIndexOf('/') + 1);
        const text = gunzipSync(Buffer.concat(parts)).toString('utf8');
        bodies.set(name, text.trimEnd().split('\n'));
        if (name === options.fail) throw new Error('disk full');
        await new Promise<void>((resolve) => gates.set(name, resolve));
        return { path, bytes: Buffer.concat(parts).length };
      } finally {
        pending -= 1;
      }
    },
  };
  return {
    fs: fs as unknown as FsProvider,
    bodies,
    pending: () => pending,
    waiting: (name: string) => gates.has(name),
    finish: (name: string) => gates.get(name)?.(),
  };
}

const dir = { join: (name: string) => `/scratch/${name}` } as unknown as TempDir;
const owner = { id: 'test' } as unknown as LeaseOwner;

/** Wait for `check` to hold; gzip runs on other threads, so this polls, for 5 s at most. */
async function until(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check() && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  expect(check()).toBe(true);
}

describe('writeChunks', () => {
  it('reads a chunk while the last one is still being written; queues them in order', async () => {
    const { cursor, asked } = rowSource(10, 2);
    const disk = fakeFs();
    const queue = new BoundedQueue<ChunkFile>(10);
    const counters = emptyCounters();
    const writing = writeChunks({
      rows: cursor,
      encoding: ndjsonChunks,
      chunkRows: 4,
      fs: disk.fs,
      dir,
      queue,
      counters,
      signal: new AbortController().signal,
      owner,
    });

    // Chunk 1 is not written yet, and chunk 2 has read its rows (batches 2 and 3) already.
    await until(() => disk.waiting('chunk-000002.ndjson.gz'));
    expect(disk.waiting('chunk-000001.ndjson.gz')).toBe(true);
    expect(asked).toContain(3);
    expect(queue.size).toBe(0);

    for (const index of [1, 2, 3]) {
      await until(() => disk.waiting(`chunk-00000${index}.ndjson.gz`));
      disk.finish(`chunk-00000${index}.ndjson.gz`);
    }
    await writing;

    const chunks: ChunkFile[] = [];
    for (let next = await queue.take(); !next.done; next = await queue.take()) {
      chunks.push(next.value);
    }
    expect(chunks.map((c) => [c.index, c.rows])).toEqual([
      [1, 4],
      [2, 4],
      [3, 2],
    ]);
    const ids = chunks.flatMap((c) => disk.bodies.get(c.name)!.map((l) => JSON.parse(l).id));
    expect(ids).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(counters).toMatchObject({ rowsWritten: 10, chunksWritten: 3 });
  });

  it('fails with a write that failed, only once no write is left under way', async () => {
    const { cursor } = rowSource(10, 2);
    const disk = fakeFs({ fail: 'chunk-000002.ndjson.gz' });
    const queue = new BoundedQueue<ChunkFile>(10);
    let settled = false;
    const writing = writeChunks({
      rows: cursor,
      encoding: ndjsonChunks,
      chunkRows: 4,
      fs: disk.fs,
      dir,
      queue,
      counters: emptyCounters(),
      signal: new AbortController().signal,
      owner,
    }).finally(() => {
      settled = true;
    });
    const outcome = writing.catch((error: unknown) => error);

    await until(() => disk.waiting('chunk-000001.ndjson.gz'));
    disk.finish('chunk-000001.ndjson.gz');
    await until(() => disk.waiting('chunk-000003.ndjson.gz'));
    expect(settled).toBe(false);
    disk.finish('chunk-000003.ndjson.gz');

    expect(((await outcome) as Error).message).toBe('disk full');
    expect(disk.pending()).toBe(0);
    const first = await queue.take();
    expect(first.value?.index).toBe(1);
    expect((await queue.take()).done).toBe(true);
  });
});
