import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type UploadReceiver, startUploadReceiver } from '../src/receiver.js';
import { type Workspace, makeWorkspace, readReport, runCli, tempLeft } from './helpers/cli.js';

const run = promisify(execFile);
const serverUrl = process.env.KAYGRAPH_TEST_PG_URL;
if (serverUrl === undefined) {
  console.log('demo-real-pg: skipped, KAYGRAPH_TEST_PG_URL is not set (no real PostgreSQL)');
}

const ROWS = 100_000;

/** The same server URL with another database name. */
function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

describe.skipIf(serverUrl === undefined)('demo against the real PostgreSQL', () => {
  const database = `kaygraph_demo_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  let workspace: Workspace;
  let receiver: UploadReceiver;
  let dbUrl: string;

  beforeAll(async () => {
    await admin.connect();
    await admin.query(`CREATE DATABASE ${database}`);
    dbUrl = withDatabase(serverUrl!, database);
    // pgbench at scale 1: pgbench_accounts with 100,000 rows and a primary key.
    await run('pgbench', ['-i', '-s', '1', '-q', dbUrl]);
    workspace = await makeWorkspace();
    receiver = await startUploadReceiver({ token: 'real-pg-token' });
  });

  afterAll(async () => {
    await receiver?.close();
    await workspace?.remove();
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin.end();
  });

  it('exports all 100,000 pgbench_accounts rows, and the receiver agrees', async () => {
    const result = await runCli(
      [
        '--db-url', dbUrl,
        '--table', 'pgbench_accounts',
        '--api-url', receiver.url,
        '--api-token', 'real-pg-token',
        '--report', workspace.report,
      ],
      workspace,
    );
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);

    const report = await readReport(workspace);
    expect(report.ok).toBe(true);
    expect(report.rows.read).toBe(ROWS);
    expect(report.rows.uploaded).toBe(ROWS);
    expect(receiver.stats().rowsReceived).toBe(ROWS);
    expect(report.chunks.uploaded).toBe(report.chunks.written);
    expect(report.tempFilesLeft).toBe(0);
    expect(await tempLeft(workspace)).toEqual([]);
    for (const [name, stats] of Object.entries(report.resources)) {
      expect(stats.inUse, `${name} in use`).toBe(0);
      expect(stats.leaks, `${name} leaks`).toBe(0);
      expect(stats.destroyed, `${name} destroyed`).toBe(stats.created);
    }

    // No connection of this run is left on the server (other runs may use other databases).
    const left = await admin.query(
      `SELECT count(*)::int AS n FROM pg_stat_activity
       WHERE application_name = 'kaygraph-demo' AND datname = $1`,
      [database],
    );
    expect(left.rows[0].n).toBe(0);
  });
});
