import { checkInteger, checkObject, checkString, rejectUnknownKeys } from '@kaygraph/core';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

/** Options of {@link startEmbeddedPostgres}. */
export interface EmbeddedPostgresOptions {
  /** Directory the database lives in; created if missing. Default: in memory, gone on close. */
  dataDir?: string;
  /** TCP port to listen on; 0 picks a free one. Default `0`. */
  port?: number;
  /** Address to listen on. Default `'127.0.0.1'`. */
  host?: string;
  /**
   * Connections the socket server accepts at once. It hangs up on one more, which the provider
   * reports as `DbConnectError` (connection terminated), so keep the provider's `max` at or
   * below it. Default `10`.
   */
  maxConnections?: number;
}

/** A running embedded PostgreSQL. */
export interface EmbeddedPostgres {
  /** `postgres://postgres@host:port/postgres`, ready for `createDbProvider`. */
  readonly connectionString: string;
  /** The port it listens on. */
  readonly port: number;
  /** The address it listens on. */
  readonly host: string;
  /** Stop listening, drop every connection and close the database. Idempotent. */
  close(): Promise<void>;
}

const where = 'startEmbeddedPostgres';

/**
 * Start PostgreSQL in this process (PGlite, PostgreSQL compiled to WebAssembly) behind
 * pglite-socket's server, so pg and the provider reach it over the ordinary wire protocol.
 * Needs the optional peer dependencies `@electric-sql/pglite` and `@electric-sql/pglite-socket`.
 *
 * What it is not: PGlite is one backend. The socket server accepts up to `maxConnections`
 * connections and runs their messages one at a time on that backend; while one connection is
 * inside a transaction the others wait until it ends. So concurrent connections work — the
 * provider wraps each `stream()` cursor in a transaction for exactly this reason — but they
 * never run in parallel, and code that holds a transaction open on one connection while it
 * waits for another deadlocks. Startup parameters such as `application_name` and
 * `statement_timeout` are ignored, there is no `pg_terminate_backend`, and cancel requests are
 * dropped. Use it for demos and tests; use a real server for anything concurrent.
 *
 * @example
 * const pg = await startEmbeddedPostgres();
 * const db = createDbProvider({ connectionString: pg.connectionString, max: 4 });
 * // ...
 * await db.close();
 * await pg.close();
 */
export async function startEmbeddedPostgres(
  options: EmbeddedPostgresOptions = {},
): Promise<EmbeddedPostgres> {
  const checked = checkObject(where, options);
  rejectUnknownKeys(where, checked, ['dataDir', 'port', 'host', 'maxConnections']);
  const dataDir =
    checked.dataDir === undefined ? undefined : checkString(where, 'dataDir', checked.dataDir);
  const port = checkInteger(where, 'port', checked.port, 0, { min: 0, max: 65535 });
  const host = checkString(where, 'host', checked.host, '127.0.0.1');
  const maxConnections = checkInteger(where, 'maxConnections', checked.maxConnections, 10, {
    min: 1,
  });

  const db = await PGlite.create(dataDir);
  const server = new PGLiteSocketServer({ db, port, host, maxConnections });
  try {
    await server.start();
  } catch (error) {
    await db.close();
    throw error;
  }
  const bound = Number(server.getServerConn().split(':').pop());
  const urlHost = host.includes(':') ? `[${host}]` : host;

  let closing: Promise<void> | undefined;
  return {
    connectionString: `postgres://postgres@${urlHost}:${bound}/postgres`,
    port: bound,
    host,
    close() {
      closing ??= server.stop().finally(() => db.close());
      return closing;
    },
  };
}
