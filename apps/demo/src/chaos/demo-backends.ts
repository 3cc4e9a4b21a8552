import { setTimeout as delay } from 'node:timers/promises';
import pg from 'pg';
import { APPLICATION_NAME } from '../export-resources.js';

/** `application_name` of the chaos tools' own connections, which the killer leaves alone. */
const OBSERVER_NAME = 'kaygraph-chaos';

/**
 * The demo's backends in one database. The database is part of the filter so that a run never
 * counts or kills another run's connections (each run exports from a scratch database).
 */
const DEMO_BACKENDS = 'application_name = $1 AND datname = $2 AND pid <> pg_backend_pid()';

export interface BackendKillerOptions {
  /** Any database URL on the server. */
  serverUrl: string;
  /** Database the demo reads from. */
  database: string;
  /** Time between two rounds. Default 300 ms. */
  intervalMs?: number;
  /** `application_name` to kill. Default the demo's. */
  applicationName?: string;
}

/** A loop terminating the demo's backends, as an administrator or a failover would. */
export interface BackendKiller {
  /** Backends terminated so far. */
  killed(): number;
  /** Rounds run so far, including those that found nothing to kill. */
  rounds(): number;
  /** Rounds whose query failed; the loop carries on with a new connection. */
  errors(): number;
  /** End the loop and its connection. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Every `intervalMs`, `pg_terminate_backend` each backend with the demo's `application_name` in
 * the given database: idle ones in the pool, the one under the cursor, and ones still starting.
 */
export function startBackendKiller(options: BackendKillerOptions): BackendKiller {
  const intervalMs = options.intervalMs ?? 300;
  const params = [options.applicationName ?? APPLICATION_NAME, options.database];
  const stopper = new AbortController();
  const counts = { killed: 0, rounds: 0, errors: 0 };
  let client: pg.Client | undefined;

  const round = async () => {
    client ??= await connectObserver(options.serverUrl);
    const result = await client.query<{ killed: boolean }>(
      `SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity WHERE ${DEMO_BACKENDS}`,
      params,
    );
    counts.killed += result.rows.filter((row) => row.killed).length;
  };

  const loop = (async () => {
    while (!stopper.signal.aborted) {
      counts.rounds += 1;
      await round().catch(() => {
        counts.errors += 1;
        const broken = client;
        client = undefined;
        broken?.end().catch(() => {});
      });
      await delay(intervalMs, undefined, { signal: stopper.signal }).catch(() => {});
    }
    await client?.end().catch(() => {});
  })();

  return {
    killed: () => counts.killed,
    rounds: () => counts.rounds,
    errors: () => counts.errors,
    async stop() {
      stopper.abort();
      await loop;
    },
  };
}

/** Counts of the demo's backends, over one connection of its own. */
export interface BackendObserver {
  /** Backends with the demo's `application_name` in `database` right now. */
  count(database: string): Promise<number>;
  /**
   * Poll until no such backend is left in `database`, or until `timeoutMs` (default 5 s) has
   * passed: a backend whose client just closed its socket takes a moment to leave
   * `pg_stat_activity`. Resolves with the count last seen: 0 when all are gone.
   */
  waitForNone(database: string, timeoutMs?: number): Promise<number>;
  close(): Promise<void>;
}

/** Open a connection that counts the demo's backends (and is not one of them). */
export async function observeDemoBackends(serverUrl: string): Promise<BackendObserver> {
  const client = await connectObserver(serverUrl);
  const count = async (database: string) => {
    const result = await client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE ${DEMO_BACKENDS}`,
      [APPLICATION_NAME, database],
    );
    return result.rows[0]!.n;
  };
  return {
    count,
    async waitForNone(database, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const left = await count(database);
        if (left === 0 || Date.now() >= deadline) return left;
        await delay(100);
      }
    },
    close: () => client.end(),
  };
}

async function connectObserver(serverUrl: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: serverUrl, application_name: OBSERVER_NAME });
  // A connection lost between rounds must not crash the process; the next query reports it.
  client.on('error', () => {});
  await client.connect();
  return client;
}
