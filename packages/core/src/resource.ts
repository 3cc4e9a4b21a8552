import type { LeaseOwner } from './events.js';

/** Counters and gauges every provider reports, read as one snapshot. */
export interface ProviderStats {
  /** Resources that exist now: idle + in use (+ being created, for pools that count them). */
  size: number;
  /** Resources currently lent out. */
  inUse: number;
  /** Resources ready to lend. */
  idle: number;
  /** Acquires waiting for a resource. */
  waiting: number;
  /** Resources being created right now. */
  pending: number;
  /** Resources created since open. */
  created: number;
  /** Resources destroyed since open. */
  destroyed: number;
  /** Errors seen: failed creates, broken resources, failed destroys. */
  errors: number;
  /** Acquires that gave up at their deadline. */
  acquireTimeouts: number;
  /** Leases reported as leaked (held past the threshold, or still held when their scope ended). */
  leaks: number;
  /** Leases taken since open. */
  acquired: number;
  /** Leases returned since open (released or destroyed). */
  released: number;
}

export interface AcquireOptions {
  /** Cancels the wait; the lease is never handed out after the signal aborts. */
  signal?: AbortSignal;
  /** Overrides the provider's acquire timeout for this call. */
  timeoutMs?: number;
  /** Who is borrowing, for events, leak reports and the monitor. */
  owner?: LeaseOwner;
}

/**
 * What `Scope.acquire` and `ctx.acquire` pass on to a provider: the common options plus any the
 * provider adds (the file provider's `path`, the memory provider's `size`).
 */
export type ProviderAcquireOptions =
  | AcquireOptions
  | (AcquireOptions & { readonly [option: string]: unknown });

/** A borrowed resource. Return it exactly once, with `release()`, `destroy()` or `await using`. */
export interface Lease<R> extends AsyncDisposable {
  /** Unique within the process. */
  readonly id: number;
  /** The provider it came from. */
  readonly provider: string;
  /** The borrowed resource. Do not use it after the lease is returned. */
  readonly resource: R;
  /**
   * Milliseconds since the epoch when it was handed out, or `NaN` when that was not recorded.
   * Leases from a `LeaseLedger` record it only when something can use it: the lease has an
   * `owner` (every lease taken through a scope does), the provider detects leaks, or someone
   * listened to `resource:acquire`, `resource:release` or `resource:leak` when it was taken. A
   * hold time computed from a `NaN` is `NaN`, never a made-up number.
   */
  readonly acquiredAt: number;
  /** True once released or destroyed. */
  readonly returned: boolean;
  /** Who took it. */
  readonly owner: LeaseOwner | undefined;
  /** Return the resource for reuse. A second return rejects with `LeaseReleasedError`. */
  release(): Promise<void>;
  /** Return the resource as broken: it is destroyed, never lent again. */
  destroy(reason?: unknown): Promise<void>;
}

export interface HealthReport {
  ok: boolean;
  /** How long the check took. */
  latencyMs: number;
  /** What failed, already free of secrets. */
  error?: string;
  /** Provider-specific facts (server version, free budget...). */
  details?: Record<string, unknown>;
}

export type ProviderState = 'new' | 'open' | 'closing' | 'closed';

export interface CloseOptions {
  /** How long to wait for outstanding leases before destroying them. */
  timeoutMs?: number;
}

/** One kind of resource behind one pool. */
export interface Provider<R = unknown> {
  /** Registered name, unique in a resource pool (e.g. `db`). */
  readonly name: string;
  /** What kind of resource it lends (e.g. `postgres`, `file`, `http`). */
  readonly kind: string;
  readonly state: ProviderState;
  /** Start the pool: connect, warm up `min` resources. Idempotent. */
  open(): Promise<void>;
  /** Borrow a resource. */
  acquire(options?: AcquireOptions): Promise<Lease<R>>;
  stats(): ProviderStats;
  /** Is the thing behind the pool reachable and working? Never throws. */
  check(options?: { signal?: AbortSignal }): Promise<HealthReport>;
  /**
   * Graceful shutdown: refuse new acquires, fail queued ones, wait for leases up to the timeout,
   * destroy everything, clear every timer. Idempotent.
   */
  close(options?: CloseOptions): Promise<void>;
  /** Forced shutdown: destroy everything now, lent or not. Idempotent. */
  destroy(reason?: unknown): Promise<void>;
  /** Facts the monitor shows about how the provider is configured (never secrets). */
  describe?(): Record<string, unknown>;
  /**
   * Count a lease of this provider as leaked and publish `resource:leak`, e.g. because the scope
   * it was taken through ended with it still out. A scope calls this before releasing the lease,
   * passing the borrower's stack it captured at acquire time. Providers built on `LeaseLedger`
   * forward both arguments to `ledger.reportLeak`. When absent, the scope publishes the event.
   */
  reportLeak?(lease: Lease<R>, details?: { stack?: string }): void;
}

export function emptyStats(): ProviderStats {
  return {
    size: 0,
    inUse: 0,
    idle: 0,
    waiting: 0,
    pending: 0,
    created: 0,
    destroyed: 0,
    errors: 0,
    acquireTimeouts: 0,
    leaks: 0,
    acquired: 0,
    released: 0,
  };
}
