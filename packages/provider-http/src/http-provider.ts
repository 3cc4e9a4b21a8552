import {
  type AcquireOptions,
  type CloseOptions,
  type HealthReport,
  type Lease,
  LeaseReleasedError,
  PoolClosedError,
  type Provider,
  type ProviderState,
  type ProviderStats,
  errorInfo,
  linkSignals,
  publish,
  publishLazy,
  SlotLeases,
  closedError,
} from '@kaygraph/core';
import { Pool } from 'undici';
import { type ConnectionCounters, watchConnections } from './connection-events.js';
import {
  type HttpProviderOptions,
  type ResolvedHttpOptions,
  resolveHttpOptions,
} from './http-options.js';
import {
  type HttpRequestOptions,
  type HttpResponse,
  type PreparedRequest,
  type RequestDefaults,
  prepareRequest,
} from './http-request.js';
import { type RunnerContext, runRequest } from './request-runner.js';

/**
 * One request slot of the provider: a lease on it lets its holder send requests without
 * queueing for a slot each time. At most `connections × pipelining` slots exist.
 */
export interface HttpSlot {
  /** Slot number, from 1 to `connections × pipelining`. */
  readonly slot: number;
  /** Send a request in this slot (retries included). Rejects once the lease is returned. */
  request(options: Omit<HttpRequestOptions, 'owner'>): Promise<HttpResponse>;
}

/** undici's own view of the pool's sockets and requests. */
export interface HttpPoolStats {
  /** Open sockets. */
  connected: number;
  /** Open sockets with no request on them. */
  free: number;
  /** Requests undici has not yet written to a socket. */
  pending: number;
  /** Requests queued inside undici. */
  queued: number;
  /** Requests in flight. */
  running: number;
  /** Pending plus running requests. */
  size: number;
}

/**
 * Stats of the HTTP provider. `size`/`idle` count open sockets, `inUse`/`waiting` count request
 * slots (leases), `created`/`destroyed`/`errors` count sockets opened, closed and failed to open.
 */
export interface HttpProviderStats extends ProviderStats {
  /** Request slots: `connections × pipelining`. */
  slots: number;
  /** undici's pool stats. */
  pool: HttpPoolStats;
}

/** The HTTP provider: an undici pool for one origin behind the KayGraph `Provider` face. */
export interface HttpProvider extends Provider<HttpSlot> {
  /** The origin requests go to, without credentials. */
  readonly origin: string;
  /**
   * Send a request and read its whole response. The response body is always read in full or
   * destroyed, so a caller cannot leak a connection; retries follow the provider's policy.
   *
   * @example
   * const { statusCode, body } = await http.request({ method: 'GET', path: '/health' });
   */
  request(options: HttpRequestOptions): Promise<HttpResponse>;
  stats(): HttpProviderStats;
  describe(): Record<string, unknown>;
}

/**
 * Create an HTTP provider for one origin. Options are checked here; sockets open on first use.
 *
 * @example
 * const http = createHttpProvider({ origin: 'https://api.example.com', connections: 4 });
 * const res = await http.request({ method: 'PUT', path: '/chunks/1', body, idempotencyKey });
 * await http.close();
 */
export function createHttpProvider(options: HttpProviderOptions): HttpProvider {
  return new UndiciHttpProvider(resolveHttpOptions(options));
}

const DEFAULT_CLOSE_TIMEOUT_MS = 10_000;

class UndiciHttpProvider implements HttpProvider {
  readonly kind = 'http';
  readonly name: string;
  readonly origin: string;
  #state: ProviderState = 'new';
  readonly #options: ResolvedHttpOptions;
  readonly #pool: Pool;
  readonly #slots: SlotLeases<SlotHandle>;
  readonly #connections: ConnectionCounters;
  readonly #runner: RunnerContext;
  readonly #requestDefaults: RequestDefaults;
  /** Aborted on forced shutdown, so no request sits out a retry wait on a dead pool. */
  readonly #shutdown = new AbortController();
  readonly #makeSlot = (slot: number) => new SlotHandle(slot, this);
  #closing: Promise<void> | undefined;
  #destroying: Promise<void> | undefined;

