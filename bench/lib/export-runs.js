// The export job, run as a child process by the demo CLI or by the hand-written baseline, against
// services this process starts once for a whole group: the demo's own upload receiver (no token,
// so both contenders upload to the same server the same way) and its SMTP capture. Chunk files
// and mails land in a scratch directory that is removed when the services close.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runNodeChild } from './run-child.js';

const DEMO_DIST = new URL('../../apps/demo/dist/', import.meta.url);
const DEMO_CLI = fileURLToPath(new URL('cli.js', DEMO_DIST));
const PLAIN_EXPORT = fileURLToPath(new URL('../baselines/plain-export.js', import.meta.url));
const MONITOR_SWITCH = new URL('./monitor-switch.js', import.meta.url).href;

/** The demo's defaults, given to both contenders explicitly so they cannot drift apart. */
export const EXPORT_SETTINGS = { batchSize: 1000, chunkRows: 10_000, concurrency: 4 };

/** The table every export group reads: pgbench's accounts, keyed by `aid`. */
export const TABLE = 'pgbench_accounts';

/**
 * Start the receiver and the SMTP capture in this process, in a fresh scratch directory.
 * Returns `{ tmp, apiUrl, smtpUrl, receiver, close() }`.
 */
export async function startExportServices() {
  if (!existsSync(DEMO_CLI)) {
    throw new Error(
      `${DEMO_CLI} is missing: build the demo first (pnpm --filter '@kaygraph/demo...' build)`,
    );
  }
  const { startUploadReceiver } = await import(new URL('receiver.js', DEMO_DIST).href);
  const { startSmtpCapture } = await import(new URL('smtp-capture.js', DEMO_DIST).href);
  const tmp = await mkdtemp(join(tmpdir(), 'kaygraph-bench-'));
  const closers = [() => rm(tmp, { recursive: true, force: true })];
  const close = async () => {
    for (const closer of closers.splice(0).reverse()) await closer().catch(() => {});
  };
  try {
    const receiver = await startUploadReceiver({ maxBodyBytes: 256 * 1024 * 1024 });
    closers.push(() => receiver.close());
    const smtp = await startSmtpCapture({ outbox: join(tmp, 'outbox') });
    closers.push(() => smtp.close());
    return { tmp, apiUrl: receiver.url, smtpUrl: smtp.url, receiver, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/**
 * The rows to export: the whole table (`rows` omitted), or its first `rows` rows in key order,
 * which is the order the demo reads a keyed table in.
 */
export function exportSource(rows) {
  const sql = `SELECT * FROM ${TABLE} ORDER BY aid`;
  return rows === undefined ? { table: TABLE, sql } : { sql: `${sql} LIMIT ${rows}`, rows };
}

function childEnv(services) {
  // Both contenders write their chunk files under the scratch directory, on the same disk.
  return { TMPDIR: services.tmp };
}

/**
 * One export through the demo CLI. With `monitor` given, the run goes through the monitor switch
 * (monitor-switch.js), and `monitor: false` swaps the monitor for a stand-in that does nothing.
 * Resolves `{ wallMs, maxRssKb, cpuMs, rows, report }`.
 */
export async function demoExport(services, { dbUrl, source, expectedRows, monitor, format }) {
  const report = join(services.tmp, `demo-report-${process.pid}.json`);
  const what = source.table ? ['--table', source.table] : ['--query', source.sql];
  const args = [
    '--db-url',
    dbUrl,
    ...what,
    '--api-url',
    services.apiUrl,
    '--smtp-url',
    services.smtpUrl,
    '--batch-size',
    String(EXPORT_SETTINGS.batchSize),
    '--chunk-rows',
    String(EXPORT_SETTINGS.chunkRows),
    '--concurrency',
    String(EXPORT_SETTINGS.concurrency),
    '--quiet',
    '--report',
    report,
    ...(format === undefined ? [] : ['--format', format]),
  ];
  const env = childEnv(services);
  const preload = monitor === undefined ? [] : [MONITOR_SWITCH];
  if (monitor === false) env.KAYGRAPH_BENCH_MONITOR = 'off';
  const options = { tmp: services.tmp, env, preload };
  const run = await again(() => runNodeChild(DEMO_CLI, args, options), 'demo');
  return finish(run, report, expectedRows, 'demo');
}

/**
 * One export through the hand-written baseline. Resolves `{ wallMs, maxRssKb, cpuMs, rows,
 * report }`.
 */
export async function plainExport(services, { dbUrl, source, expectedRows }) {
  const report = join(services.tmp, `plain-report-${process.pid}.json`);
  const args = [
    '--db-url',
    dbUrl,
    '--sql',
    source.sql,
    '--api-url',
    services.apiUrl,
    '--smtp-url',
    services.smtpUrl,
    '--batch-size',
    String(EXPORT_SETTINGS.batchSize),
    '--chunk-rows',
    String(EXPORT_SETTINGS.chunkRows),
    '--concurrency',
    String(EXPORT_SETTINGS.concurrency),
    '--report',
    report,
  ];
  const options = { tmp: services.tmp, env: childEnv(services) };
  const run = await again(() => runNodeChild(PLAIN_EXPORT, args, options), 'plain export');
  return finish(run, report, expectedRows, 'plain export');
}

// SQLSTATE 57P01: an administrator (on a shared server, someone's fault-injection test) ended the
// connection. That run says nothing about speed; it is thrown away and run again, said aloud.
const TERMINATED = /SQLSTATE 57P01|terminating connection due to administrator command/;
const TRIES = 3;

async function again(start, who) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (error) {
      if (attempt >= TRIES || !TERMINATED.test(String(error?.message))) throw error;
      console.log(`bench: a ${who} run lost its connection (SQLSTATE 57P01); running it again`);
    }
  }
}

/** A run counts only if every row arrived; a fast run that lost rows would be a false win. */
async function finish(run, reportFile, expectedRows, who) {
  const report = JSON.parse(await readFile(reportFile, 'utf8'));
  await rm(reportFile, { force: true });
  if (!report.ok || report.rows.uploaded !== expectedRows) {
    const why = report.error ?? 'no error reported';
    throw new Error(`${who} uploaded ${report.rows.uploaded} of ${expectedRows} rows: ${why}`);
  }
  return {
    wallMs: run.wallMs,
    maxRssKb: run.maxRssKb,
    cpuMs: run.cpuMs,
    rows: report.rows.uploaded,
    report,
  };
}
