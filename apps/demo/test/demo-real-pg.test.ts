import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type UploadReceiver, startUploadReceiver } from '../src/receiver.js';
import { type Workspace, makeWorkspace, readReport, runCli, tempLeft } from './helpers/cli.js';
import { type ScratchDatabase, pgbenchDatabase } from './helpers/scratch-db.js';

const serverUrl = process.env.KAYGRAPH_TEST_PG_URL;
if (serverUrl === undefined) {
  console.log('demo-real-pg: skipped, KAYGRAPH_TEST_PG_URL is not set (no real PostgreSQL)');
}

const ROWS = 100_000;

describe.skipIf(serverUrl === undefined)('demo against the real PostgreSQL', () => {
  let scratch: ScratchDatabase | undefined;
  let admin: pg.Client;
  let database: string;
  let workspace: Workspace;
  let receiver: UploadReceiver;
  let dbUrl: string;

  beforeAll(async () => {
    scratch = await pgbenchDatabase(serverUrl!, 'kaygraph_demo');
    dbUrl = scratch.url;
    admin = scratch.admin;
    database = scratch.name;
    workspace = await makeWorkspace();
    receiver = await startUploadReceiver({ token: 'real-pg-token' });
  });

  afterAll(async () => {
    await receiver?.close();
    await workspace?.remove();
    await scratch?.drop();
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
