// Group 7: what attaching the monitor costs the export. The demo always creates its monitor and
// has no switch to leave it out, so "without" runs the same CLI with `@kaygraph/monitor` resolved
// to a stand-in that subscribes to nothing (bench/lib/monitor-switch.js, a module hook loaded
// into both contenders alike; the demo's code is unchanged). With no subscriber the core builds
// no events either, so the difference is the whole cost: loading prom-client, the event
// payloads, and the monitor's bookkeeping.
import { exportRounds, timeTables } from '../lib/export-rounds.js';
import { demoExport, exportSource } from '../lib/export-runs.js';
import { ROWS_PER_SCALE, pgbenchDatabase } from '../lib/pgbench-db.js';

// --quick exports 30,000 rows: enough to see the machinery work, short enough for CI.
const QUICK_ROWS = 30_000;

export async function runMonitorGroup({ quick }) {
  const rounds = quick ? 1 : 7;
  const expectedRows = quick ? QUICK_ROWS : 10 * ROWS_PER_SCALE;
  const dbUrl = await pgbenchDatabase(quick ? 1 : 10);
  const source = quick ? exportSource(QUICK_ROWS) : exportSource();
  const job = { dbUrl, source, expectedRows };
  const samples = await exportRounds(
    {
      'with monitor': (services) => demoExport(services, { ...job, monitor: true }),
      'without monitor': (services) => demoExport(services, { ...job, monitor: false }),
    },
    rounds,
  );
  const { tables, wallRatio, cpuRatio } = timeTables(samples, 'with monitor', 'without monitor');
  return {
    name: 'Monitor cost: demo export with and without the monitor',
    unit: 's',
    lowerIsBetter: true,
    rounds,
    note:
      `${expectedRows.toLocaleString('en')} rows of pgbench_accounts. The demo ` +
      'has no flag to turn its monitor off, so "without" swaps @kaygraph/monitor for a no-op ' +
      'through a module hook. p99 is the slowest round; the goal uses the median of per-round ' +
      `ratios; CPU ratio with / without ${cpuRatio.toFixed(3)}`,
    tables,
    goals: [
      {
        goal: 'with the monitor ≤ 1.03× the time without',
        value: wallRatio,
        target: 1.03,
        met: wallRatio <= 1.03,
        lowerIsBetter: true,
      },
    ],
  };
}
