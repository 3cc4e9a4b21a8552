import { Worker } from 'node:worker_threads';
import { raceAbort } from '@kaygraph/core';
import pg from 'pg';
import { SAMPLE_TABLE } from './options.js';

/** Rows the embedded database's sample table is seeded with. */
export const SAMPLE_ROWS = 50_000;

/** How long a stopping database thread may take to close cleanly before it is ended. */
const STOP_GRACE_MS = 3000;

/** A running embedded PostgreSQL. */
export interface EmbeddedDatabase {
  connectionString: string;
  /** Stop the server and end its thread. Idempotent. */
  close(): Promise<void>;
}

/**
 * Embedded PostgreSQL (PGlite, in memory: nothing of it is written to disk) with the sample table
 * in it, running in a worker thread of its own so that its start-up, which blocks the thread it
 * runs on for seconds, never keeps this one from hearing a signal. When `signal` aborts, the
 * start is not waited for: the thread is ended where it stands and the call rejects at once.
 */
export async function startEmbeddedDatabase(
  options: { rows?: number; signal?: AbortSignal } = {},
): Promise<EmbeddedDatabase> {
  const { rows = SAMPLE_ROWS, signal } = options;
  const thread = new DatabaseThread();
  const cancellable = <T>(work: Promise<T>) =>
    signal === undefined ? work : raceAbort(work, signal, 'starting the embedded database');
  try {
    const connectionString = await cancellable(thread.ready);
    await cancellable(seedSampleTable(connectionString, rows));
    return { connectionString, close: () => thread.stop() };
  } catch (error) {
    // Aborted or failed halfway: nothing in the thread is worth a graceful stop.
    await thread.end();
    throw error;
  }
}

/** The worker thread running PGlite and its socket server. */
class DatabaseThread {
  readonly ready: Promise<string>;
  private readonly worker: Worker;
  private readonly exited: Promise<void>;
  private stopping: Promise<void> | undefined;

  constructor() {
    this.worker = new Worker(new URL('./embedded-database-worker.js', import.meta.url));
    this.exited = new Promise((resolve) => this.worker.once('exit', () => resolve()));
    this.ready = new Promise((resolve, reject) => {
      this.worker.once('message', (message: { connectionString: string }) => {
        resolve(message.connectionString);
      });
      this.worker.once('error', reject);
      this.exited.then(() => reject(new Error('the embedded database stopped while starting')));
    });
    // Whoever is not waiting for the start any more does not want to hear how it failed.
    this.ready.catch(() => {});
  }

  /** Close the server and the database, then let the thread end; end it if that stalls. */
  stop(): Promise<void> {
    this.stopping ??= this.closeThenEnd();
    return this.stopping;
  }

  /** End the thread now, whatever it is doing. */
  async end(): Promise<void> {
    await this.worker.terminate();
  }

  private async closeThenEnd(): Promise<void> {
    this.worker.postMessage('close');
    let timer: NodeJS.Timeout | undefined;
    const stalled = new Promise<'stalled'>((resolve) => {
      timer = setTimeout(() => resolve('stalled'), STOP_GRACE_MS);
    });
    const outcome = await Promise.race([this.exited, stalled]);
    clearTimeout(timer);
    if (outcome === 'stalled') await this.end();
  }
}

/** Create and fill the sample table; deterministic, so every run exports the same rows. */
export async function seedSampleTable(connectionString: string, rows: number): Promise<void> {
  const client = new pg.Client({ connectionString, application_name: 'kaygraph-demo-seed' });
  // A client whose server thread was ended mid-seed reports it here; the start has failed already.
  client.on('error', () => {});
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
    await client.end().catch(() => {});
  }
}
