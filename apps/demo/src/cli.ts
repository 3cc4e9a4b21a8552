#!/usr/bin/env node
import { runEmergencyCleanups } from './emergency-cleanup.js';

/**
 * The entry point does as little as possible before it owns SIGINT and SIGTERM: the handlers are
 * in place before the rest of the demo (drivers, WebAssembly PostgreSQL) has even loaded, so an
 * interrupt at any moment ends the same way — work stops, everything is returned and removed, the
 * report is written, exit 130 / 143.
 */

const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

/** How long a graceful shutdown after a signal may take before the process leaves anyway. */
const SIGNAL_GRACE_MS = 20_000;

const stop = new AbortController();
let signalExit: number | undefined;
let leaveWhenDone = false;

function onSignal(name: NodeJS.Signals): void {
  if (signalExit !== undefined) {
    // A second signal: the user does not want to wait for the graceful shutdown.
    runEmergencyCleanups();
    process.exit(signalExit);
  }
  signalExit = SIGNAL_EXIT[name] ?? 1;
  stop.abort(new Error(`interrupted by ${name}`));
  setTimeout(() => {
    runEmergencyCleanups();
    process.exit(signalExit);
  }, SIGNAL_GRACE_MS).unref();
}

/**
 * The event loop ran dry while the run was still waiting: some promise can never settle (a driver
 * that dropped a callback when its connection died, say). Node would end the process with exit
 * code 13, no report and the temp files left behind. Stopping the run instead unwinds it the way
 * an interrupt does (leases returned, temp files removed, report written) and fails it, saying
 * so. If even that stalls, the synchronous cleanups run and the process leaves.
 */
function onStall(): void {
  if (!stop.signal.aborted) {
    stop.abort(new Error('the run stalled: it waited for something that can no longer happen'));
    return;
  }
  runEmergencyCleanups();
  process.exit(signalExit ?? 1);
}

process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);
process.on('beforeExit', onStall);

const { main, crashed, EXIT_FAILED } = await import('./main.js');
try {
  // The exit code is set, not forced: every pool, server and timer is closed by now, so the
  // process ends on its own, which is part of what the demo shows.
  process.exitCode = await main(process.argv.slice(2), {
    signal: stop.signal,
    exitCode: () => signalExit,
    leaveWhenDone: () => {
      leaveWhenDone = true;
    },
  });
} catch (error) {
  crashed(error);
  process.exitCode = signalExit ?? EXIT_FAILED;
} finally {
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  process.off('beforeExit', onStall);
}
// Everything of the run is closed and the report written; what is left is a driver's connection
// that cannot be cut short, and waiting for its timeout is not stopping "at once".
if (leaveWhenDone) process.exit();
