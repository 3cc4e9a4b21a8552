import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { abortError } from '@kaygraph/core';
import pg from 'pg';
import type { DemoOptions } from './options.js';
import { SAMPLE_TABLE } from './options.js';
import { type UploadReceiver, startUploadReceiver } from './receiver.js';
import { type SmtpCapture, startSmtpCapture } from './smtp-capture.js';

/** Rows the embedded database's sample table is seeded with. */
export const SAMPLE_ROWS = 50_000;

/** Where the run's services are: each one a real service from the flags, or an embedded one. */
export interface Services {
  dbUrl: string;
  apiUrl: string;
  apiToken?: string;
  smtpUrl: string;
  /** Set when the built-in receiver runs, so the report can show its own count. */
  receiver?: UploadReceiver;
  /** Set when the built-in SMTP capture runs. */
  smtp?: SmtpCapture;
  /** Which parts run embedded, for the opening line. */
  embedded: string[];
  /** Stop whatever was started here, in reverse order; every stop runs. */
  close(): Promise<void>;
}

/**
 * Start an embedded stand-in for every service the flags leave out: PostgreSQL (PGlite behind its
 * socket server) seeded with a sample table, an upload receiver with a per-run bearer token, and
 * an SMTP capture writing to the outbox folder. Each flag replaces its part on its own.
 */
export async function startServices(
  options: DemoOptions,
  signal?: AbortSignal,
): Promise<Services> {
  const stops: Array<() => Promise<void>> = [];
  const close = async () => {
    const failures: unknown[] = [];
    for (const stop of stops.splice(0).reverse()) await stop().catch((e) => failures.push(e));
    if (failures.length > 0) throw failures[0];
  };
  try {
    return { ...(await startEach(options, stops, signal)), close };
  } catch (error) {
    await close().catch(() => {});
    throw error;
  }
}

async function startEach(
  options: DemoOptions,
  stops: Array<() => Promise<void>>,
  signal: AbortSignal | undefined,
): Promise<Omit<Services, 'close'>> {
  // A start cannot be cancelled halfway, but a signal stops the next one from beginning.
  const checkSignal = () => {
    if (signal?.aborted) throw abortError(signal, 'starting the embedded services');
  };
  const embedded: string[] = [];
  checkSignal();
  let dbUrl = options.dbUrl;
  if (dbUrl === undefined) {
    const database = await startEmbeddedDatabase();
    stops.push(() => database.close());
    dbUrl = database.connectionString;
    embedded.push('database');
  }
  checkSignal();

  let receiver: UploadReceiver | undefined;
  let apiToken = options.apiToken;
  let apiUrl = options.apiUrl;
  if (apiUrl === undefined) {
    apiToken ??= randomBytes(24).toString('base64url');
    const started = await startUploadReceiver({ token: apiToken });
    stops.push(() => started.close());
    receiver = started;
    apiUrl = started.url;
    embedded.push('upload receiver');
  }
  checkSignal();

  let smtp: SmtpCapture | undefined;
  let smtpUrl = options.smtpUrl;
  if (smtpUrl === undefined) {
    const started = await startSmtpCapture({ outbox: resolve(options.outbox) });
    stops.push(() => started.close());
    smtp = started;
    smtpUrl = started.url;
    embedded.push('SMTP capture');
  }

  return {
    dbUrl,
    apiUrl,
    smtpUrl,
    embedded,
    ...(apiToken === undefined ? {} : { apiToken }),
    ...(receiver === undefined ? {} : { receiver }),
    ...(smtp === undefined ? {} : { smtp }),
  };
}

/** Embedded PostgreSQL with the sample table in it. */
export async function startEmbeddedDatabase(
  rows = SAMPLE_ROWS,
): Promise<{ connectionString: string; close(): Promise<void> }> {
  // Loaded only here, so a run against a real server never loads PGlite.
  const { startEmbeddedPostgres } = await import('@kaygraph/provider-db/embedded');
  const database = await startEmbeddedPostgres();
  try {
    await seedSampleTable(database.connectionString, rows);
  } catch (error) {
    await database.close().catch(() => {});
    throw error;
  }
  return database;
}

/** Create and fill the sample table; deterministic, so every run exports the same rows. */
export async function seedSampleTable(connectionString: string, rows: number): Promise<void> {
  const client = new pg.Client({ connectionString, application_name: 'kaygraph-demo-seed' });
  await client.connect();
  try {
    await client.query(`
      CREATE TABLE IF NOT EXISTS ${SAMPLE_TABLE} (
        id integer PRIMARY KEY,
        customer text NOT NULL,
        product text NOT NULL,
        quantity integer NOT NULL,
        unit_price numeric(10, 2) NOT NULL,
        status text NOT NULL,
        ordered_at timestamptz NOT NULL
      )`);
    await client.query(
      `INSERT INTO ${SAMPLE_TABLE}
       SELECT g,
              'customer-' || (g % 997),
              (ARRAY['widget', 'gadget', 'gizmo', 'sprocket'])[1 + g % 4],
              1 + g % 9,
              round((5 + (g % 200) * 0.25)::numeric, 2),
              (ARRAY['new', 'paid', 'shipped', 'delivered', 'returned'])[1 + g % 5],
              timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute'
       FROM generate_series(1, $1::integer) AS g
       ON CONFLICT (id) DO NOTHING`,
      [rows],
    );
    await client.query(`ANALYZE ${SAMPLE_TABLE}`);
  } finally {
    await client.end();
  }
}
