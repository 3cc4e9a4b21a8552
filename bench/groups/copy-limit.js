// Group 4: how close the demo comes to the physical limit of the read side. `psql` copies the
// same table out with COPY and `gzip` compresses it at the same level (6) node:zlib uses. The
// demo runs twice in the same rounds: with `--format tsv` it passes the COPY's bytes through to
// gzip chunk files (the goal's contender), and with its default `--format ndjson` it reads rows
// through a cursor and writes JSON; both then write chunk files, upload and mail. All rates are
// rows per second of wall time, spawn to exit. The full run adds the hand-written cursor script,
// to tell what the approach itself (rows as JS objects, JSON in JS) costs from what the framework
// adds.
import {
  TABLE,
  demoExport,
  exportSource,
  plainExport,
  startExportServices,
} from '../lib/export-runs.js';
import { ROWS_PER_SCALE, pgbenchDatabase } from '../lib/pgbench-db.js';
import { runShell } from '../lib/run-child.js';
import { median, pairedRatio, shuffle } from '../lib/stats.js';

// The URL goes by environment, so an error quoting the command shows no password.
const COPY_COMMAND =
  `psql -X -q -v ON_ERROR_STOP=1 "$KAYGRAPH_BENCH_COPY_URL" ` +
  `-c "COPY (SELECT * FROM ${TABLE}) TO STDOUT" | gzip > /dev/null`;

export async function runCopyLimitGroup({ quick }) {
  const scale = quick ? 1 : 10;
  const rounds = quick ? 1 : 3;
  const expectedRows = scale * ROWS_PER_SCALE;
  const dbUrl = await pgbenchDatabase(scale);
  const source = exportSource();
  const runs = {
    'psql COPY, gzip': () => runShell(COPY_COMMAND, { env: { KAYGRAPH_BENCH_COPY_URL: dbUrl } }),
    'kaygraph demo, tsv': (services) =>
      demoExport(services, { dbUrl, source, expectedRows, format: 'tsv' }),
    'kaygraph demo, ndjson': (services) => demoExport(services, { dbUrl, source, expectedRows }),
  };
  if (!quick) {
    runs['plain script'] = (services) => plainExport(services, { dbUrl, source, expectedRows });
  }
  const rates = Object.fromEntries(Object.keys(runs).map((name) => [name, []]));

  const services = await startExportServices();
  try {
    for (let round = 0; round < rounds; round++) {
      for (const name of shuffle(Object.keys(runs))) {
        const { wallMs } = await runs[name](services);
        rates[name].push((expectedRows * 1000) / wallMs);
      }
    }
  } finally {
    await services.close();
  }

  const rows = Object.keys(rates).map((name) => ({
    contender: name,
    ours: name.startsWith('kaygraph demo'),
    median: median(rates[name]),
    samples: rates[name],
  }));
  const fraction = pairedRatio(rates['kaygraph demo, tsv'], rates['psql COPY, gzip']);
  const ndjsonFraction = pairedRatio(rates['kaygraph demo, ndjson'], rates['psql COPY, gzip']);
  const plainFraction = quick
    ? undefined
    : pairedRatio(rates['plain script'], rates['psql COPY, gzip']);
  return {
    name: 'Read-side limit: demo vs psql COPY piped to gzip',
    unit: 'rows/s',
    rounds,
    note:
      `${TABLE} at scale ${scale} (${expectedRows.toLocaleString('en')} rows); the goal uses ` +
      'the median of per-round ratios; the demo with --format ndjson (the default) reaches ' +
      `${ndjsonFraction.toFixed(3)}` +
      (plainFraction === undefined ? '' : `; the plain script reaches ${plainFraction.toFixed(3)}`),
    tables: [{ title: 'rows per second of wall time', columns: ['median'], rows }],
    goals: [
      {
        goal: 'demo (--format tsv) rows/s ≥ 0.5× psql COPY piped to gzip',
        value: fraction,
        target: 0.5,
        met: fraction >= 0.5,
      },
      {
        goal: 'demo (--format ndjson, the default) rows/s ≥ 0.5× psql COPY piped to gzip',
        value: ndjsonFraction,
        target: 0.5,
        met: ndjsonFraction >= 0.5,
      },
    ],
  };
}
