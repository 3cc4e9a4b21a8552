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
});
