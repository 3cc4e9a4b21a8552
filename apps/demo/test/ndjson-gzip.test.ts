import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { gzipNdjson } from '../src/ndjson-gzip.js';

async function* rowsOf(rows: unknown[]) {
  yield* rows;
}

async function lines(rows: unknown[]): Promise<string[]> {
  const chunks: Buffer[] = [];
  for await (const chunk of gzipNdjson(rowsOf(rows))) chunks.push(chunk as Buffer);
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
});
