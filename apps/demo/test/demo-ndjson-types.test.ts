import { randomBytes } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StoredUpload, type UploadReceiver, startUploadReceiver } from '../src/receiver.js';
import { type Workspace, makeWorkspace, runCli } from './helpers/cli.js';

const serverUrl = process.env.KAYGRAPH_TEST_PG_URL;
if (serverUrl === undefined) {
  console.log('demo-ndjson-types: skipped, KAYGRAPH_TEST_PG_URL is not set (no real PostgreSQL)');
}

/**
 * One row per case: values JSON has no literal for (NaN, ±Infinity, infinite dates), bytes, SQL
 * NULL, and the types whose encoding stays as it was (json, int8, numeric, finite values).
 */
const ROWS_SQL = `
  INSERT INTO %TABLE% VALUES
    (1, 'NaN', 'NaN', 'infinity', 'infinity', 'infinity', '\\xdeadbeef', '{"a":[1,2]}',
        9007199254740993, 12345678901234567890.123, '{NaN,Infinity,-Infinity,1.5}', '{"\\\\x00ff",NULL}'),
    (2, 'Infinity', 'Infinity', '-infinity', '-infinity', '-infinity', '\\x', 'null',
        -1, 0.5, '{}', '{}'),
    (3, '-Infinity', '-Infinity', '2024-02-29', '2024-02-29 12:34:56', '2024-02-29 12:34:56+00',
        '\\x00', '"text"', 0, -1e-20, NULL, NULL),
    (4, 1.25, 2.5, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '{NULL}', '{NULL}')`;

describe.skipIf(serverUrl === undefined)('NDJSON encoding of PostgreSQL types', () => {
  const table = `kaygraph_ndjson_types_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  const stored: StoredUpload[] = [];
  let receiver: UploadReceiver;
  let workspace: Workspace;

  beforeAll(async () => {
    await admin.connect();
    await admin.query(`CREATE TABLE ${table} (
      id int PRIMARY KEY, f8 float8, f4 float4, d date, ts timestamp, tstz timestamptz,
      b bytea, j json, i8 int8, n numeric, f8s float8[], bs bytea[])`);
    await admin.query(ROWS_SQL.replace('%TABLE%', table));
    receiver = await startUploadReceiver({ onStore: (upload) => stored.push(upload) });
    workspace = await makeWorkspace();
  });

  afterAll(async () => {
    await receiver?.close();
    await workspace?.remove();
    await admin.query(`DROP TABLE IF EXISTS ${table}`);
    await admin.end();
  });

  it('keeps NaN, infinities and bytes as PostgreSQL text, distinct from NULL', async () => {
    const result = await runCli(
      ['--db-url', serverUrl!, '--table', table, '--api-url', receiver.url, '--quiet'],
      workspace,
    );
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);

    const lines = stored
      .flatMap((upload) => gunzipSync(upload.body).toString('utf8').split('\n'))
      .filter((line) => line.length > 0);
    const rows = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    rows.sort((a, b) => (a.id as number) - (b.id as number));

    expect(rows[0]).toEqual({
      id: 1,
      f8: 'NaN',
      f4: 'NaN',
      d: 'infinity',
      ts: 'infinity',
      tstz: 'infinity',
      b: '\\xdeadbeef',
      j: { a: [1, 2] },
      i8: '9007199254740993',
      n: '12345678901234567890.123',
      f8s: ['NaN', 'Infinity', '-Infinity', 1.5],
      bs: ['\\x00ff', null],
    });
    expect(rows[1]).toMatchObject({
      f8: 'Infinity',
      f4: 'Infinity',
      d: '-infinity',
      ts: '-infinity',
      tstz: '-infinity',
      b: '\\x',
      j: null,
      i8: '-1',
      n: '0.5',
      f8s: [],
      bs: [],
    });
    // Finite values are encoded as before: numbers, and dates through pg's Date.
    expect(rows[2]).toMatchObject({
      f8: '-Infinity',
      f4: '-Infinity',
      tstz: '2024-02-29T12:34:56.000Z',
      b: '\\x00',
      j: 'text',
      i8: '0',
      f8s: null,
      bs: null,
    });
    expect(typeof rows[2]!.d).toBe('string');
    expect(typeof rows[2]!.ts).toBe('string');
    expect(rows[3]).toEqual({
      id: 4,
      f8: 1.25,
      f4: 2.5,
      d: null,
      ts: null,
      tstz: null,
      b: null,
      j: null,
      i8: null,
      n: null,
      f8s: [null],
      bs: [null],
    });
  });
});
