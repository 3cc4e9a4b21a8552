import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { redactText, redactUrl } from '@kaygraph/core';
import pg from 'pg';

const run = promisify(execFile);

/** Rows `pgbench -i` puts in `pgbench_accounts` per unit of scale. */
export const PGBENCH_ROWS_PER_SCALE = 100_000;

/** The table a pgbench database is exported from; its primary key is `aid`, 1 to rows. */
export const PGBENCH_TABLE = 'pgbench_accounts';

/** A database made for one run and dropped after it. */
export interface ScratchDatabase {
  /** Database name, unique per run (`kaygraph_chaos_1a2b3c4d`). */
  readonly name: string;
  /** The server URL with this database in it. */
  readonly url: string;
  /** Rows in `pgbench_accounts`, counted after the load. */
  readonly rows: number;
  /** Drop the database, closing any connection still in it. Idempotent. */
  drop(): Promise<void>;
}

export interface ScratchDatabaseOptions {
  /** Any database URL on the server; the scratch database is created next to it. */
  serverUrl: string;
  /** `pgbench -i -s` scale. */
  scale: number;
  /** Start of the database name. Default `kaygraph_scratch`. */
  prefix?: string;
}

/** `url` with its database replaced by `database`. */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/**
 * Create a fresh database and load it with `pgbench -i -s <scale>`, so each run reads a table it
 * owns and its connections can be told apart from any other run's by database name.
 */
export async function createScratchDatabase(
  options: ScratchDatabaseOptions,
): Promise<ScratchDatabase> {
  const name = `${options.prefix ?? 'kaygraph_scratch'}_${randomBytes(4).toString('hex')}`;
  const url = withDatabase(options.serverUrl, name);
  await adminQuery(options.serverUrl, `CREATE DATABASE ${name}`);
  let dropped: Promise<void> | undefined;
  const drop = (): Promise<void> => {
    dropped ??= adminQuery(options.serverUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).then(
      () => {},
    );
    return dropped;
  };

  try {
    await loadPgbench(url, options.scale);
    const counted = await adminQuery(url, `SELECT count(*)::int AS n FROM ${PGBENCH_TABLE}`);
    return { name, url, rows: counted.rows[0]!.n as number, drop };
  } catch (error) {
    await drop().catch(() => {});
    throw error;
  }
}

async function loadPgbench(url: string, scale: number): Promise<void> {
  try {
    await run('pgbench', ['-i', '-q', '-s', String(scale), url], { maxBuffer: 16 * 1024 * 1024 });
  } catch (error) {
    const { stderr, message } = error as { stderr?: string; message: string };
    const password = new URL(url).password;
    const why = redactText((stderr ?? '').trim() || message, password ? [password] : []);
    throw new Error(`pgbench -i -s ${scale} failed on ${redactUrl(url)}: ${why}`);
  }
}

async function adminQuery(url: string, sql: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url, application_name: 'kaygraph-scratch' });
  await client.connect();
  try {
    return await client.query(sql);
  } finally {
    await client.end();
  }
}
