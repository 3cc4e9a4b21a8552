import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type UploadReceiver, startUploadReceiver } from '../src/receiver.js';
import {
  type CliResult,
  type Workspace,
  errorLines,
  makeWorkspace,
  readReport,
  runCli,
  sourceFlags,
  tempLeft,
} from './helpers/cli.js';
import { closedPort } from './helpers/ports.js';

const PASSWORD = 'Sup3r-Secret-pw';
const TOKEN = 'tok-4f1d9a7c2e';

describe('demo with bad input', () => {
  let workspace: Workspace;
  let receiver: UploadReceiver | undefined;

  beforeEach(async () => {
    workspace = await makeWorkspace();
  });

  afterEach(async () => {
    await receiver?.close();
    receiver = undefined;
    await workspace.remove();
  });

  /** Run, and check what every bad input gives: one line, the exit code, clean temp, ok:false. */
  async function expectFailure(
    args: string[],
    exitCode: number,
    secrets: readonly string[] = [PASSWORD, TOKEN],
  ): Promise<string> {
    const result: CliResult = await runCli([...args, '--report', workspace.report], workspace);
    const lines = errorLines(result);
    expect(lines, result.stderr).toHaveLength(1);
    expect(result.code).toBe(exitCode);
    const everything = result.stdout + result.stderr;
    for (const secret of secrets) expect(everything).not.toContain(secret);
    expect(await tempLeft(workspace)).toEqual([]);
    const report = await readReport(workspace);
    expect(report.ok).toBe(false);
    expect(report.tempFilesLeft).toBe(0);
    expect(report.error).toBeTruthy();
    for (const secret of secrets) expect(JSON.stringify(report)).not.toContain(secret);
    for (const [name, stats] of Object.entries(report.resources)) {
      expect(stats.inUse, `${name} in use`).toBe(0);
      expect(stats.leaks, `${name} leaks`).toBe(0);
    }
    return lines[0]!;
  }

  it('unreachable database: names host and port, masks the password', async () => {
    const port = await closedPort();
    const url = `postgres://demo:${PASSWORD}@127.0.0.1:${port}/shop`;
    const line = await expectFailure(['--db-url', url, '--table', 'orders'], 1);
    expect(line).toContain(`127.0.0.1:${port}`);
  });

  it('unknown table: names the table', async () => {
    const line = await expectFailure(['--table', 'no_such_table'], 1);
    expect(line).toContain('no_such_table');
    expect(line).toContain('does not exist');
  });

  it('query that writes: refused, names the problem, changes nothing', async () => {
    const url = process.env.KAYGRAPH_TEST_PG_URL;
    // Against the real server a table of its own shows nothing changed; without one, the
    // embedded database's sample table takes the DELETE.
    const table = url === undefined ? 'sample_orders' : `kg_demo_write_${process.pid}`;
    const admin = url === undefined ? undefined : new pg.Client({ connectionString: url });
    await admin?.connect();
    try {
      await admin?.query(`CREATE TABLE ${table} AS SELECT g AS id FROM generate_series(1, 5) g`);
      const db = url === undefined ? [] : ['--db-url', url];
      const sql = `DELETE FROM ${table} RETURNING *`;

      const line = await expectFailure([...db, '--query', sql], 1);

      expect(line).toContain('--query tried to change data');
      expect(line).toContain('read-only');
      const report = await readReport(workspace);
      expect(report.rows.read).toBe(0);
      if (admin !== undefined) {
        const left = await admin.query(`SELECT count(*)::int AS n FROM ${table}`);
        expect(left.rows[0].n).toBe(5);
      }
    } finally {
      await admin?.query(`DROP TABLE IF EXISTS ${table}`);
      await admin?.end();
    }
  });

  it.skipIf(process.env.KAYGRAPH_TEST_PG_URL === undefined)(
    'query that writes, with --format tsv: the COPY is refused the same way',
    async () => {
      const url = process.env.KAYGRAPH_TEST_PG_URL!;
      const table = `kg_demo_write_tsv_${process.pid}`;
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      try {
        await admin.query(`CREATE TABLE ${table} AS SELECT g AS id FROM generate_series(1, 5) g`);
        const sql = `DELETE FROM ${table} RETURNING *`;

        const line = await expectFailure(['--db-url', url, '--format', 'tsv', '--query', sql], 1);

        expect(line).toContain('--query tried to change data');
        expect((await readReport(workspace)).rows.read).toBe(0);
        const left = await admin.query(`SELECT count(*)::int AS n FROM ${table}`);
        expect(left.rows[0].n).toBe(5);
      } finally {
        await admin.query(`DROP TABLE IF EXISTS ${table}`);
        await admin.end();
      }
    },
  );

  it.skipIf(process.env.KAYGRAPH_TEST_PG_URL === undefined)(
    'an --outbox that cannot be made: names the flag and the reason',
    async () => {
      await writeFile(join(workspace.root, 'not-a-folder'), '');
      const url = process.env.KAYGRAPH_TEST_PG_URL!;
      const args = ['--db-url', url, '--query', 'SELECT 1 AS one', '--outbox', 'not-a-folder/mail'];

      const line = await expectFailure(args, 1);

      expect(line).toContain('--outbox');
      expect(line).toContain('not-a-folder/mail');
      expect(line).toContain('ENOTDIR');
    },
  );

  it('unknown --format: usage error naming it', async () => {
    const line = await expectFailure(['--format', 'csv'], 2);
    expect(line).toContain('--format');
    expect(line).toContain('"csv"');
  });

  it('table name that is not an identifier: usage error naming it', async () => {
    const line = await expectFailure(['--table', 'orders; drop table x'], 2);
    expect(line).toContain('orders; drop table x');
  });

  it('malformed database URL: usage error naming the flag, password masked', async () => {
    const line = await expectFailure(['--db-url', `postgres://demo:${PASSWORD}@[oops`], 2);
    expect(line).toContain('--db-url');
  });

  // As a new user typed them: reserved characters left unencoded in a password, which the URL
  // parser reads as port and path, query or fragment; and a libpq keyword/value string.
  it.each([
    ['--db-url', 'postgres://postgres:2024/Summer@127.0.0.1:5432/test', 'Summer'],
    ['--api-url', 'http://bob:2024/Summer@127.0.0.1:5990/up', 'Summer'],
    ['--smtp-url', 'smtp://bob:2024/Summer@127.0.0.1:2525', 'Summer'],
    ['--api-url', 'http://bob:8080#Frag9@127.0.0.1:5990/up', 'Frag9'],
    ['--db-url', 'host=127.0.0.1 port=5432 dbname=test user=postgres password=Zq9Secret', 'Zq9Secret'],
  ])('%s %s: usage error naming the flag, no password anywhere', async (flag, value, secret) => {
    const extra = flag === '--db-url' ? ['--table', 't'] : [];
    const line = await expectFailure([flag, value, ...extra], 2, [secret, PASSWORD, TOKEN]);
    expect(line).toContain(flag);
    if (value.includes('@')) {
      expect(line).toContain('percent-encode');
      expect(line).toContain('://***@127.0.0.1');
      expect(line).not.toContain('bob');
    } else {
      expect(line).toContain('password=***');
    }
  });

  it('upload URL with the wrong scheme: usage error naming it', async () => {
    const line = await expectFailure(['--api-url', 'ftp://127.0.0.1/upload'], 2);
    expect(line).toContain('ftp://127.0.0.1/upload');
  });

  it('upload endpoint answering 401: names the status and the URL, hides the token', async () => {
    receiver = await startUploadReceiver({ token: 'the-right-token' });
    const flags = [...sourceFlags(), '--api-url', receiver.url, '--api-token', TOKEN];
    const line = await expectFailure(flags, 1);
    expect(line).toContain('401');
    expect(line).toContain(receiver.url);
    const report = await readReport(workspace);
    expect(report.rows.uploaded).toBe(0);
    expect(report.chunks.failed).toBeGreaterThan(0);
  });

  it('upload endpoint answering 500: names the status', async () => {
    receiver = await startUploadReceiver({ forceStatus: 500 });
    const line = await expectFailure([...sourceFlags(), '--api-url', receiver.url], 1);
    expect(line).toContain('500');
    expect(line).toContain(receiver.url);
  });

  it('SMTP server not listening: uploads complete, the mail is reported as failed', async () => {
    const port = await closedPort();
    const url = `smtp://mailer:${PASSWORD}@127.0.0.1:${port}`;
    const line = await expectFailure([...sourceFlags(), '--smtp-url', url], 1);
    expect(line).toContain(`127.0.0.1:${port}`);
    const report = await readReport(workspace);
    expect(report.rows.uploaded).toBe(report.rows.read);
    expect(report.rows.uploaded).toBeGreaterThan(0);
    expect(report.notifications).toEqual({ sent: 0, failed: 1 });
  });

  it.each([
    ['--batch-size', 'abc'],
    ['--batch-size', '0'],
    ['--chunk-rows', '-5'],
    ['--chunk-rows', '1.5'],
    ['--concurrency', 'many'],
  ])('size %s %s: usage error naming flag and value', async (flag, value) => {
    const line = await expectFailure([flag, value], 2);
    expect(line).toContain(flag);
    expect(line).toContain(value);
  });
});
