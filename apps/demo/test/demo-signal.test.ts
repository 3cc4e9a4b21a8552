import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type UploadReceiver, startUploadReceiver } from '../src/receiver.js';
import {
  type Workspace,
  makeWorkspace,
  readReport,
  sourceFlags,
  spawnCli,
  tempLeft,
  waitFor,
} from './helpers/cli.js';

describe('demo interrupted by a signal', () => {
  let workspace: Workspace;
  let receiver: UploadReceiver;

  beforeEach(async () => {
    workspace = await makeWorkspace();
    // A slow receiver and small chunks keep the export busy long enough to be interrupted.
    receiver = await startUploadReceiver({ delayMs: 100 });
  });

  afterEach(async () => {
    await receiver.close();
    await workspace.remove();
  });

  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)('%s mid-run: exit %i, temp files removed, report ok:false', async (signal, code) => {
    const args = [
      ...sourceFlags(50_000),
      ...['--api-url', receiver.url, '--chunk-rows', '500', '--concurrency', '2'],
    ];
    const cli = spawnCli([...args, '--report', workspace.report], workspace);
    await waitFor(() => receiver.stats().chunksStored >= 2, 100_000, 'the first uploads');

    cli.child.kill(signal);
    const result = await cli.done;

    expect(result.code, result.stderr).toBe(code);
    expect(result.stderr).toContain(`interrupted by ${signal}`);
    expect(await tempLeft(workspace)).toEqual([]);
    const report = await readReport(workspace);
    expect(report.ok).toBe(false);
    expect(report.tempFilesLeft).toBe(0);
    expect(report.rows.uploaded).toBeLessThan(50_000);
    for (const [name, stats] of Object.entries(report.resources)) {
      expect(stats.inUse, `${name} in use`).toBe(0);
      expect(stats.leaks, `${name} leaks`).toBe(0);
    }
  });
});
