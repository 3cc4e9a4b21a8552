import { describe, expect, it } from 'vitest';
import { RowCursor } from '../src/row-cursor.js';

async function* batches(sizes: number[]) {
  let next = 0;
  for (const size of sizes) {
    yield Array.from({ length: size }, () => next++);
  }
}

async function takeAll(cursor: RowCursor<number>, limit: number): Promise<number[][]> {
  const taken: number[][] = [];
  for await (const rows of cursor.take(limit)) taken.push([...rows]);
  return taken;
}

describe('RowCursor', () => {
  it('hands out up to the limit, a batch or the rest of one at a time, in order', async () => {
    const read: number[] = [];
    const cursor = new RowCursor(batches([3, 3, 3]), (count) => read.push(count));

    expect(await takeAll(cursor, 4)).toEqual([[0, 1, 2], [3]]);
    expect(await takeAll(cursor, 4)).toEqual([[4, 5], [6, 7]]);
    expect(await cursor.hasMore()).toBe(true);
    expect(await takeAll(cursor, 4)).toEqual([[8]]);
    expect(await cursor.hasMore()).toBe(false);
    expect(await takeAll(cursor, 4)).toEqual([]);
    expect(read).toEqual([3, 3, 3]);
  });

  it('skips empty batches and ends its source when closed early', async () => {
    let ended = false;
    async function* source() {
      try {
        yield [];
        yield [1, 2];
        yield [3];
      } finally {
        ended = true;
      }
    }
    const cursor = new RowCursor<number>(source());

    expect(await takeAll(cursor, 1)).toEqual([[1]]);
    await cursor.close();

    expect(ended).toBe(true);
    expect(await cursor.hasMore()).toBe(false);
  });

  it('asks for the next batch as soon as it hands one over', async () => {
    const asked: number[] = [];
    async function* source() {
      for (let i = 0; i < 3; i += 1) {
        asked.push(i);
        yield [i];
      }
    }
    const cursor = new RowCursor<number>(source());

    expect(await cursor.hasMore()).toBe(true);
    await Promise.resolve(); // let the generator run up to its next yield

    expect(asked).toEqual([0, 1]);
    expect(await takeAll(cursor, 1)).toEqual([[0]]);
    expect(await cursor.hasMore()).toBe(true); // now on [1]
    await Promise.resolve();
    expect(asked).toEqual([0, 1, 2]);
  });

  it('throws a failed read-ahead from the hasMore that reaches it, not before', async () => {
    async function* source() {
      yield [1, 2];
      throw new Error('connection lost');
    }
    const cursor = new RowCursor<number>(source());

    // The failure has happened by now, and nothing has taken it yet.
    expect(await takeAll(cursor, 2)).toEqual([[1, 2]]);
    await new Promise((resolve) => setImmediate(resolve));

    await expect(cursor.hasMore()).rejects.toThrow('connection lost');
  });

  it('on close, ends the source once the read under way has settled', async () => {
    let release: (() => void) | undefined;
    let ended = false;
    async function* source() {
      try {
        yield [1];
        await new Promise<void>((resolve) => {
          release = resolve;
        });
        yield [2];
      } finally {
        ended = true;
      }
    }
    const cursor = new RowCursor<number>(source());
    expect(await takeAll(cursor, 1)).toEqual([[1]]);

    const closed = cursor.close();
    await new Promise((resolve) => setImmediate(resolve));
    expect(ended).toBe(false);
    release?.();
    await closed;

    expect(ended).toBe(true);
  });
});

