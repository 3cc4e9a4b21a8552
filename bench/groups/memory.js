// Group 5: peak RSS of the export at two table sizes, ten times apart. Flat memory means the
// larger export peaks no higher than the smaller one plus a little. The hand-written script runs
// alongside for reference (not with --quick, which only checks the machinery works): it is what
// the same work costs in memory without the framework.
// Peak RSS is the child's own kernel counter (resourceUsage().maxRSS), read as it exits.
import { demoExport, exportSource, plainExport, startExportServices } from '../lib/export-runs.js';
import { ROWS_PER_SCALE, pgbenchDatabase } from '../lib/pgbench-db.js';
import { median, shuffle } from '../lib/stats.js';

const contenders = {
  'kaygraph demo': demoExport,
  'plain script': plainExport,
};

const MB = 1024 * 1024;

/** Two sizes: 100,000 and 1,000,000 rows (10,000 and 100,000 with --quick). */
async function sizes(quick) {
  if (quick) {
    const dbUrl = await pgbenchDatabase(1);
    return [
      { rows: ROWS_PER_SCALE / 10, dbUrl, source: exportSource(ROWS_PER_SCALE / 10) },
      { rows: ROWS_PER_SCALE, dbUrl, source: exportSource() },
    ];
  }
  return [
    { rows: ROWS_PER_SCALE, dbUrl: await pgbenchDatabase(1), source: exportSource() },
    { rows: 10 * ROWS_PER_SCALE, dbUrl: await pgbenchDatabase(10), source: exportSource() },
  ];
}

export async function runMemoryGroup({ quick }) {
  const rounds = quick ? 1 : 3;
  const runs = await sizes(quick);
  const names = quick ? ['kaygraph demo'] : Object.keys(contenders);
  const peaks = runs.map(() => Object.fromEntries(names.map((n) => [n, []])));

  const services = await startExportServices();
  try {
    for (let round = 0; round < rounds; round++) {
      const order = shuffle(runs.flatMap((_, i) => names.map((name) => ({ i, name }))));
      for (const { i, name } of order) {
        const { dbUrl, source, rows } = runs[i];
        const run = await contenders[name](services, { dbUrl, source, expectedRows: rows });
        peaks[i][name].push((run.maxRssKb * 1024) / MB);
      }
    }
  } finally {
    await services.close();
  }

  const tables = runs.map((size, i) => ({
    title: `${size.rows.toLocaleString('en')} rows`,
    columns: ['median'],
    rows: names.map((name) => ({
      contender: name,
      ours: name === 'kaygraph demo',
      median: median(peaks[i][name]),
      samples: peaks[i][name],
    })),
  }));
  const small = tables[0].rows[0].median;
  const large = tables[1].rows[0].median;
  return {
    name: 'Memory: peak RSS of the export',
    unit: 'MB peak RSS',
    lowerIsBetter: true,
    rounds,
    tables,
    goals: [
      {
        goal: `demo peak RSS at ${tables[1].title} ≤ 1.25× at ${tables[0].title}`,
        value: large / small,
        target: 1.25,
        met: large / small <= 1.25,
        lowerIsBetter: true,
      },
      {
        goal: `demo peak RSS at ${tables[1].title} < 200 MB`,
        value: large,
        target: 200,
        met: large < 200,
        lowerIsBetter: true,
      },
    ],
  };
}
