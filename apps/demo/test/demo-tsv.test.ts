import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type UploadReceiver, startUploadReceiver } from '../src/receiver.js';
import {
  type Workspace,
  errorLines,
  makeWorkspace,
  readReport,
  runCli,
  spawnCli,
  tempLeft,
  waitFor,
} from './helpers/cli.js';
import { type ScratchDatabase, pgbenchDatabase } from './helpers/scratch-db.js';

const run = promisify(execFile);
const serverUrl = process.env.KAYGRAPH_TEST_PG_URL;
if (serverUrl === undefined) {
  console.log('demo-tsv: skipped, KAYGRAPH_TEST_PG_URL is not set (no real PostgreSQL)');
}

const TOKEN = 'tsv-token';
const TRICKY_ROWS = 25_000;
/** About 230 bytes a row: 80 MB of COPY text, still being read when the first chunk is stored. */
const WIDE_ROWS = 350_000;
/** Long enough (about 300 MB of COPY text) that it is still running when the test steps in. */
const LONG_QUERY = "SELECT g, repeat('x', 100) AS pad FROM generate_series(1, 3000000) AS g";

describe.skipIf(serverUrl === undefined)('demo --format tsv against the real PostgreSQL', () => {
  let scratch: ScratchDatabase | undefined;
  let admin: pg.Client;
  let database: string;
  /** Chunk bodies the receiver stored, by chunk name (the last path segment of the key). */
  const stored = new Map<string, Buffer>();
  let workspace: Workspace;
  let receiver: UploadReceiver;
  let dbUrl: string;

  beforeAll(async () => {
    scratch = await pgbenchDatabase(serverUrl!, 'kaygraph_tsv');
    dbUrl = scratch.url;
    admin = scratch.admin;
    database = scratch.name;
    const db = new pg.Client({ connectionString: dbUrl });
    await db.connect();
    // Values COPY has to escape, NULLs, and text that is not ASCII.
    await db.query(`CREATE TABLE tricky (id int PRIMARY KEY, note text, amount numeric)`);
    await db.query(
      `INSERT INTO tricky
       SELECT g,
              CASE g % 4 WHEN 0 THEN E'tab\\there' WHEN 1 THEN E'two\\nlines\\r\\n'
                         WHEN 2 THEN E'back\\\\slash ü' ELSE NULL END,
              CASE WHEN g % 3 = 0 THEN NULL ELSE g / 7.0 END
       FROM generate_series(1, ${TRICKY_ROWS}) AS g`,
    );
    // The key is text, and not the first column, so resuming reads it back out of a line.
    await db.query(`CREATE TABLE wide (n int NOT NULL, k text PRIMARY KEY, pad text)`);
    await db.query(
      `INSERT INTO wide
       SELECT g, 'key\t' || lpad(g::text, 7, '0'), repeat('p', 200)
       FROM generate_series(1, ${WIDE_ROWS}) AS g`,
    );
    await db.end();
    receiver = await startUploadReceiver({
      token: TOKEN,
      onStore: ({ key, body }) => stored.set(key.split(':').pop()!, body),
    });
  });

  beforeEach(async () => {
    workspace = await makeWorkspace();
    stored.clear();
  });

  afterEach(async () => {
    await workspace?.remove();
  });

  afterAll(async () => {
    await receiver?.close();
    await scratch?.drop();
  });

  /** What psql's own COPY of the same query writes. */
  async function psqlCopy(query: string): Promise<Buffer> {
    const { stdout } = await run(
      'psql',
      ['-X', '-q', '-v', 'ON_ERROR_STOP=1', dbUrl, '-c', `COPY (${query}) TO STDOUT`],
      { encoding: 'buffer', maxBuffer: 256 * 1024 * 1024 },
    );
    return stdout;
  }

  /** The stored chunks' text, in chunk order. */
  function chunksText(): Buffer {
    const names = [...stored.keys()].sort();
    for (const name of names) expect(name).toMatch(/^chunk-\d{6}\.tsv\.gz$/);
    return Buffer.concat(names.map((name) => gunzipSync(stored.get(name)!)));
  }

  /** Waits until no backend of the demo is left in this test's database (a backend that lost
   * its client takes a moment to exit); the test's timeout bounds the wait. */
  async function noDemoConnections(): Promise<void> {
    for (;;) {
      const left = await admin.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity
         WHERE application_name = 'kaygraph-demo' AND datname = $1`,
        [database],
      );
      if (left.rows[0]!.n === 0) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  function exportFlags(extra: string[]): string[] {
    return [
      '--db-url', dbUrl,
      '--format', 'tsv',
      '--api-url', receiver.url,
      '--api-token', TOKEN,
      '--report', workspace.report,
      ...extra,
    ];
  }

  it('exports pgbench_accounts as the bytes of psql COPY, and the receiver counts every row', async () => {
    const before = receiver.stats().rowsReceived;
    const result = await runCli(exportFlags(['--table', 'pgbench_accounts']), workspace);

    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const report = await readReport(workspace);
    expect(report.ok).toBe(true);
    expect(report.rows.read).toBe(100_000);
    expect(report.rows.uploaded).toBe(100_000);
    expect(report.chunks).toMatchObject({ written: 10, uploaded: 10, failed: 0 });
    expect(receiver.stats().rowsReceived - before).toBe(100_000);
    const expected = await psqlCopy('SELECT * FROM pgbench_accounts ORDER BY aid');
    expect(chunksText().equals(expected)).toBe(true);
    expect(report.tempFilesLeft).toBe(0);
    expect(await tempLeft(workspace)).toEqual([]);
    for (const [name, stats] of Object.entries(report.resources)) {
      expect(stats.inUse, `${name} in use`).toBe(0);
      expect(stats.leaks, `${name} leaks`).toBe(0);
    }
    await noDemoConnections();
  });

  it('keeps one line per row through escapes, NULLs and chunk boundaries', async () => {
    const result = await runCli(
      exportFlags(['--table', 'tricky', '--chunk-rows', '777']),
      workspace,
    );

    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const report = await readReport(workspace);
    expect(report.rows.uploaded).toBe(TRICKY_ROWS);
    expect(report.chunks.written).toBe(Math.ceil(TRICKY_ROWS / 777));
    expect(chunksText().equals(await psqlCopy('SELECT * FROM tricky ORDER BY id'))).toBe(true);
    for (const body of stored.values()) {
      const lines = gunzipSync(body).toString('utf8').split('\n');
      expect(lines.pop()).toBe('');
      expect(lines.length).toBeLessThanOrEqual(777);
      for (const line of lines) expect(line.split('\t')).toHaveLength(3);
    }
  });

  it('exports a --query the same way', async () => {
    const query = 'SELECT aid, abalance FROM pgbench_accounts WHERE aid % 10 = 0 ORDER BY aid';
    const result = await runCli(exportFlags(['--query', query, '--chunk-rows', '3000']), workspace);

    expect(result.code).toBe(0);
    expect((await readReport(workspace)).rows.uploaded).toBe(10_000);
    expect(chunksText().equals(await psqlCopy(query))).toBe(true);
  });

  it('resumes a keyed table after its last line when the COPY loses its connection', async () => {
    const cli = spawnCli(
      exportFlags(['--table', 'wide', '--chunk-rows', '20000', '--concurrency', '1']),
      workspace,
    );
    await waitFor(() => stored.size >= 1, 60_000, 'a first chunk stored');
    const killed = await admin.query(
      `SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity
       WHERE application_name = 'kaygraph-demo' AND datname = $1 AND query LIKE 'COPY%'`,
      [database],
    );
    const result = await cli.done;

    expect(killed.rows).toEqual([{ killed: true }]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const report = await readReport(workspace);
    expect(report.ok).toBe(true);
    expect(report.rows.uploaded).toBe(WIDE_ROWS);
    // The connection the COPY lost was replaced.
    expect(report.resources.db!.created).toBeGreaterThanOrEqual(2);
    expect(report.resources.db!.errors).toBeGreaterThanOrEqual(1);
    const expected = await psqlCopy('SELECT * FROM wide ORDER BY k');
    expect(chunksText().equals(expected)).toBe(true);
    await noDemoConnections();
  });

  it('fails with a typed error, not repeated or lost rows, when the COPY of a query loses its connection', async () => {
    const cli = spawnCli(
      exportFlags(['--query', LONG_QUERY, '--chunk-rows', '100000', '--concurrency', '1']),
      workspace,
    );
    await waitFor(() => stored.size >= 1, 60_000, 'a first chunk stored');
    await admin.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
       WHERE application_name = 'kaygraph-demo' AND datname = $1 AND query LIKE 'COPY%'`,
      [database],
    );
    const result = await cli.done;

    expect(result.code).toBe(1);
    const lines = errorLines(result);
    expect(lines.some((line) => line.includes('a COPY cannot be resumed'))).toBe(true);
    const report = await readReport(workspace);
    expect(report.ok).toBe(false);
    expect(report.error).toContain('a COPY cannot be resumed');
    expect(report.rows.uploaded).toBeLessThan(3_000_000);
    expect(report.tempFilesLeft).toBe(0);
    expect(await tempLeft(workspace)).toEqual([]);
    await noDemoConnections();
  });

  it('stops on SIGINT mid-COPY with every lease returned and no backend left', async () => {
    const cli = spawnCli(
      exportFlags(['--query', LONG_QUERY, '--chunk-rows', '100000', '--concurrency', '1']),
      workspace,
    );
    await waitFor(() => stored.size >= 1, 60_000, 'a first chunk stored');
    cli.child.kill('SIGINT');
    const result = await cli.done;

    expect(result.code).toBe(130);
    const report = await readReport(workspace);
    expect(report.ok).toBe(false);
    expect(report.tempFilesLeft).toBe(0);
    expect(await tempLeft(workspace)).toEqual([]);
    for (const [name, stats] of Object.entries(report.resources)) {
      expect(stats.inUse, `${name} in use`).toBe(0);
      expect(stats.leaks, `${name} leaks`).toBe(0);
    }
    await noDemoConnections();
  });
});
