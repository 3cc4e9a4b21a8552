// The pgbench databases the export groups read from. Each scale gets a database of its own
// (`kaygraph_bench_s<scale>`), created and filled with `pgbench -i` the first time it is needed
// and kept afterwards, so later runs start at once. Nothing else on the server is touched.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

/** Rows pgbench puts in `pgbench_accounts` per unit of scale. */
export const ROWS_PER_SCALE = 100_000;

/**
 * Any database on the server; the bench databases are created next to it. KAYGRAPH_BENCH_PG_URL,
 * else the tests' server (KAYGRAPH_TEST_PG_URL), else the local default.
 */
export function baseUrl() {
  return (
    process.env.KAYGRAPH_BENCH_PG_URL ??
    process.env.KAYGRAPH_TEST_PG_URL ??
    'postgres://postgres@127.0.0.1:5432/postgres'
  );
}

function urlFor(database) {
  const url = new URL(baseUrl());
  url.pathname = `/${database}`;
  return url.toString();
}

// Two bench runs at once would both try to create and fill the same database.
const SETUP_LOCK = 0x6b617967;

/**
 * Connection URL of a database holding pgbench's tables at `scale` (100,000 accounts per unit),
 * creating and filling it first when it is missing or incomplete.
 */
export async function pgbenchDatabase(scale) {
  const database = `kaygraph_bench_s${scale}`;
  const url = urlFor(database);
  const admin = new pg.Client({ connectionString: baseUrl(), application_name: 'kaygraph-bench' });
  await admin.connect();
  try {
    await admin.query('SELECT pg_advisory_lock($1)', [SETUP_LOCK]);
    const found = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (found.rowCount === 0) await admin.query(`CREATE DATABASE "${database}"`);
    if (!(await isComplete(url, scale))) await fill(url, scale);
  } finally {
    await admin.end();
  }
  return url;
}

async function isComplete(url, scale) {
  const client = new pg.Client({ connectionString: url, application_name: 'kaygraph-bench' });
  await client.connect();
  try {
    const { rows } = await client.query(`
      SELECT (SELECT count(*) FROM pg_class WHERE relname = 'pgbench_accounts'
                AND relkind = 'r' AND relnamespace = 'public'::regnamespace) AS present`);
    if (Number(rows[0].present) === 0) return false;
    // The branches are written last-but-one and the primary keys last: both in place means
    // `pgbench -i` ran to the end.
    const counted = await client.query(`
      SELECT (SELECT count(*) FROM pgbench_branches) AS branches,
             (SELECT count(*) FROM pg_index WHERE indrelid = 'pgbench_accounts'::regclass
                AND indisprimary) AS keys,
             (SELECT reltuples FROM pg_class WHERE oid = 'pgbench_accounts'::regclass) AS rows`);
    const row = counted.rows[0];
    return Number(row.branches) === scale && Number(row.keys) === 1 && Number(row.rows) > 0;
  } finally {
    await client.end();
  }
}

async function fill(url, scale) {
  console.log(`bench: filling ${new URL(url).pathname.slice(1)} with pgbench -i -s ${scale}`);
  // The password goes by environment, so a failure message (which quotes the command) shows none.
  const target = new URL(url);
  const env = { ...process.env };
  if (target.password) env.PGPASSWORD = decodeURIComponent(target.password);
  target.password = '';
  // pgbench drops and recreates its own tables, so an interrupted earlier fill is redone whole.
  await run('pgbench', ['-i', '-q', '-s', String(scale), target.toString()], {
    env,
    maxBuffer: 16 * 1024 * 1024,
  });
}
