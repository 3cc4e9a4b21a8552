import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { redactText } from '@kaygraph/core';
import { UsageError } from './demo-errors.js';
import { onEmergencyExit } from './emergency-cleanup.js';
import { emptyCounters } from './export-counters.js';
import { type DemoOptions, parseOptions } from './options.js';
import { buildReport, writeReport, writeReportSync } from './report.js';
import { ExportRun } from './run-export.js';

/** Exit codes: 0 done, 1 the run failed, 2 bad usage (128 + signal number come from the CLI). */
export const EXIT_FAILED = 1;
const EXIT_USAGE = 2;

/** What the CLI entry hands over: the signal that stops the run, and the exit code it implies. */
export interface Interrupt {
  signal: AbortSignal;
  /** 130 / 143 once SIGINT / SIGTERM arrived, else undefined. */
  exitCode(): number | undefined;
  /**
   * Called when the run left a connection behind that its driver cannot close (see
   * `ExportRun.abandonedMail`): the entry point leaves once `main` has returned, instead of
   * waiting for that driver's timers.
   */
  leaveWhenDone(): void;
}

/** Write one line to stderr, the way every failure is reported. */
export function fail(line: string): void {
  process.stderr.write(`kaygraph-demo: ${line}\n`);
}

/** Report an error nothing else caught (a bug), still without any secret in it. */
export function crashed(error: unknown): void {
  fail(redactText(error instanceof Error ? error.message : String(error)));
}

/** Parse the command line, run the export, write the report; resolves with the exit code. */
export async function main(argv: readonly string[], interrupt: Interrupt): Promise<number> {
  let options: ReturnType<typeof parseOptions>;
  try {
    options = parseOptions(argv);
  } catch (error) {
    if (!UsageError.isInstance(error)) throw error;
    fail(error.message);
    await writeUsageReport(argv, error.message);
    return EXIT_USAGE;
  }
  if ('exit' in options) return options.exit;
  try {
    // Found out now, not after the whole export, its uploads and its mail.
    if (options.report !== undefined) await checkReportPath(options.report);
  } catch (error) {
    if (!UsageError.isInstance(error)) throw error;
    fail(error.message);
    return EXIT_USAGE;
  }

  const run = new ExportRun(options, {
    stdout: process.stdout,
    stderr: process.stderr,
    signal: interrupt.signal,
  });
  const forgetEmergency = onEmergencyExit(() => leaveNow(run, options));
  await run.execute();
  const outcome = run.outcome();
  if (options.report !== undefined) {
    try {
      await writeReport(options.report, outcome.report);
    } catch (error) {
      forgetEmergency();
      fail(`cannot write the report to ${options.report}: ${(error as Error).message}`);
      return interrupt.exitCode() ?? EXIT_FAILED;
    }
  }
  forgetEmergency();
  if (run.abandonedMail) interrupt.leaveWhenDone();
  if (outcome.message !== undefined) fail(outcome.message);
  return interrupt.exitCode() ?? (outcome.status === 'ok' ? 0 : EXIT_FAILED);
}

/**
 * The process is leaving before the run has unwound (a second signal, or a shutdown past its
 * grace period): the report as it stands and the one line still get out, synchronously. Runs
 * after the run's own emergency cleanups (last registered, first run), so the temp files are gone.
 */
function leaveNow(run: ExportRun, options: DemoOptions): void {
  const report = run.reportSoFar();
  const message = `${report.error ?? 'interrupted'} (shutdown cut short)`;
  report.error = message;
  if (options.report !== undefined) {
    try {
      writeReportSync(options.report, report);
    } catch (error) {
      fail(`cannot write the report to ${options.report}: ${(error as Error).message}`);
    }
  }
  fail(message);
}

/** With `--report`, even a command line that did not parse leaves a report saying so. */
async function writeUsageReport(argv: readonly string[], message: string): Promise<void> {
  const file = reportPath(argv);
  if (file === undefined) return;
  const report = buildReport({
    ok: false,
    counters: emptyCounters(),
    durationMs: 0,
    exportMs: 0,
    tempFilesLeft: 0,
    stats: {},
    error: message,
  });
  await writeReport(file, report).catch((error: Error) => {
    fail(`cannot write the report to ${file}: ${error.message}`);
  });
}

/** Throws `UsageError` naming `file` when the report could not be written there. */
async function checkReportPath(file: string): Promise<void> {
  const folder = dirname(resolve(file));
  const info = await stat(folder).catch(() => undefined);
  let problem: string | undefined;
  if (info === undefined) problem = `folder ${folder} does not exist`;
  else if (!info.isDirectory()) problem = `${folder} is not a folder`;
  else {
    const existing = await stat(file).catch(() => undefined);
    const target = existing === undefined ? folder : file;
    if (existing?.isDirectory()) problem = 'it is a folder';
    else if (!(await access(target, constants.W_OK).then(() => true, () => false))) {
      problem = `${target} is not writable`;
    }
  }
  if (problem !== undefined) {
    throw new UsageError(`--report ${JSON.stringify(file)} cannot be written: ${problem}`);
  }
}

function reportPath(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i]!;
    if (arg === '--report') return argv[i + 1];
    if (arg.startsWith('--report=')) return arg.slice('--report='.length);
  }
  return undefined;
}
