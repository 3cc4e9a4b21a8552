import type { AcquireOptions, Lease, LeaseOwner, Provider, ProviderStats } from '@kaygraph/core';
import type { Readable } from 'node:stream';
import type pg from 'pg';

/** A leased PostgreSQL connection. Return it with `release()` or `await using`. */
export type DbLease = Lease<pg.PoolClient>;

/** Options every convenience method takes. */
export interface DbCallOptions {
  /** Cancels the wait for a connection and the statement in flight. */
  signal?: AbortSignal;
  /** Who is borrowing, for events, leak reports and the monitor. */
  owner?: LeaseOwner;
  /** Shortens the provider's `acquireTimeoutMs` for this call. */
  timeoutMs?: number;
}

/** Options of {@link DbProvider.stream}. */
export interface DbStreamOptions extends DbCallOptions {
  /** Rows fetched per round trip and yielded per batch. Default `1000`. */
  batchSize?: number;
  /**
   * Run the cursor in a `READ ONLY` transaction, so a statement that would change data (an
   * `INSERT`, `UPDATE` or `DELETE … RETURNING`, a function with side effects) fails with
   * `DbError` of `sqlState` `25006` and changes nothing. Set `false` to stream the rows of a
   * writing statement on purpose. Default `true`.
   */
  readOnly?: boolean;
  /**
   * How column text becomes values for this stream only, in pg's `types` form: an object whose
   * `getTypeParser(oid, format)` returns the parser of a type oid. Default: pg's global parsers
   * (`pg.types`). Use it to read a type differently without changing it for every other query in
   * the process, e.g. keep `bytea` as PostgreSQL's `\x…` text instead of a `Buffer`.
   *
   * @example
   * const types = { getTypeParser: (oid: number, format?: 'text' | 'binary') =>
   *   oid === 17 ? (text: string) => text : pg.types.getTypeParser(oid, format) };
   * for await (const rows of db.stream('SELECT data FROM files', [], { types })) { ... }
   */
  types?: pg.CustomTypesConfig;
}

/** Options of {@link DbProvider.copyOut}. */
export interface DbCopyOutOptions extends DbCallOptions {
  /**
   * The COPY format: `'text'` (PostgreSQL's text format: one line per row, columns separated by
   * tabs, `\N` for NULL, tabs, newlines and backslashes inside values escaped, so a row is
   * always exactly one line), `'csv'` or `'binary'`. Default `'text'`.
   */
  format?: 'text' | 'csv' | 'binary';
  /** With `format: 'csv'`: start with a line of column names. Default `false`. */
  header?: boolean;
  /**
   * Run the COPY in a `READ ONLY` transaction, so a query that would change data (a
   * `DELETE … RETURNING`, a function with side effects) fails with `DbError` of `sqlState`
   * `25006` and changes nothing. Default `true`.
   */
  readOnly?: boolean;
  /**
   * Bytes read ahead of the consumer (in two stream buffers of this size), so the server keeps
   * sending while the consumer is busy, e.g. waiting for a compressor. Default `262144` (256 KiB):
   * the demo's COPY export of 1,000,000 rows ran 5-7% faster with it than with Node's 16 KiB.
   */
  highWaterMark?: number;
}

/** The bytes of a `COPY … TO STDOUT`, from {@link DbProvider.copyOut}. */
export interface DbCopyStream extends Readable {
  /** Rows the server reported copying; undefined until the stream has ended. */
  readonly rowCount: number | undefined;
}

/** Non-secret facts about the provider's configuration, for the monitor. */
export interface DbDescription {
  /** Server host (from the connection string or options, else pg's default). */
  host: string;
  /** Server port. */
  port: number;
  /** Database name. */
  database: string;
  /** Role connections log in as. */
  user: string;
  /** `application_name` every connection carries. */
  applicationName: string;
  /** Most connections open at once. */
  max: number;
  /** Whether connections use TLS. */
  ssl: boolean;
  /** With TLS on: whether the server's certificate is verified. Absent without TLS. */
  tlsVerify?: boolean;
  [key: string]: unknown;
}

/** PostgreSQL behind pg-pool, with the KayGraph provider face. */
export interface DbProvider extends Provider<pg.PoolClient> {
  /** Borrow a connection. A connection idle past `validateAfterIdleMs` is checked first. */
  acquire(options?: AcquireOptions): Promise<DbLease>;
  /**
   * Run one statement on a connection of its own. If `signal` aborts while the statement runs,
   * the call rejects with `AbortedError` at once, the statement is cancelled on the server and
   * the connection is closed.
   */
  query<T extends pg.QueryResultRow = pg.QueryResultRow>(
    sql: string,
    params?: readonly unknown[],
    options?: DbCallOptions,
  ): Promise<pg.QueryResult<T>>;
  /**
   * Run `fn` inside BEGIN/COMMIT on one connection. A throw rolls back and rethrows (driver
   * errors as `DbError`/`DbConnectError`, the caller's own errors unchanged). `fn` gets the
   * signal; if it aborts, the transaction waits for `fn` to settle — its statements must not
   * escape into autocommit — then rolls back and rejects with `AbortedError`. If ROLLBACK fails
   * the connection is destroyed.
   *
   * @example
   * await db.transaction(async (client) => {
   *   await client.query('UPDATE account SET n = n - 1 WHERE id = $1', [1]);
   *   await client.query('UPDATE account SET n = n + 1 WHERE id = $1', [2]);
   * });
   */
  transaction<T>(
    fn: (client: pg.PoolClient, signal: AbortSignal) => Promise<T>,
    options?: DbCallOptions,
  ): Promise<T>;
  /**
   * Read a statement's rows in batches through a server-side cursor, holding one lease while
   * iterating and returning it on end, `break`, throw or abort. Only one batch is in memory. The
   * cursor runs in a read-only transaction unless `readOnly: false` is given.
   *
   * @example
   * for await (const rows of db.stream('SELECT * FROM events WHERE day = $1', [day])) {
   *   await writeChunk(rows);
   * }
   */
  stream<T extends pg.QueryResultRow = pg.QueryResultRow>(
    sql: string,
    params?: readonly unknown[],
    options?: DbStreamOptions,
  ): AsyncIterable<T[]>;
  /**
   * Run `COPY (query) TO STDOUT` and return its bytes as a Readable, untouched: no row becomes a
   * JavaScript object, which makes this the fast way to export a large result. The query is
   * inlined into the statement (COPY takes no parameters), so build it only from trusted text
   * and quoted values, and without a trailing semicolon.
   *
   * The stream holds one lease from its start until it ends. The connection is released once
   * the COPY completed and its transaction committed, before `end`; it is destroyed, with a
   * cancel request so the server stops too, when the COPY fails, the connection breaks, the
   * consumer destroys the stream early or `signal` aborts. Errors arrive as the stream's
   * `error`: `DbError` for a statement the server refused, `DbConnectError` for a connection
   * that broke, `AbortedError` for an abort.
   *
   * @example
   * await pipeline(
   *   db.copyOut('SELECT * FROM events ORDER BY id'),
   *   createGzip(),
   *   createWriteStream('events.tsv.gz'),
   * );
   */
  copyOut(query: string, options?: DbCopyOutOptions): DbCopyStream;
  describe(): DbDescription;
  stats(): ProviderStats;
}
