import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type UploadReceiver, startUploadReceiver } from '../src/receiver.js';
import type { ResourceSummary } from '../src/report.js';
import {
  type Workspace,
  makeWorkspace,
  readReport,
  sourceFlags,
  spawnCli,
  waitFor,
} from './helpers/cli.js';

/** The monitor table's provider rows, keyed by provider, as `column title → cell`. */
function tableRows(stdout: string): Record<string, Record<string, string>> {
  const lines = stdout.split('\n');
  const header = lines.findIndex((line) => line.startsWith('PROVIDER '));
  if (header === -1) throw new Error(`no monitor table in the output:\n${stdout}`);
  const titles = lines[header]!.trim().split(/\s+/);
  const rows: Record<string, Record<string, string>> = {};
  for (const line of lines.slice(header + 1)) {
    if (line.trim() === '') break;
    if (line.startsWith('!')) continue; // a provider's warning, under the rows
    const cells = line.trim().split(/\s+/);
    rows[cells[0]!] = Object.fromEntries(titles.map((title, i) => [title, cells[i] ?? '']));
  }
  return rows;
}

/** Table columns and the report fields they show. */
const COLUMNS: Array<[string, keyof ResourceSummary]> = [
  ['USE', 'inUse'],
  ['MADE', 'created'],
  ['GONE', 'destroyed'],
  ['ERR', 'errors'],
  ['TMO', 'acquireTimeouts'],
  ['LEAK', 'leaks'],
];

describe('demo interrupted while uploads are in flight', () => {
  let workspace: Workspace;
  let receiver: UploadReceiver;

  beforeEach(async () => {
    workspace = await makeWorkspace();
    // Slow answers keep every upload worker holding a buffer and a file when the signal comes.
    receiver = await startUploadReceiver({ delayMs: 400 });
  });

  afterEach(async () => {
    await receiver.close();
    await workspace.remove();
  });

  it('leaks nothing, and the report and the monitor table show the same counts', async () => {
    const args = [
      ...sourceFlags(50_000),
      ...['--api-url', receiver.url, '--chunk-rows', '500', '--concurrency', '4'],
      ...['--report', workspace.report],
    ];
    const cli = spawnCli(args, workspace);
    // Signal with uploads in flight: each of them holds a buffer from the memory provider.
    const inFlight = () => {
      const { requests, chunksStored, duplicates, rejected } = receiver.stats();
      return requests - chunksStored - duplicates - rejected;
    };
    const busy = () => receiver.stats().chunksStored >= 1 && inFlight() >= 2;
    await waitFor(busy, 100_000, 'uploads in flight');

    cli.child.kill('SIGINT');
    const result = await cli.done;

    expect(result.code, result.stderr).toBe(130);
    const report = await readReport(workspace);
    const table = tableRows(result.stdout);
    expect(Object.keys(table).sort()).toEqual(Object.keys(report.resources).sort());
    for (const [name, counts] of Object.entries(report.resources)) {
      expect(counts.leaks, `${name} leaks`).toBe(0);
      expect(counts.inUse, `${name} in use`).toBe(0);
      for (const [title, field] of COLUMNS) {
        expect(table[name]![title], `${name} ${title}`).toBe(String(counts[field]));
      }
    }
  });
});