  constructor(options: ResolvedHttpOptions) {
    this.#options = options;
    this.name = options.name;
    this.origin = options.origin;
    this.#pool = new Pool(options.origin, {
      connections: options.connections,
      pipelining: options.pipelining,
      connectTimeout: options.connectTimeoutMs,
      headersTimeout: options.headersTimeoutMs,
      bodyTimeout: options.bodyTimeoutMs,
      connect: { rejectUnauthorized: options.tlsRejectUnauthorized },
    });
    const limit = options.connections * options.pipelining;
    this.#slots = new SlotLeases(this.name, limit, options.leakDetectionMs);
    this.#connections = watchConnections(this.#pool, this.name);
    this.#runner = {
      provider: this.name,
      dispatcher: this.#pool,
      retry: options.retry,
      timeouts: {
        connect: options.connectTimeoutMs,
        headers: options.headersTimeoutMs,
        body: options.bodyTimeoutMs,
      },
      shutdown: this.#shutdown.signal,
      onRetry: (message) => this.#warn(message),
    };
    this.#requestDefaults = {
      origin: options.origin,
      headers: options.headers,
      maxRetries: options.retry.maxRetries,
      secrets: options.secrets,
    };
  }

  get state(): ProviderState {
    return this.#state;
  }

  async open(): Promise<void> {
    this.#markOpen();
  }

  // Synchronous so that acquire() takes its place in the slot queue in call order.
  #markOpen(): void {
    if (this.#state !== 'new') return;
    this.#state = 'open';
    publish('provider:open', { provider: this.name, time: Date.now(), kind: this.kind });
    if (!this.#options.tlsRejectUnauthorized) {
      this.#warn(`TLS certificate verification is off for ${this.origin}`);
    }
  }

  async acquire(options: AcquireOptions = {}): Promise<Lease<HttpSlot>> {
    if (this.#state === 'closing' || this.#state === 'closed') throw closedError(this.name);
    this.#markOpen();
    const timeoutMs = options.timeoutMs ?? this.#options.acquireTimeoutMs;
    // Awaited, not returned: the leak detector's stack of the borrower follows awaits only.
    return await this.#slots.acquire(this.#makeSlot, options, timeoutMs);
  }

  async request(options: HttpRequestOptions): Promise<HttpResponse> {
    const req = this.prepare(options);
    // A free slot is lent at once; only a request that must wait for one goes through acquire().
    const lease =
      (this.#state === 'open' ? this.#slots.tryAcquire(this.#makeSlot, options) : undefined) ??
      (await this.acquire({ signal: options.signal, owner: options.owner }));
    try {
      return await this.#send(req, options.signal);
    } finally {
      // A forced shutdown may have taken the slot back already.
      if (!lease.returned) await lease.release();
    }
  }

  /** @internal used by slot handles */
  prepare(options: unknown): PreparedRequest {
    return prepareRequest(options, this.#requestDefaults);
  }

  /** @internal used by slot handles */
  run(options: HttpRequestOptions): Promise<HttpResponse> {
    let req: PreparedRequest;
    try {
      req = this.prepare(options);
    } catch (error) {
      // Bad options reject like every other failure of a call that returns a promise.
      return Promise.reject(error);
    }
    return this.#send(req, options.signal);
  }

  #send(req: PreparedRequest, signal: AbortSignal | undefined): Promise<HttpResponse> {
    if (signal === undefined) return runRequest(this.#runner, req, this.#shutdown.signal);
    return this.#sendLinked(req, signal);
  }

  async #sendLinked(req: PreparedRequest, signal: AbortSignal): Promise<HttpResponse> {
    const linked = linkSignals([signal, this.#shutdown.signal]);
    try {
      return await runRequest(this.#runner, req, linked.signal);
    } finally {
      linked.dispose();
    }
  }

  stats(): HttpProviderStats {
    const pool = this.#poolStats();
    const { gate, ledger } = this.#slots;
    return {
      size: pool.connected,
      inUse: ledger.size,
      idle: pool.free,
      waiting: gate.waiting,
      pending: 0,
      created: this.#connections.created,
      destroyed: this.#connections.destroyed,
      errors: this.#connections.errors,
      acquireTimeouts: this.#slots.acquireTimeouts,
      leaks: ledger.leaks,
      acquired: ledger.acquired,
      released: ledger.returned,
      slots: gate.limit,
      pool,
    };
  }

  async check(options: { signal?: AbortSignal } = {}): Promise<HealthReport> {
    const started = Date.now();
    let report: HealthReport;
    try {
      const res = await this.request({
        method: 'HEAD',
        path: this.#options.healthPath,
        throwOnStatus: false,
        maxRetries: 0,
        ...(options.signal ? { signal: options.signal } : {}),
      });
      const ok = res.statusCode < 500;
      report = {
        ok,
        latencyMs: Date.now() - started,
        ...(ok ? {} : { error: `HEAD ${this.#options.healthPath} answered ${res.statusCode}` }),
        details: { statusCode: res.statusCode },
      };
    } catch (error) {
      report = { ok: false, latencyMs: Date.now() - started, error: errorInfo(error).message };
    }
    publishLazy('provider:health', () => ({
      provider: this.name,
      time: Date.now(),
      ok: report.ok,
      latencyMs: report.latencyMs,
      ...(report.error ? { error: { name: 'HealthCheckError', message: report.error } } : {}),
    }));
    return report;
  }

  close(options: CloseOptions = {}): Promise<void> {
    this.#closing ??= this.#closeGracefully(options.timeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS);
    return this.#closing;
  }

  destroy(reason?: unknown): Promise<void> {
    if (this.#state === 'closed' && this.#destroying === undefined) return Promise.resolve();
    this.#destroying ??= this.#destroyNow(reason);
    return this.#destroying;
  }

  /** Count a lease as leaked (a scope ended with it still out), with the borrower's stack. */
  reportLeak(lease: Lease<HttpSlot>, details?: { stack?: string }): void {
    this.#slots.ledger.reportLeak(lease as Lease<SlotHandle>, details);
  }

  describe(): Record<string, unknown> {
    const o = this.#options;
    return {
      origin: o.origin,
      connections: o.connections,
      pipelining: o.pipelining,
      slots: this.#slots.gate.limit,
      connectTimeoutMs: o.connectTimeoutMs,
      headersTimeoutMs: o.headersTimeoutMs,
      bodyTimeoutMs: o.bodyTimeoutMs,
      acquireTimeoutMs: o.acquireTimeoutMs,
      maxRetries: o.retry.maxRetries,
      tlsVerify: o.tlsRejectUnauthorized,
      leakDetectionMs: o.leakDetectionMs,
      // Names only: the values may be credentials.
      defaultHeaders: Object.keys(o.headers),
    };
  }

  async #closeGracefully(timeoutMs: number): Promise<void> {
    if (this.#destroying) return this.#destroying;
    this.#beginShutdown();
    const drained = await this.#slots.waitForReturn(timeoutMs);
    if (this.#destroying) return this.#destroying;
    if (drained) await this.#pool.close();
    else await this.#forceShut(closedError(this.name), true);
    this.#finishShutdown(!drained);
  }

  async #destroyNow(reason: unknown): Promise<void> {
    this.#beginShutdown();
    await this.#forceShut(
      new PoolClosedError(`provider "${this.name}" was destroyed`, { cause: reason }),
    );
    this.#finishShutdown(true);
  }

  async #forceShut(error: PoolClosedError, leaked = false): Promise<void> {
    this.#shutdown.abort(error);
    this.#slots.revokeAll(error, leaked);
    await this.#pool.destroy(error);
  }

  #beginShutdown(): void {
    if (this.#state !== 'closed') this.#state = 'closing';
    this.#slots.gate.close(closedError(this.name));
  }

  #finishShutdown(forced: boolean): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#slots.ledger.close();
    publish('provider:close', { provider: this.name, time: Date.now(), kind: this.kind, forced });
  }

  #warn(message: string): void {
    publishLazy('provider:warning', () => ({ provider: this.name, time: Date.now(), message }));
  }

  #poolStats(): HttpPoolStats {
    const s = this.#pool.stats;
    return {
      connected: s.connected,
      free: s.free,
      pending: s.pending,
      queued: s.queued,
      running: s.running,
      size: s.size,
    };
  }
}

class SlotHandle implements HttpSlot {
  #live = true;

  constructor(
    readonly slot: number,
    private readonly provider: UndiciHttpProvider,
  ) {}

  request(options: Omit<HttpRequestOptions, 'owner'>): Promise<HttpResponse> {
    if (!this.#live) {
      return Promise.reject(
        new LeaseReleasedError(`HTTP slot ${this.slot} of "${this.provider.name}" was returned`),
      );
    }
    return this.provider.run(options as HttpRequestOptions);
  }

  retire(): void {
    this.#live = false;
  }
}
