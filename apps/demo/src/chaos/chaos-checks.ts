import type { ReceiverStats } from '../receiver.js';
import type { ExportReport } from '../report.js';
import type { DemoExit } from './demo-process.js';
import type { LedgerTotals } from './row-ledger.js';

/** One thing a chaos run must show, and what was found. */
export interface ChaosCheck {
  name: string;
  ok: boolean;
  detail: string;
}

/** What a chaos run observed, before it is judged. */
export interface ChaosFacts {
  settings: {
    scale: number;
    seed: number;
    killIntervalMs: number;
    statusRate: number;
    resetRate: number;
    chunkRows: number;
    timeoutMs: number;
  };
  database: string;
  /** Rows in `pgbench_accounts`. */
  tableRows: number;
  setupMs: number;
  exit: Omit<DemoExit, 'stdout'>;
  /** The demo's report, when it wrote one. */
  report?: ExportReport;
  receiver: ReceiverStats;
  /** Which rows the receiver stored, by `aid`. */
  ledger: LedgerTotals;
  killer: { killed: number; rounds: number; errors: number };
  smtp: { refused: number; delivered: number };
  /** Demo backends still in `pg_stat_activity` after a short wait. */
  backendsLeft: number;
  /** Entries left in the demo's temp root. */
  tempLeft: string[];
  /** Time from the demo's start until the receiver had every row; unset if it never had. */
  allRowsStoredMs?: number;
}

/** Facts only the judging needs. */
export interface ChaosExtras {
  /** Rows the receiver stored under the report's run id. */
  rowsForRun: number;
  /** Stored chunks the ledger could not read. */
  ledgerErrors: number;
}

/** Judge a chaos run: each check names what it wanted and what it found. */
export function checkChaosRun(facts: ChaosFacts, extras: ChaosExtras): ChaosCheck[] {
  return [
    checkExit(facts),
    checkReport(facts),
    checkRows(facts, extras),
    checkPools(facts),
    checkLeaks(facts),
    checkTempFiles(facts),
    checkBackends(facts),
    checkMail(facts),
    checkFaults(facts),
  ];
}

function check(name: string, ok: boolean, detail: string): ChaosCheck {
  return { name, ok, detail };
}

function checkExit({ exit }: ChaosFacts): ChaosCheck {
  const name = 'exit 0, on its own';
  if (!exit.endedOnItsOwn) return check(name, false, `killed: ${exit.killedBecause}`);
  if (exit.code !== 0) {
    const how = exit.code === null ? `signal ${exit.signal}` : `exit ${exit.code}`;
    return check(name, false, `${how}: ${lastLine(exit.stderr)}`);
  }
  return check(name, true, `exit 0 after ${seconds(exit.durationMs)}`);
}

function checkReport({ report }: ChaosFacts): ChaosCheck {
  const name = 'report ok';
  if (report === undefined) return check(name, false, 'no report written');
  if (!report.ok) return check(name, false, `ok: false, ${report.error ?? 'no error given'}`);
  return check(name, true, `ok: true, run ${report.runId}`);
}

function checkRows(facts: ChaosFacts, extras: ChaosExtras): ChaosCheck {
  const { ledger, tableRows, receiver, report } = facts;
  const problems: string[] = [];
  if (ledger.missing > 0) problems.push(`${ledger.missing} rows never arrived`);
  if (ledger.repeated > 0) problems.push(`${ledger.repeated} rows stored more than once`);
  if (ledger.unexpected > 0) problems.push(`${ledger.unexpected} rows not in the table`);
  if (extras.ledgerErrors > 0) problems.push(`${extras.ledgerErrors} chunks unreadable`);
  if (receiver.rowsReceived !== tableRows) {
    problems.push(`receiver counted ${receiver.rowsReceived} rows`);
  }
  if (extras.rowsForRun !== tableRows) problems.push(`${extras.rowsForRun} rows for the run`);
  if (report !== undefined && report.rows.uploaded !== tableRows) {
    problems.push(`report says ${report.rows.uploaded} uploaded`);
  }
  if (report !== undefined && report.chunks.uploaded !== receiver.chunksStored) {
    problems.push(`${report.chunks.uploaded} chunks uploaded, ${receiver.chunksStored} stored`);
  }
  const name = 'every row uploaded exactly once';
  if (problems.length > 0) return check(name, false, `of ${tableRows}: ${problems.join('; ')}`);
  return check(
    name,
    true,
    `${ledger.distinct} of ${tableRows} rows, each once, in ${receiver.chunksStored} chunks ` +
      `(${receiver.duplicates} repeated uploads not counted)`,
  );
}

