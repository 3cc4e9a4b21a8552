import {
  type AcquireOptions,
  AcquireTimeoutError,
  abortError,
  ForeignLeaseError,
  type CloseOptions,
  checkBoolean,
  checkInteger,
  checkString,
  ConfigInvalidError,
  describe as describeError,
  errorInfo,
  type HealthReport,
  KayGraphError,
  LeaseLedger,
  type LeaseOwner,
  PoolClosedError,
  type ProviderState,
  type ProviderStats,
  publish,
  type ReturnHooks,
} from '@kaygraph/core';
import pg from 'pg';
import { backendKey, cancelStatement } from './cancel-request.js';
import { ConnectBackoff } from './connect-backoff.js';
import { ConnectionTally } from './connection-tally.js';
import { connectError, isConnectionFailure, statementError, targetLabel } from './db-errors.js';
import { type DbProviderOptions, type ResolvedDbOptions, resolveDbOptions } from './db-options.js';
import { type CopyFormat, CopyOutStream, copyStatement } from './db-copy.js';
import { readCursor } from './db-stream.js';
import type {
  DbCallOptions,
  DbCopyOutOptions,
  DbCopyStream,
  DbDescription,
  DbLease,
  DbProvider,
  DbStreamOptions,
} from './db-types.js';
import { ClientBook, type ClientState } from './pooled-client.js';
import { raceAcquire, untilAborted } from './races.js';

const neverAborted = new AbortController().signal;

// pg-pool's own queue timeout is a backstop that withdraws requests we already gave up on; it
// runs a little later than ours so a connect in progress can finish and be kept.
const BACKSTOP_GRACE_MS = 1000;

/** Longest wait in close() for connections to finish closing their sockets. */
const REMOVE_WAIT_MS = 5000;

/**
 * A `pool.connect()` error from a connection attempt that failed (refused, unanswered, not
 * authenticated), as opposed to pg-pool's own queue timeout or a pool already ended.
 */
function isConnectFailure(error: unknown): boolean {
  const message = error instanceof Error ? error.message : '';
  return !(
    message.startsWith('Cannot use a pool after calling end') ||
    message.includes('timeout exceeded when trying to connect')
  );
}

const COPY_FORMATS: readonly CopyFormat[] = ['text', 'csv', 'binary'];

function checkCopyFormat(format: unknown): CopyFormat {
  if (format === undefined) return 'text';
  if (COPY_FORMATS.includes(format as CopyFormat)) return format as CopyFormat;
  throw new ConfigInvalidError(
    `copyOut: option "format" must be one of ${COPY_FORMATS.join(', ')}, got ${String(format)}`,
  );
}

/** `stream`'s `types` option: pg's `{ getTypeParser }` form, or undefined for pg's globals. */
function checkTypes(types: unknown): pg.CustomTypesConfig | undefined {
  if (types === undefined) return undefined;
  const parsers = types as { getTypeParser?: unknown } | null;
  if (typeof parsers?.getTypeParser !== 'function') {
    throw new ConfigInvalidError(
      'stream: option "types" must be an object with a getTypeParser function (pg\'s `types` form)',
    );
  }
  return types as pg.CustomTypesConfig;
}

/**
 * Create a PostgreSQL provider on pg-pool. Options are checked here; no connection is made until
 * `open()` or the first acquire.
 *
 * @example
 * const db = createDbProvider({ connectionString: process.env.DATABASE_URL });
 * const { rows } = await db.query('SELECT now() AS now');
 * await db.close();
 */
export function createDbProvider(options: DbProviderOptions): DbProvider {
  return new PgProvider(resolveDbOptions(options));
}

class PgProvider implements DbProvider {
  readonly name: string;
  readonly kind = 'postgres';

  readonly #options: ResolvedDbOptions;
  readonly #book: ClientBook;
  readonly #tally: ConnectionTally;
  readonly #backoff: ConnectBackoff;
  readonly #pool: pg.Pool;
  readonly #ledger: LeaseLedger<pg.PoolClient>;
  readonly #returnHooks: ReturnHooks<pg.PoolClient>;
  /** Fail functions of the acquires waiting now, so closing can reject them at once. */
  readonly #waits = new Set<(error: Error) => void>();
  #state: ProviderState = 'new';
  #acquireTimeouts = 0;
  #opening: Promise<void> | undefined;
  #shutdown: Promise<void> | undefined;
  #forced = false;
  #drained: (() => void) | undefined;
  #poolEnded = false;
  /** Cancel requests on their way, so close() leaves no socket behind. */
  readonly #cancels = new Set<Promise<void>>();

