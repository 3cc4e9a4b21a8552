import { readFile, readdir } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type Workspace,
  errorLines,
  makeWorkspace,
  readReport,
  spawnCli,
} from './helpers/cli.js';

/**
 * How long the demo may take to stop once signalled. Starting the embedded PostgreSQL takes 5 to
 * 30 seconds depending on the machine; a signal must not wait for it.
 */
const PROMPT_EXIT_MS = 5000;

/** Resident memory above which the embedded PostgreSQL (WebAssembly) is loading. */
const LOADING_BYTES = 150 * 1024 * 1024;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Where `/proc` can tell, wait until the process's memory shows PostgreSQL loading, so the signal
 * lands in the middle of the start-up; elsewhere the second already waited is enough.
 */
async function untilLoading(pid: number, exited: () => boolean): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!exited() && Date.now() < deadline) {
    const rss = await residentBytes(pid);
    if (rss === undefined || rss > LOADING_BYTES) return;
    await sleep(50);
  }
}

/** Resident memory of a process, from `/proc` (Linux); undefined elsewhere. */
async function residentBytes(pid: number): Promise<number | undefined> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => undefined);
  const kb = status?.match(/^VmRSS:\s+(\d+) kB/m)?.[1];
  return kb === undefined ? undefined : Number(kb) * 1024;
}

describe('demo interrupted while the embedded services start', () => {
  let workspace: Workspace;

  beforeEach(async () => {
    workspace = await makeWorkspace();
  });

  afterEach(async () => {
    await workspace.remove();
  });

  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)('%s: exit %i within seconds, report ok:false, nothing left', async (signal, code) => {
    const cli = spawnCli(['--report', workspace.report], workspace);
    const pid = cli.child.pid!;
    await sleep(1000);
    await untilLoading(pid, () => cli.child.exitCode !== null);

    const signalled = Date.now();
    cli.child.kill(signal);
    const result = await cli.done;
    const tookMs = Date.now() - signalled;

    expect(result.code, result.stderr).toBe(code);
    expect(tookMs).toBeLessThan(PROMPT_EXIT_MS);
    // The signal came before the export began: the opening line was never printed.
    expect(result.stdout).not.toContain('exporting');
    expect(errorLines(result)).toEqual([`kaygraph-demo: interrupted by ${signal}`]);
    const report = await readReport(workspace);
    expect(report.ok).toBe(false);
    expect(report.error).toBe(`interrupted by ${signal}`);
    expect(report.tempFilesLeft).toBe(0);
    expect(report.rows.read).toBe(0);
    expect(report.exportMs).toBe(0);
    // Nothing at all is left in the run's TMPDIR: no chunk folder, no database files.
    expect(await readdir(workspace.tmp)).toEqual([]);
  });
});
