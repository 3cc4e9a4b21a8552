#!/usr/bin/env node
import { AbortedError, redactText } from '@kaygraph/core';
import { UsageError } from './demo-errors.js';
import { runEmergencyCleanups } from './emergency-cleanup.js';
import { emptyCounters } from './export-counters.js';
import { parseOptions } from './options.js';
import { buildReport, writeReport } from './report.js';
import { runExport } from './run-export.js';

/** Exit codes: 0 done, 1 the run failed, 2 bad usage, 128 + signal number when interrupted. */
const EXIT_FAILED = 1;
const EXIT_USAGE = 2;
const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

/** How long a graceful shutdown after a signal may take before the process leaves anyway. */
const SIGNAL_GRACE_MS = 20_000;

function fail(line: string): void {
  process.stderr.write(`kaygraph-demo: ${line}\n`);
}

async function main(argv: readonly string[]): Promise<number> {
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

  const stop = new AbortController();
  let signalExit: number | undefined;
  const onSignal = (name: NodeJS.Signals) => {
    if (signalExit !== undefined) {
      // A second signal: the user does not want to wait for the graceful shutdown.
      runEmergencyCleanups();
      process.exit(signalExit);
    }
    signalExit = SIGNAL_EXIT[name] ?? EXIT_FAILED;
    stop.abort(new AbortedError(`interrupted by ${name}`));
    setTimeout(() => {
      runEmergencyCleanups();
      process.exit(signalExit);
    }, SIGNAL_GRACE_MS).unref();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    const outcome = await runExport(options, {
      stdout: process.stdout,
      stderr: process.stderr,
      signal: stop.signal,
    });
    if (options.report !== undefined) {
      try {
        await writeReport(options.report, outcome.report);
      } catch (error) {
        fail(`cannot write the report to ${options.report}: ${(error as Error).message}`);
        return signalExit ?? EXIT_FAILED;
      }
    }
    if (outcome.message !== undefined) fail(outcome.message);
    if (signalExit !== undefined) return signalExit;
    return outcome.status === 'ok' ? 0 : EXIT_FAILED;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** With `--report`, even a command line that did not parse leaves a report saying so. */
async function writeUsageReport(argv: readonly string[], message: string): Promise<void> {
  const file = reportPath(argv);
  if (file === undefined) return;
  const report = buildReport({
    ok: false,
    counters: emptyCounters(),
    durationMs: 0,
    tempFilesLeft: 0,
    stats: {},
    error: message,
  });
  await writeReport(file, report).catch((error: Error) => {
    fail(`cannot write the report to ${file}: ${error.message}`);
  });
}

function reportPath(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i]!;
    if (arg === '--report') return argv[i + 1];
    if (arg.startsWith('--report=')) return arg.slice('--report='.length);
  }
  return undefined;
}

main(process.argv.slice(2)).then(
  (code) => {
    // The exit code is set, not forced: every pool, server and timer is closed by now, so the
    // process ends on its own, which is part of what the demo shows.
    process.exitCode = code;
  },
  (error: unknown) => {
    fail(redactText(error instanceof Error ? error.message : String(error)));
    process.exitCode = EXIT_FAILED;
  },
);
