import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { gzipNdjson } from '../src/ndjson-gzip.js';

async function* batchesOf(rows: unknown[], size: number) {
  for (let at = 0; at < rows.length; at += size) yield rows.slice(at, at + size);
}

async function lines(rows: unknown[], batchSize = 2, onRows?: (count: number) => void) {
  const chunks: Buffer[] = [];
  for await (const chunk of gzipNdjson(batchesOf(rows, batchSize), onRows)) {
    chunks.push(chunk as Buffer);
  }
  return gunzipSync(Buffer.concat(chunks)).toString('utf8').trimEnd().split('\n');
}

describe('gzipNdjson', () => {
  it('writes one JSON text per row', async () => {
    const out = await lines([{ id: 1, name: 'a' }, { id: 2, name: 'b\nc' }]);

    expect(out.map((line) => JSON.parse(line))).toEqual([
      { id: 1, name: 'a' },
      { id: 2, name: 'b\nc' },
    ]);
  });

  it('keeps a BigInt exact, as a string, in the row that holds one', async () => {
    const out = await lines([{ id: 1 }, { id: 2n ** 70n }, { id: 3 }]);

    expect(out).toEqual(['{"id":1}', `{"id":"${(2n ** 70n).toString()}"}`, '{"id":3}']);
  });

  it('keeps the order of rows across batches and across pieces, and counts every row', async () => {
    // About 300 kB of lines: several pieces handed to gzip, and pieces that end inside a batch.
    const rows = Array.from({ length: 3000 }, (_, id) => ({ id, text: 'x'.repeat(90) }));
    const counts: number[] = [];

    const out = await lines(rows, 700, (count) => counts.push(count));

    expect(out.map((line) => JSON.parse(line).id)).toEqual(rows.map((row) => row.id));
    expect(counts).toEqual([700, 700, 700, 700, 200]);
  });
});
