import { readdir } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExportReport } from '../src/report.js';
import {
  type CliResult,
  type Workspace,
  makeWorkspace,
  readReport,
  runCli,
  tempLeft,
} from './helpers/cli.js';

const SAMPLE_ROWS = 50_000;
const PROVIDERS = ['db', 'fs', 'http', 'memory', 'mail'];

describe('demo on its embedded defaults', () => {
  let workspace: Workspace;
  let result: CliResult;
  let report: ExportReport;

  beforeAll(async () => {
    workspace = await makeWorkspace();
    // No service flags: embedded PostgreSQL, upload receiver and SMTP capture.
    result = await runCli(['--report', workspace.report], workspace);
    report = await readReport(workspace);
  });

  afterAll(async () => {
    await workspace.remove();
  });

  it('exits 0 with an ok report and nothing on stderr', () => {
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(report.ok).toBe(true);
    expect(report.error).toBeUndefined();
  });

  it('uploads every row of the sample table once, as the receiver counts them', () => {
    expect(report.rows.read).toBe(SAMPLE_ROWS);
    expect(report.rows.uploaded).toBe(SAMPLE_ROWS);
    expect(report.receiver?.rowsReceived).toBe(SAMPLE_ROWS);
    expect(report.chunks.written).toBe(5);
    expect(report.chunks.uploaded).toBe(5);
    expect(report.chunks.failed).toBe(0);
    expect(report.receiver?.chunksStored).toBe(5);
  });

  it('mails the summary into the outbox', async () => {
    expect(report.notifications).toEqual({ sent: 1, failed: 0 });
    const messages = (await readdir(workspace.outbox)).filter((name) => name.endsWith('.eml'));
    expect(messages).toHaveLength(1);
  });

  it('ends with every pool at zero, no leaks and no temp files', async () => {
    expect(report.tempFilesLeft).toBe(0);
    expect(await tempLeft(workspace)).toEqual([]);
    for (const name of PROVIDERS) {
      const stats = report.resources[name];
      expect(stats, name).toBeDefined();
      expect(stats?.inUse, `${name} in use`).toBe(0);
      expect(stats?.leaks, `${name} leaks`).toBe(0);
      expect(stats?.acquireTimeouts, `${name} acquire timeouts`).toBe(0);
      expect(stats?.destroyed, `${name} destroyed`).toBe(stats?.created);
    }
  });

  it('times the export apart from the whole run, which includes the embedded start-up', () => {
    expect(report.exportMs).toBeGreaterThan(0);
    expect(report.durationMs).toBeGreaterThan(report.exportMs);
  });

  it('prints the summary and the monitor table', () => {
    expect(result.stdout).toContain(`exported ${SAMPLE_ROWS} rows in 5 chunks`);
    expect(result.stdout).toContain(`receiver counted ${SAMPLE_ROWS} rows`);
    for (const name of PROVIDERS) expect(result.stdout).toContain(name);
  });
});