function checkPools({ report }: ChaosFacts): ChaosCheck {
  const name = 'every pool at zero in use';
  if (report === undefined) return check(name, false, 'no report to read the pools from');
  const busy = Object.entries(report.resources)
    .filter(([, stats]) => stats.inUse !== 0 || stats.destroyed !== stats.created)
    .map(([pool, s]) => `${pool} in use ${s.inUse}, created ${s.created}/destroyed ${s.destroyed}`);
  if (busy.length > 0) return check(name, false, busy.join('; '));
  return check(name, true, `${Object.keys(report.resources).join(', ')}: 0 in use, all destroyed`);
}

function checkLeaks({ report }: ChaosFacts): ChaosCheck {
  const name = 'no leaks';
  if (report === undefined) return check(name, false, 'no report to read the leaks from');
  const leaky = Object.entries(report.resources)
    .filter(([, stats]) => stats.leaks !== 0)
    .map(([pool, stats]) => `${pool} ${stats.leaks}`);
  if (leaky.length > 0) return check(name, false, `leaks: ${leaky.join(', ')}`);
  return check(name, true, '0 leaks in every pool');
}

function checkTempFiles({ report, tempLeft }: ChaosFacts): ChaosCheck {
  const name = 'no temp files';
  const reported = report?.tempFilesLeft ?? 0;
  if (tempLeft.length > 0 || reported > 0) {
    return check(name, false, `left: ${tempLeft.join(', ') || 'none on disk'}; report ${reported}`);
  }
  return check(name, true, 'temp root empty');
}

function checkBackends({ backendsLeft }: ChaosFacts): ChaosCheck {
  const name = 'no connection left in pg_stat_activity';
  if (backendsLeft > 0) return check(name, false, `${backendsLeft} demo backends still there`);
  return check(name, true, 'no backend with the demo application_name');
}

function checkMail({ smtp, report }: ChaosFacts): ChaosCheck {
  const name = 'summary mail delivered after the refusals';
  const sent = report?.notifications.sent ?? 0;
  if (smtp.delivered !== 1 || sent !== 1) {
    return check(name, false, `${smtp.delivered} captured, report says ${sent} sent`);
  }
  return check(name, true, `1 message after ${smtp.refused} refused connections`);
}

/** A chaos run in which nothing failed would prove nothing. */
function checkFaults({ killer, receiver, smtp }: ChaosFacts): ChaosCheck {
  const name = 'faults were injected';
  const missing: string[] = [];
  if (killer.killed === 0) missing.push('no backend was terminated');
  if (receiver.faultsInjected === 0) missing.push('no upload was faulted');
  if (smtp.refused === 0) missing.push('no SMTP connection was refused');
  if (missing.length > 0) return check(name, false, missing.join('; '));
  return check(
    name,
    true,
    `${killer.killed} backends terminated, ${receiver.faultsInjected} of ` +
      `${receiver.requests} uploads faulted, ${smtp.refused} SMTP connections refused`,
  );
}

function lastLine(text: string): string {
  const lines = text.split('\n').filter((line) => line.trim().length > 0);
  return lines[lines.length - 1] ?? '(no output)';
}

/** `12.3 s`. */
export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
