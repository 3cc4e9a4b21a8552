import { seconds } from './chaos-checks.js';
import type { ChaosResult } from './run-chaos.js';

/** Lines of the demo's stderr shown when a run failed. */
const STDERR_LINES = 20;

/** The run in a few lines: what was done to the demo, what it did, and each check. */
export function formatChaosSummary(result: ChaosResult): string {
  const { settings, receiver, killer, smtp, exit, report } = result;
  const lines = [
    `chaos: pgbench scale ${settings.scale}, ${count(result.tableRows)} rows ` +
      `(database ${result.database}), seed ${settings.seed}, set up in ${seconds(result.setupMs)}`,
    `  db:     ${count(killer.killed)} demo backends terminated in ${count(killer.rounds)} ` +
      `rounds every ${settings.killIntervalMs} ms` +
      (killer.errors > 0 ? ` (${killer.errors} rounds failed)` : ''),
    `  upload: ${count(receiver.faultsInjected)} of ${count(receiver.requests)} PUTs faulted ` +
      `(${pct(settings.statusRate)} 503, ${pct(settings.resetRate)} reset), ` +
      `${count(receiver.duplicates)} repeats of a stored chunk`,
    `  smtp:   ${smtp.refused} connections refused, ${smtp.delivered} message captured`,
    `  export: ${exitText(exit)} after ${seconds(exit.durationMs)}` +
      (result.allRowsStoredMs === undefined
        ? ''
        : ` (every row stored after ${seconds(result.allRowsStoredMs)})`) +
      (report === undefined ? ', no report' : `, ${reportText(report)}`),
  ];
  if (report !== undefined) lines.push(`  pools:  ${poolsText(report)}`);
  for (const check of result.checks) {
    lines.push(`  ${check.ok ? 'ok  ' : 'FAIL'}  ${check.name}: ${check.detail}`);
  }
  const passed = result.checks.filter((check) => check.ok).length;
  lines.push(`chaos: ${passed} of ${result.checks.length} checks passed`);
  if (!result.ok && exit.stderr.trim() !== '') {
    lines.push('demo stderr (last lines):');
    for (const line of exit.stderr.trimEnd().split('\n').slice(-STDERR_LINES)) {
      lines.push(`  | ${line}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

function exitText(exit: ChaosResult['exit']): string {
  const how = exit.code === null ? `signal ${exit.signal}` : `exit ${exit.code}`;
  return exit.endedOnItsOwn ? how : `${how} (killed: ${exit.killedBecause})`;
}

function reportText(report: NonNullable<ChaosResult['report']>): string {
  return (
    `report ok: ${report.ok}, ${count(report.rows.read)} rows read, ` +
    `${count(report.rows.uploaded)} uploaded in ${count(report.chunks.uploaded)} chunks, ` +
    `${report.notifications.sent} mail sent`
  );
}

function poolsText(report: NonNullable<ChaosResult['report']>): string {
  return Object.entries(report.resources)
    .map(([name, s]) => `${name} ${s.created}/${s.destroyed}/${s.inUse}/${s.errors}`)
    .join(', ')
    .concat(' (created/destroyed/in use/errors)');
}

function count(n: number): string {
  return n.toLocaleString('en-US');
}

function pct(rate: number): string {
  return `${Math.round(rate * 100)}%`;
}