  constructor(options: ResolvedDbOptions) {
    this.name = options.name;
    this.#options = options;
    this.#ledger = new LeaseLedger({
      provider: options.name,
      leakDetectionMs: options.leakDetectionMs,
    });
    this.#backoff = new ConnectBackoff(options.connectRetryMs, options.connectRetryMaxMs);
    this.#tally = new ConnectionTally({
      provider: options.name,
      brokenError: (error) => this.#statementError(error),
      connectError: (error) => this.#connectError(error),
      closing: () => this.#shutdown !== undefined,
    });
    this.#book = new ClientBook(options.connectTimeoutMs, {
      connectFailed: (_client, state, error) => this.#tally.connectFailed(state, error),
      failed: (_client, state, error) => this.#tally.failed(state, error),
    });
    this.#pool = this.#createPool();
    this.#returnHooks = {
      release: (client) => this.#returnClient(client),
      destroy: (client, reason) => {
        this.#cancelStatement(client);
        this.#discard(client, `destroyed by its holder: ${describeError(reason)}`);
        // Settles once the socket is closed: whoever awaits the destroy (a scope ending a run)
        // sees the connection gone and counted.
        return this.#tally.untilRemoved(client, REMOVE_WAIT_MS);
      },
    };
  }

  get state(): ProviderState {
    return this.#state;
  }

  open(): Promise<void> {
    if (this.#shutdown !== undefined) return Promise.reject(this.#closedError());
    this.#opening ??= this.acquire().then(
      (lease) => lease.release(),
      (error: unknown) => {
        this.#opening = undefined;
        throw error;
      },
    );
    return this.#opening;
  }

  async acquire(options: AcquireOptions = {}): Promise<DbLease> {
    if (this.#shutdown !== undefined) throw this.#closedError();
    this.#markOpen();
    const started = Date.now();
    const timeoutMs = this.#timeoutFor(options.timeoutMs);
    const deadline = timeoutMs === 0 ? Number.POSITIVE_INFINITY : started + timeoutMs;
    // Taken before the wait: after it, the stack is that of whoever freed the connection.
    const stack = this.#ledger.borrowerStack();

    for (;;) {
      const client = await this.#checkout(deadline, started, options);
      if (client === undefined) continue;
      if (this.#shutdown !== undefined) {
        // Closing began while the connection was on its way; the lease would outlive close().
        this.#returnClient(client);
        throw this.#closedError();
      }
      const state = this.#stateOf(client);
      const waitMs = Date.now() - started;
      return this.#ledger.issue(client, state.id, this.#returnHooks, waitMs, options.owner, stack);
    }
  }

  query<T extends pg.QueryResultRow = pg.QueryResultRow>(
    sql: string,
    params?: readonly unknown[],
    options: DbCallOptions = {},
  ): Promise<pg.QueryResult<T>> {
    return this.#withLease(options, (client) =>
      untilAborted(client.query<T>(sql, params as unknown[] | undefined), options.signal, 'query'),
    );
  }

  async transaction<T>(
    fn: (client: pg.PoolClient, signal: AbortSignal) => Promise<T>,
    options: DbCallOptions = {},
  ): Promise<T> {
    const signal = options.signal ?? neverAborted;
    const lease = await this.acquire(options);
    const client = lease.resource;
    try {
      await client.query('BEGIN');
      const result = await fn(client, signal);
      if (signal.aborted) throw abortError(signal, 'transaction');
      await client.query('COMMIT');
      await lease.release();
      return result;
    } catch (error) {
      await this.#rollback(lease);
      if (signal.aborted) throw abortError(signal, 'transaction');
      throw this.#transactionError(client, error);
    }
  }

  stream<T extends pg.QueryResultRow = pg.QueryResultRow>(
    sql: string,
    params?: readonly unknown[],
    options: DbStreamOptions = {},
  ): AsyncIterable<T[]> {
    const batchSize = checkInteger('stream', 'batchSize', options.batchSize, 1000, { min: 1 });
    const readOnly = checkBoolean('stream', 'readOnly', options.readOnly, true);
    const types = checkTypes(options.types);
    const provider = this;
    return {
      async *[Symbol.asyncIterator]() {
        const lease = await provider.acquire(options);
        yield* readCursor<T>(lease, {
          sql,
          params,
          batchSize,
          readOnly,
          types,
          signal: options.signal,
          mapError: (error) => provider.#statementError(error),
          markBroken: (error) => provider.#tally.failed(provider.#stateOf(lease.resource), error),
        });
      },
    };
  }

  copyOut(query: string, options: DbCopyOutOptions = {}): DbCopyStream {
    const sql = checkString('copyOut', 'query', query);
    const format = checkCopyFormat(options.format);
    const header = checkBoolean('copyOut', 'header', options.header, false);
    if (header && format !== 'csv') {
      throw new ConfigInvalidError('copyOut: option "header" needs format "csv"');
    }
    const readOnly = checkBoolean('copyOut', 'readOnly', options.readOnly, true);
    const highWaterMark = checkInteger('copyOut', 'highWaterMark', options.highWaterMark, 262_144, {
      min: 1,
    });
    const { signal, owner, timeoutMs } = options;
    return new CopyOutStream({
      statement: copyStatement(sql, format, header),
      readOnly,
      highWaterMark,
      signal,
      acquire: (acquireOptions) => this.acquire(acquireOptions),
      acquireOptions: { signal, owner, timeoutMs },
      mapError: (error) => this.#statementError(error),
      markBroken: (client, error) => this.#tally.failed(this.#stateOf(client), error),
    });
  }

  async check(options: { signal?: AbortSignal } = {}): Promise<HealthReport> {
    const started = performance.now();
    let failure: unknown;
    try {
      if (this.#shutdown !== undefined) throw this.#closedError();
      await this.query('SELECT 1', [], options.signal ? { signal: options.signal } : {});
    } catch (error) {
      failure = error;
    }
    const latencyMs = performance.now() - started;
    const error = failure === undefined ? undefined : errorInfo(failure);
    publish('provider:health', {
      provider: this.name,
      time: Date.now(),
      ok: error === undefined,
      latencyMs,
      ...(error ? { error } : {}),
    });
    return error ? { ok: false, latencyMs, error: error.message } : { ok: true, latencyMs };
  }

  stats(): ProviderStats {
    return {
      size: this.#pool.totalCount,
      inUse: this.#ledger.size,
      idle: this.#pool.idleCount,
      // Our callers still waiting (for a connection or for the next connect attempt); pg-pool's
      // own queue also holds requests whose callers gave up, which it cannot withdraw.
      waiting: this.#waits.size,
      pending: this.#book.pending,
      created: this.#tally.created,
      destroyed: this.#tally.destroyed,
      errors: this.#tally.errors,
      acquireTimeouts: this.#acquireTimeouts,
      leaks: this.#ledger.leaks,
      acquired: this.#ledger.acquired,
      released: this.#ledger.returned,
    };
  }

  /** Count a lease as leaked (a scope ended with it still out), with the borrower's stack. */
  reportLeak(lease: DbLease, details?: { stack?: string }): void {
    this.#ledger.reportLeak(lease, details);
  }

  describe(): DbDescription {
    const { host, port, database, user } = this.#options.target;
    return {
      host,
      port,
      database,
      user,
      applicationName: this.#options.applicationName,
      max: this.#options.max,
      ssl: this.#options.tls.enabled,
      ...(this.#options.tls.enabled ? { tlsVerify: this.#options.tls.verify } : {}),
    };
  }

  close(options: CloseOptions = {}): Promise<void> {
    if (this.#shutdown !== undefined) return this.#shutdown;
    const timeoutMs = checkInteger('close', 'timeoutMs', options.timeoutMs, 30_000, { min: 0 });
    this.#beginShutdown();
    this.#shutdown = this.#drainThenEnd(timeoutMs);
    return this.#shutdown;
  }

  destroy(reason?: unknown): Promise<void> {
    this.#forced = true;
    this.#beginShutdown();
    const why = reason ?? new PoolClosedError(`provider "${this.name}" was destroyed`);
    // Revoked: the holder's late release then rejects with LeaseRevokedError, counting nothing.
    for (const lease of this.#ledger.outstanding()) this.#ledger.revoke(lease, why).catch(() => {});
    this.#drained?.();
    this.#shutdown ??= this.#endPool();
    return this.#shutdown;
  }

  #createPool(): pg.Pool {
    const options = this.#options;
    const pool = new pg.Pool({
      ...options.connection,
      max: options.max,
      idleTimeoutMillis: options.idleTimeoutMs,
      connectionTimeoutMillis:
        options.acquireTimeoutMs === 0 ? 0 : options.acquireTimeoutMs + BACKSTOP_GRACE_MS,
      application_name: options.applicationName,
      ...(options.statementTimeoutMs === undefined
        ? {}
        : { statement_timeout: options.statementTimeoutMs }),
      ...(options.ssl === undefined ? {} : { ssl: options.ssl }),
      Client: this.#book.clientClass(),
    });
    // pg-pool re-emits the error of an idle client here after evicting it. Without a listener
    // that would crash the process; the client's own listener has already counted it.
    pool.on('error', () => {});
    pool.on('connect', (client) => this.#tally.connected(client, this.#stateOf(client)));
    pool.on('remove', (client) => this.#tally.removed(client, this.#stateOf(client)));
    return pool;
  }

  /** One attempt at a lendable connection; undefined when the one pg-pool gave was unusable. */
  async #checkout(
    deadline: number,
    started: number,
    options: AcquireOptions,
  ): Promise<pg.PoolClient | undefined> {
    const remaining = deadline - Date.now();
    if (remaining <= 0) throw this.#acquireTimedOut(started, options.owner);
    const turn = this.#needsTurn() ? this.#backoff.turn() : undefined;
    const work =
      turn === undefined
        ? this.#connectPaced(false)
        : turn.ready.then(() => (turn.begin() ? this.#connectPaced(true) : undefined));
    try {
      return await raceAcquire(work, {
        signal: options.signal,
        timeoutMs: Number.isFinite(remaining) ? remaining : 0,
        what: `acquire from provider "${this.name}"`,
        timeoutError: () => this.#acquireTimedOut(started, options.owner),
        returnLate: (client) => client && this.#returnClient(client),
        track: (fail) => {
          this.#waits.add(fail);
          return () => this.#waits.delete(fail);
        },
      });
    } catch (error) {
      turn?.cancel();
      throw this.#acquireError(error, started, options.owner);
    }
  }

  /**
   * Connects fail and nothing is idle: this acquire waits for its turn. (Queued in pg-pool
   * instead, it would make a connect of its own as soon as another one failed.)
   */
  #needsTurn(): boolean {
    return this.#backoff.failing && this.#pool.idleCount === 0;
  }

  /** `#connectChecked`, telling the backoff how it went. */
  #connectPaced(probe: boolean): Promise<pg.PoolClient | undefined> {
    return this.#connectChecked().then(
      (client) => {
        this.#backoff.succeeded();
        return client;
      },
      (error: unknown) => {
        if (isConnectFailure(error)) this.#backoff.failed(error, probe);
        throw error;
      },
    );
  }

  /**
   * A connection from pg-pool, checked before lending when it sat idle past the bypass window.
   * pg-pool evicts an idle connection when it emits an error, but a backend killed moments ago
   * may not have been noticed yet; the check catches it and a fresh connection is tried.
   */
  async #connectChecked(): Promise<pg.PoolClient | undefined> {
    const client = await this.#pool.connect();
    const state = this.#stateOf(client);
    this.#takeDriverRelease(client, state);
    if (state.failure !== undefined) {
      this.#discard(client, 'connection failed while idle');
      return undefined;
    }
    const idleMs = state.releasedAt === undefined ? 0 : Date.now() - state.releasedAt;
    if (state.releasedAt === undefined || idleMs <= this.#options.validateAfterIdleMs)
      return client;
    try {
      await client.query('SELECT 1');
      return client;
    } catch (error) {
      this.#tally.failed(state, error);
      this.#discard(client, `failed validation after ${idleMs} ms idle`);
      return undefined;
    }
  }

  async #withLease<T>(
    options: DbCallOptions,
    work: (client: pg.PoolClient) => Promise<T>,
  ): Promise<T> {
    const lease = await this.acquire(options);
    try {
      const result = await work(lease.resource);
      await lease.release();
      return result;
    } catch (error) {
      if (options.signal?.aborted) await lease.destroy(error);
      else if (isConnectionFailure(error)) {
        this.#tally.failed(this.#stateOf(lease.resource), error);
        await lease.release();
      } else await lease.release();
      throw this.#statementError(error);
    }
  }

  async #rollback(lease: DbLease): Promise<void> {
    if (this.#stateOf(lease.resource).failure !== undefined) return lease.release();
    try {
      await lease.resource.query('ROLLBACK');
    } catch (error) {
      this.#tally.failed(this.#stateOf(lease.resource), error);
    }
    return lease.release();
  }

  /** Driver failures become DbError/DbConnectError; the caller's own errors pass unchanged. */
  #transactionError(client: pg.PoolClient, error: unknown): unknown {
    const broken = this.#stateOf(client).failure !== undefined;
    return broken || error instanceof pg.DatabaseError ? this.#statementError(error) : error;
  }

  #statementError(error: unknown): unknown {
    return statementError(error, this.#options.target, this.#options.secrets);
  }

  /** Take a connection back from a lease (or a late arrival): idle again, or destroyed. */
  #returnClient(client: pg.PoolClient): void {
    const state = this.#stateOf(client);
    if (state.failure !== undefined) {
      this.#discard(client, this.#tally.brokenReason(state.failure));
      return;
    }
    const status = client.getTransactionStatus();
    if (status === 'T' || status === 'E') {
      this.#warn('a connection came back inside an open transaction; closed it to roll back');
      this.#discard(client, 'returned inside an open transaction');
      return;
    }
    state.releasedAt = Date.now();
    this.#driverRelease(state);
    this.#checkDrained();
  }

  /**
   * A lent connection being destroyed may be running a statement (an abort, a node timeout, a
   * close that ran out of time), which closing its socket does not stop. The cancel is not
   * awaited, so an abort still rejects at once; close() waits for it.
   */
  #cancelStatement(client: pg.PoolClient): void {
    const key = backendKey(client);
    if (key === undefined || this.#stateOf(client).failure !== undefined) return;
    const sent: Promise<void> = cancelStatement(key, this.#options.connectTimeoutMs).then(() => {
      this.#cancels.delete(sent);
    });
    this.#cancels.add(sent);
  }

  /** pg-pool destroys a client released with an error. */
  #discard(client: pg.PoolClient, reason: string): void {
    const state = this.#stateOf(client);
    state.destroyReason ??= reason;
    this.#driverRelease(state, new Error(reason));
    this.#checkDrained();
  }

  /**
   * pg-pool gives every checkout its own `client.release`. Called by the borrower, it would put
   * the connection back behind its lease's back, to be lent to a second borrower while the first
   * still uses it; so the provider keeps it and leaves one on the client that refuses.
   */
  #takeDriverRelease(client: pg.PoolClient, state: ClientState): void {
    state.driverRelease = client.release;
    client.release = () => {
      throw new ForeignLeaseError(
        `connection ${state.id} of provider "${this.name}" is lent through a lease: return it ` +
          'with lease.release() or lease.destroy(error), not client.release()',
      );
    };
  }

  #driverRelease(state: ClientState, error?: Error): void {
    const release = state.driverRelease;
    state.driverRelease = undefined;
    release?.(error);
  }

  #acquireError(error: unknown, started: number, owner: LeaseOwner | undefined): unknown {
    if (KayGraphError.isInstance(error)) return error;
    const message = error instanceof Error ? error.message : '';
    if (message.startsWith('Cannot use a pool after calling end')) return this.#closedError();
    // pg-pool's backstop: its queue timeout, or the connect it cut short at the same deadline.
    if (
      message.includes('timeout exceeded when trying to connect') ||
      message.includes('due to connection timeout')
    ) {
      return this.#acquireTimedOut(started, owner, error);
    }
    return this.#connectError(error);
  }

  #acquireTimedOut(started: number, owner: LeaseOwner | undefined, cause?: unknown): Error {
    const waitMs = Date.now() - started;
    this.#acquireTimeouts++;
    publish('resource:acquire-timeout', {
      provider: this.name,
      time: Date.now(),
      waitMs,
      ...(owner ? { owner } : {}),
    });
    // A connect that failed during this wait is the likelier story than a busy pool.
    const failed = this.#tally.lastConnectFailure;
    const connectFailure = failed !== undefined && failed.at >= started ? failed.error : undefined;
    const because =
      connectFailure === undefined ? '' : `; last connect failed: ${connectFailure.message}`;
    const { max } = this.#options;
    return new AcquireTimeoutError(
      `no connection to ${targetLabel(this.#options.target)} became free within ${waitMs} ms ` +
        `(provider "${this.name}", max ${max}, ${this.#waits.size} waiting)${because}`,
      { cause: cause ?? connectFailure },
    );
  }

  #connectError(error: unknown): Error {
    const timedOut = error instanceof Error && error.message === 'timeout expired';
    const cause = timedOut
      ? new Error(`no answer within connectTimeoutMs (${this.#options.connectTimeoutMs} ms)`, {
          cause: error,
        })
      : error;
    return connectError(cause, this.#options.target, this.#options.secrets);
  }

  #timeoutFor(perCall: number | undefined): number {
    const base = this.#options.acquireTimeoutMs;
    const asked = checkInteger('acquire', 'timeoutMs', perCall, base, { min: 0 });
    if (base === 0) return asked;
    return asked === 0 ? base : Math.min(asked, base);
  }

  #markOpen(): void {
    if (this.#state !== 'new') return;
    this.#state = 'open';
    publish('provider:open', { provider: this.name, time: Date.now(), kind: this.kind });
    const { tls, target } = this.#options;
    if (tls.enabled && !tls.verify) {
      this.#warn(`TLS certificate verification is off for ${target.host}:${target.port}`);
    }
  }

  #beginShutdown(): void {
    if (this.#state !== 'closed') this.#state = 'closing';
    const error = this.#closedError();
    for (const fail of [...this.#waits]) fail(error);
    this.#backoff.close();
  }

  async #drainThenEnd(timeoutMs: number): Promise<void> {
    const drained = await this.#waitForLeases(timeoutMs);
    if (!drained) {
      const left = this.#ledger.outstanding();
      this.#warn(`close timed out after ${timeoutMs} ms; destroying ${left.length} lease(s)`);
      const why = new PoolClosedError(`provider "${this.name}" closed before the lease came back`);
      for (const lease of left) {
        // Kept past the close that waited for it: a leak, as every provider reports it.
        this.#ledger.reportLeak(lease);
        await this.#ledger.revoke(lease, why).catch(() => {});
      }
    }
    await this.#endPool();
  }

  #waitForLeases(timeoutMs: number): Promise<boolean> {
    if (this.#ledger.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#drained = undefined;
        resolve(false);
      }, timeoutMs);
      this.#drained = () => {
        clearTimeout(timer);
        this.#drained = undefined;
        resolve(true);
      };
    });
  }

  #checkDrained(): void {
    if (this.#drained !== undefined && this.#ledger.size === 0) this.#drained();
  }

  async #endPool(): Promise<void> {
    // pg-pool's end() rejects when called twice; close() and destroy() may both get here.
    if (!this.#poolEnded) {
      this.#poolEnded = true;
      await this.#pool.end();
      await this.#tally.untilAllRemoved(REMOVE_WAIT_MS);
    }
    await Promise.all(this.#cancels);
    this.#ledger.close();
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    publish('provider:close', {
      provider: this.name,
      time: Date.now(),
      kind: this.kind,
      forced: this.#forced,
    });
  }

  #closedError(): PoolClosedError {
    return new PoolClosedError(`provider "${this.name}" is closed and takes no more acquires`);
  }

  #warn(message: string): void {
    publish('provider:warning', { provider: this.name, time: Date.now(), message });
  }

  #stateOf(client: pg.PoolClient): ClientState {
    const state = this.#book.stateOf(client);
    if (state === undefined) throw new TypeError('connection was not made by this provider');
    return state;
  }
}
