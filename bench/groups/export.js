// Group 3: framework overhead on the real job. The demo CLI exports pgbench_accounts (scale 10,
// 1,000,000 rows; scale 1 with --quick) and the hand-written baseline does the same work with the
// same libraries; both are child processes uploading to the same receiver, one after the other,
// in a shuffled order each round. Wall time is spawn to exit, as a user would see it.
import { exportRounds, timeTables } from '../lib/export-rounds.js';
import { EXPORT_SETTINGS, demoExport, exportSource, plainExport } from '../lib/export-runs.js';
import { ROWS_PER_SCALE, pgbenchDatabase } from '../lib/pgbench-db.js';

export async function runExportGroup({ quick }) {
  const scale = quick ? 1 : 10;
  const rounds = quick ? 1 : 5;
  const expectedRows = scale * ROWS_PER_SCALE;
  const dbUrl = await pgbenchDatabase(scale);
  const job = { dbUrl, source: exportSource(), expectedRows };
  const samples = await exportRounds(
    {
      'kaygraph demo': (services) => demoExport(services, job),
      'plain script': (services) => plainExport(services, job),
    },
    rounds,
  );
  const { tables, wallRatio, cpuRatio } = timeTables(samples, 'kaygraph demo', 'plain script');
  return {
    name: 'Export job: demo vs hand-written script',
    unit: 's',
    lowerIsBetter: true,
    rounds,
    note:
      `pgbench_accounts at scale ${scale} (${expectedRows.toLocaleString('en')} rows), batch ` +
      `${EXPORT_SETTINGS.batchSize}, ${EXPORT_SETTINGS.chunkRows} rows per chunk, ` +
      `${EXPORT_SETTINGS.concurrency} uploads in flight; p99 is the slowest round; goals use ` +
      `the median of per-round ratios; CPU ratio demo / script ${cpuRatio.toFixed(3)}`,
    tables,
    goals: [
      {
        goal: 'demo wall time ≤ 1.05× the plain script',
        value: wallRatio,
        target: 1.05,
        met: wallRatio <= 1.05,
        lowerIsBetter: true,
      },
    ],
  };
}
