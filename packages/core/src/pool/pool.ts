import { backoffDelay } from '../backoff.js';
import {
  AcquireTimeoutError,
  ConfigInvalidError,
  CreateTimeoutError,
  DestroyTimeoutError,
  PoolClosedError,
  ResourceError,
  abortError,
  describe,
} from '../errors.js';
import { type LeaseOwner, errorInfo, eventChannel, publishLazy } from '../events.js';
import { LeaseLedger, type ReturnHooks } from '../lease-ledger.js';
import { describeValue } from '../validate.js';
import type {
  AcquireOptions,
  CloseOptions,
  HealthReport,
  Lease,
  Provider,
  ProviderState,
  ProviderStats,
} from '../resource.js';
import { type PoolOptions, type ResolvedPoolOptions, resolvePoolOptions } from './pool-options.js';
import { Waiter, WaiterQueue } from './waiter-queue.js';

// Where a resource is. A number, not a string, because it is compared on every acquire/release.
const IDLE = 0;
const BORROWED = 1;
const VALIDATING = 2;
const DESTROYED = 3;

/** Longest delay setTimeout takes without overflowing. */
const maxTimerDelay = 2_147_483_647;

/** How long `close()` waits for outstanding leases by default. */
const defaultCloseTimeoutMs = 30_000;

/** Share of `maxLifetimeMs` taken off at random, so resources made together retire apart. */
const lifetimeJitter = 0.1;

/** Kept, not looked up per hand-off: the wait is measured only when someone listens. */
const acquireChannel = eventChannel('resource:acquire');

/** One resource the pool owns, with its bookkeeping. */
class PooledResource<T> {
  state = IDLE;
  /** Times lent. */
  uses = 0;
  /**
   * When it was last returned, validated or created. Kept exact only when validate-on-borrow or
   * a lifetime is on; the reaper does not need it.
   */
  returnedAt: number;
  /**
   * When the reaper first saw it idle (-1: not yet since its last return). Releases reset it
   * instead of reading the clock, which on some hosts costs as much as the rest of a release.
   */
  idleSince = -1;
  /** The hooks every lease of this resource returns through; made once per resource. */
  hooks!: ReturnHooks<T>;
  /** Its lease while it is lent, so a forced shutdown can take the lease back. */
  lease: Lease<T> | undefined = undefined;

  constructor(
    readonly id: number,
    readonly resource: T,
    readonly createdAt: number,
    /** When it retires (`Infinity`: never). */
    readonly retireAt: number,
  ) {
    this.returnedAt = createdAt;
  }
}

/** One call of the user's `create`. */
class CreateAttempt {
  /** Done from the pool's point of view: resolved, failed, timed out or abandoned. */
  settled = false;
  timer: NodeJS.Timeout | undefined;
  readonly controller = new AbortController();

  constructor(readonly startedAt: number) {}
}

/**
 * Core's generic resource pool, for resources that have no pool of their own: buffers, file
 * handles, clients a user brings. It lends resources as leases through a `LeaseLedger`, so they
 * are counted, reported and leak-checked like every other provider's.
 *
 * - Waiters are served first come, first served; an idle resource is lent most recently used
 *   first, so the least used ones age out through `idleTimeoutMs`.
 * - A failing create backs off exponentially (with jitter, capped at `createRetryMaxMs`) and its
 *   error reaches the oldest waiter as the `cause` of a `ResourceError`; while creates fail, only
 *   one is tried at a time.
 * - A resource that finishes creating after its waiter gave up goes to the next waiter or to the
 *   idle list; one that finishes after its create timed out, or while the pool shuts down, is
 *   destroyed. `stats().created - stats().destroyed` is always `idle + inUse`.
 * - Timers: one deadline timer for all waiters, one unref'd reaper for idle timeout and lifetime,
 *   one per create and per destroy in flight. All are cleared by `close()` and `destroy()`.
 *
 * @example
 * ```ts
 * import { Pool } from '@kaygraph/core';
 *
 * const pool = new Pool({
 *   name: 'buffers',
 *   create: async () => Buffer.alloc(64 * 1024),
 *   destroy: (buffer) => {
 *     buffer.fill(0);
 *   },
 *   max: 4,
 * });
 *
 * {
 *   await using lease = await pool.acquire();
 *   lease.resource.write('hello');
 * } // released here
 *
 * const length = await pool.use((buffer) => buffer.length);
 * console.log(length, pool.stats().idle); // 65536 1
 * await pool.close();
 * ```
 */
export class Pool<T> implements Provider<T> {
  /** The `name` option: on every lease, event and error of this pool. */
  readonly name: string;
  /** The `kind` option: what the pool lends, for the monitor. */
  readonly kind: string;

  readonly #options: ResolvedPoolOptions<T>;
  readonly #ledger: LeaseLedger<T>;
  readonly #waiters: WaiterQueue<T>;
  /** Idle resources; the end of the array is the most recently returned. */
  #idle: PooledResource<T>[] = [];
  /** Every resource the pool owns and has not started to destroy. */
  readonly #resources = new Set<PooledResource<T>>();
  readonly #creates = new Set<CreateAttempt>();
  #state: ProviderState = 'new';

  // Hot-path copies of options: only these are read on every acquire and release.
  readonly #maxUses: number;
  /** Lifetime or validate-on-borrow is on: checkouts and returns need the exact time. */
  readonly #checkOnBorrow: boolean;

  #inUse = 0;
  #validating = 0;
  #pending = 0;
  #destroying = 0;
  #created = 0;
  #destroyed = 0;
  #errors = 0;
  #acquireTimeouts = 0;
  #nextResourceId = 1;

  /** Create failures in a row; while above zero, creates back off and go one at a time. */
  #failures = 0;
  #lastCreateError: unknown;
  #retryTimer: NodeJS.Timeout | undefined;
  #reaper: NodeJS.Timeout | undefined;

  #opened: Promise<void> | undefined;
  #shutdown: Promise<void> | undefined;
  #endShutdown: (() => void) | undefined;
  #closeTimer: NodeJS.Timeout | undefined;
  #forced = false;

  readonly #onRetry = () => {
    this.#retryTimer = undefined;
    this.#dispatch();
  };

  constructor(options: PoolOptions<T>) {
    this.#options = resolvePoolOptions<T>(options);
    this.name = this.#options.name;
    this.kind = this.#options.kind;
    this.#maxUses = this.#options.maxUses;
    this.#checkOnBorrow = this.#options.validateOnBorrow || this.#options.maxLifetimeMs > 0;
    this.#ledger = new LeaseLedger<T>({
      provider: this.name,
      leakDetectionMs: this.#options.leakDetectionMs,
    });
    this.#waiters = new WaiterQueue<T>({
      timeout: (waiter) => this.#onWaiterTimeout(waiter),
      abort: (waiter) => {
        this.#waiterLeft();
        waiter.reject(abortError(waiter.signal!, this.#what('acquire')));
      },
    });
  }

  /** `new` until opened (or first acquired from), then `open`, `closing`, `closed`. */
  get state(): ProviderState {
    return this.#state;
  }

  /**
   * Start the pool: the reaper, and `min` resources. Resolves once those first creates have
   * settled, whether or not they succeeded (failures are retried with backoff and reported as
   * `resource:create-error`). Idempotent. `acquire()` opens a new pool by itself.
   */
  open(): Promise<void> {
    if (this.#opened !== undefined) return this.#opened;
    if (this.#state !== 'new') return Promise.reject(this.#closedError());

    this.#state = 'open';
    this.#startReaper();
    const kind = this.kind;
    publishLazy('provider:open', () => ({ provider: this.name, time: Date.now(), kind }));
    const warming: Promise<void>[] = [];
    this.#fill(warming);
    this.#opened = Promise.all(warming).then(() => undefined);
    return this.#opened;
  }

  /**
   * Borrow a resource: an idle one at once, else a new one if below `max`, else the next one
   * returned. Rejects with `AcquireTimeoutError` after `timeoutMs` (default `acquireTimeoutMs`),
   * with the signal's abort error when `signal` aborts, with `ResourceError` when the create made
   * for it fails, and with `PoolClosedError` once the pool shuts down.
   */
  acquire(options?: AcquireOptions): Promise<Lease<T>> {
    if (this.#state !== 'open') {
      if (this.#state !== 'new') return Promise.reject(this.#closedError());
      void this.open();
    }
    if (options === undefined) {
      if (this.#waiters.live === 0) {
        const resource = this.#takeIdle(1);
        if (resource !== undefined) return Promise.resolve(this.#lend(resource, 0, undefined));
      }
      return this.#wait(this.#options.acquireTimeoutMs, undefined, undefined);
    }

    const { signal, owner } = options;
    if (signal?.aborted) return Promise.reject(abortError(signal, this.#what('acquire')));
    const timeoutMs = this.#timeoutOf(options);
    if (timeoutMs instanceof Error) return Promise.reject(timeoutMs);
    if (this.#waiters.live === 0) {
      const resource = this.#takeIdle(1);
      if (resource !== undefined) return Promise.resolve(this.#lend(resource, 0, owner));
    }
    return this.#wait(timeoutMs, signal, owner);
  }

  /**
   * Borrow a resource for the length of `fn`, and return it afterwards. When `fn` throws, the
   * resource is checked with `validate` (if there is one) and destroyed if it fails, released
   * otherwise; the error is rethrown.
   */
  async use<U>(fn: (resource: T) => U | Promise<U>, options?: AcquireOptions): Promise<U> {
    const lease = await this.acquire(options);
    let result: U;
    try {
      result = await fn(lease.resource);
    } catch (error) {
      await this.#returnAfterFailure(lease, error);
      throw error;
    }
    await lease.release();
    return result;
  }

  /** A snapshot of the pool's gauges and counters. */
  stats(): ProviderStats {
    return {
      size: this.#idle.length + this.#inUse + this.#pending,
      inUse: this.#inUse,
      idle: this.#idle.length,
      waiting: this.#waiters.live,
      pending: this.#pending,
      created: this.#created,
      destroyed: this.#destroyed,
      errors: this.#errors,
      acquireTimeouts: this.#acquireTimeouts,
      leaks: this.#ledger.leaks,
      acquired: this.#ledger.acquired,
      released: this.#ledger.returned,
    };
  }

  /**
   * Borrow a resource (creating one if none is idle), validate it if there is a `validate`, and
   * return it. A pool with every resource lent out is reported ok without waiting in line: it is
   * evidently working. Never throws; publishes `provider:health`. Error text comes from the
   * create or validate error, so a `create` should not throw secrets.
   */
  async check(options: { signal?: AbortSignal } = {}): Promise<HealthReport> {
    const started = performance.now();
    const saturated = this.#saturated();
    let error: string | undefined;
    if (this.#state === 'closing' || this.#state === 'closed') {
      error = this.#closedError().message;
    } else if (!saturated) {
      error = await this.#probe(options.signal);
    }
    const report: HealthReport = {
      ok: error === undefined,
      latencyMs: performance.now() - started,
      ...(error === undefined ? {} : { error }),
      details: {
        state: this.#state,
        size: this.stats().size,
        max: this.#options.max,
        saturated,
      },
    };
    publishLazy('provider:health', () => ({
      provider: this.name,
      time: Date.now(),
      ok: report.ok,
      latencyMs: report.latencyMs,
      ...(error === undefined ? {} : { error: { name: 'Error', message: error } }),
    }));
    return report;
  }

  /**
   * Graceful shutdown. Acquires fail with `PoolClosedError` from now on, queued ones at once;
   * creates in flight are aborted; idle resources are destroyed; leases out are waited for up to
   * `timeoutMs` (default `30000`), then destroyed and reported as leaks. Resolves once every
   * destroy has finished or hit `destroyTimeoutMs`, and every timer is cleared. Never rejects for
   * a failed destroy: those are counted in `errors` and published as `resource:error`.
   * Idempotent: every call (and `destroy()`) returns the same promise.
   */
  close(options: CloseOptions = {}): Promise<void> {
    if (this.#shutdown !== undefined) return this.#shutdown;
    const timeoutMs = options.timeoutMs ?? defaultCloseTimeoutMs;
    if (typeof timeoutMs !== 'number' || Number.isNaN(timeoutMs) || timeoutMs < 0) {
      return Promise.reject(
        new ConfigInvalidError(`${this.#what('close')}: option "timeoutMs" must be a number >= 0`),
      );
    }
    return this.#beginShutdown(false, timeoutMs, undefined);
  }

  /**
   * Forced shutdown: like `close()`, but leases out are destroyed at once and creates in flight are
   * abandoned (destroyed if they resolve later). Turns a `close()` in progress into a forced one.
   * Idempotent: returns the same promise as every other `close()` and `destroy()` call.
   */
  destroy(reason?: unknown): Promise<void> {
    if (this.#shutdown === undefined) return this.#beginShutdown(true, 0, reason);
    if (!this.#forced) this.#force(reason, false);
    return this.#shutdown;
  }

  /**
   * Count a lease of this pool as leaked and publish `resource:leak`, once per lease. A lease that
   * is not out from this pool (another pool's, or already returned) is ignored.
   */
  reportLeak(lease: Lease<T>, details?: { stack?: string }): void {
    // A linear search, but only on the rare leak report, never on the acquire/release path.
    if (!this.#ledger.outstanding().includes(lease)) return;
    this.#ledger.reportLeak(lease, details);
  }

  /** How the pool is configured, for the monitor. */
  describe(): Record<string, unknown> {
    const o = this.#options;
    return {
      kind: this.kind,
      min: o.min,
      max: o.max,
      acquireTimeoutMs: o.acquireTimeoutMs,
      createTimeoutMs: o.createTimeoutMs,
      destroyTimeoutMs: o.destroyTimeoutMs,
      idleTimeoutMs: o.idleTimeoutMs,
      maxLifetimeMs: o.maxLifetimeMs,
      maxUses: o.maxUses,
      validateOnBorrow: o.validateOnBorrow,
    };
  }

  // --- lending -----------------------------------------------------------------------------

  /**
   * Pop an idle resource ready to lend. Retires expired ones on the way; starts async validation
   * for at most `demand` resources at once (those are lent when the validation passes).
   */
  #takeIdle(demand: number): PooledResource<T> | undefined {
    if (!this.#checkOnBorrow) return this.#idle.pop();

    let retired = false;
    let ready: PooledResource<T> | undefined;
    while (ready === undefined && this.#idle.length > 0) {
      const resource = this.#idle.pop()!;
      const now = Date.now();
      if (now >= resource.retireAt) {
        void this.#destroyResource(resource, 'max-lifetime');
        retired = true;
        continue;
      }
      if (!this.#needsValidation(resource, now)) {
        ready = resource;
        break;
      }
      if (this.#validating >= demand) {
        this.#idle.push(resource);
        break;
      }
      const verdict = this.#validate(resource);
      if (verdict === true) {
        resource.returnedAt = now;
        ready = resource;
      } else if (verdict === false) {
        void this.#destroyResource(resource, 'invalid');
        retired = true;
      } else {
        this.#awaitValidation(resource, verdict);
      }
    }
    if (retired) this.#fill();
    return ready;
  }

  #needsValidation(resource: PooledResource<T>, now: number): boolean {
    const o = this.#options;
    return o.validateOnBorrow && now - resource.returnedAt >= o.validateBypassMs;
  }

  #lend(
    resource: PooledResource<T>,
    waitMs: number,
    owner: LeaseOwner | undefined,
    stack?: string,
  ): Lease<T> {
    resource.state = BORROWED;
    resource.uses++;
    this.#inUse++;
    const { hooks } = resource;
    resource.lease = this.#ledger.issue(resource.resource, resource.id, hooks, waitMs, owner, stack);
    return resource.lease;
  }

  #wait(
    timeoutMs: number,
    signal: AbortSignal | undefined,
    owner: LeaseOwner | undefined,
  ): Promise<Lease<T>> {
    return new Promise<Lease<T>>((resolve, reject) => {
      const now = Date.now();
      const deadline = now + timeoutMs;
      const waiter = new Waiter(this.#waiters, resolve, reject, now, deadline, signal, owner);
      // Lent later from a release or a create's callback: keep the borrower's stack from here.
      waiter.stack = this.#ledger.borrowerStack();
      this.#waiters.push(waiter, now);
      // A retry timer made while nobody waited is unref'd; a waiter needs it to fire.
      this.#retryTimer?.ref();
      // Only a validation in progress leaves resources idle while acquires wait (see #takeIdle);
      // otherwise there is nothing to hand out, only creates to start.
      if (this.#idle.length > 0) this.#dispatch();
      else this.#fill();
    });
  }

  /** Hand idle resources to waiters, oldest waiter first, then create what is still missing. */
  #dispatch(): void {
    while (this.#waiters.live > 0) {
      const resource = this.#takeIdle(this.#waiters.live);
      if (resource === undefined) break;
      this.#serve(this.#waiters.shift()!, resource);
    }
    this.#waiterLeft();
    this.#fill();
  }

  #serve(waiter: Waiter<T>, resource: PooledResource<T>): void {
    // The wait only goes into the acquire event; skip the clock when nobody listens.
    const waitMs = acquireChannel.hasSubscribers ? Date.now() - waiter.startedAt : 0;
    waiter.resolve(this.#lend(resource, waitMs, waiter.owner, waiter.stack));
  }

  #onWaiterTimeout(waiter: Waiter<T>): void {
    this.#waiterLeft();
    this.#acquireTimeouts++;
    const waitMs = Date.now() - waiter.startedAt;
    publishLazy('resource:acquire-timeout', () => ({
      provider: this.name,
      time: Date.now(),
      waitMs,
      ...(waiter.owner ? { owner: waiter.owner } : {}),
    }));
    // While creates fail, the timeout is their doing: say so through the cause.
    const cause = this.#failures > 0 ? this.#lastCreateError : undefined;
    const message =
      `${this.#what('acquire')}: no resource free after ${waitMs} ms ` +
      `(${this.#inUse}/${this.#options.max} in use, ${this.#pending} being created)`;
    waiter.reject(new AcquireTimeoutError(message, { cause }));
  }

  #timeoutOf(options: AcquireOptions): number | Error {
    const timeoutMs = options.timeoutMs;
    if (timeoutMs === undefined) return this.#options.acquireTimeoutMs;
    if (typeof timeoutMs !== 'number' || Number.isNaN(timeoutMs) || timeoutMs < 0) {
      return new ConfigInvalidError(
        `${this.#what('acquire')}: option "timeoutMs" must be a number >= 0, ` +
          `got ${describeValue(timeoutMs)}`,
      );
    }
    return timeoutMs;
  }

  // --- returning ---------------------------------------------------------------------------

  /** A lease was released. */
  #reclaim(resource: PooledResource<T>): void {
    // Not borrowed any more: the pool destroyed it while it was out (forced shutdown).
    if (resource.state !== BORROWED) return;
    this.#inUse--;
    if (this.#state !== 'open') {
      void this.#destroyResource(resource, 'close');
      return;
    }
    if (this.#maxUses > 0 && resource.uses >= this.#maxUses) {
      this.#retire(resource, 'max-uses');
      return;
    }
    if (!this.#checkOnBorrow && this.#waiters.live > 0) {
      // Straight to the oldest waiter: nothing to check before lending it again, and the idle
      // list, the dispatch loop and the create count would all end where they started.
      this.#serve(this.#waiters.shift()!, resource);
      this.#waiterLeft();
      return;
    }
    if (this.#checkOnBorrow) {
      const now = Date.now();
      if (now >= resource.retireAt) {
        this.#retire(resource, 'max-lifetime');
        return;
      }
      resource.returnedAt = now;
    }
    resource.state = IDLE;
    resource.idleSince = -1;
    this.#idle.push(resource);
    if (this.#waiters.live > 0) this.#dispatch();
  }

  /** A lease was returned as broken. */
  #discard(resource: PooledResource<T>, reason: unknown): Promise<void> {
    if (resource.state !== BORROWED) return Promise.resolve();
    this.#inUse--;
    const destroyed = this.#destroyResource(resource, reasonText(reason));
    this.#dispatch();
    return destroyed;
  }

  #retire(resource: PooledResource<T>, reason: string): void {
    void this.#destroyResource(resource, reason);
    this.#dispatch();
  }

  async #returnAfterFailure(lease: Lease<T>, error: unknown): Promise<void> {
    const validate = this.#options.validate;
    if (validate === undefined) return lease.release();
    let valid = false;
    try {
      valid = (await validate(lease.resource)) === true;
    } catch (validateError) {
      this.#reportError(undefined, validateError);
    }
    return valid ? lease.release() : lease.destroy(error);
  }

  // --- validation --------------------------------------------------------------------------

  /** `true`/`false` when `validate` answered at once, a promise when it is async. */
  #validate(resource: PooledResource<T>): boolean | Promise<boolean> {
    try {
      const verdict = this.#options.validate!(resource.resource);
      if (typeof verdict === 'boolean') return verdict;
      if (isThenable(verdict)) return Promise.resolve(verdict).then((ok) => ok === true);
      return false;
    } catch (error) {
      this.#reportError(resource.id, error);
      return false;
    }
  }

  #awaitValidation(resource: PooledResource<T>, verdict: Promise<boolean>): void {
    resource.state = VALIDATING;
    this.#inUse++;
    this.#validating++;
    verdict.then(
      (ok) => this.#validated(resource, ok),
      (error: unknown) => {
        this.#reportError(resource.id, error);
        this.#validated(resource, false);
      },
    );
  }

  #validated(resource: PooledResource<T>, ok: boolean): void {
    // Destroyed by a forced shutdown while the validation ran; counters are already settled.
    if (resource.state !== VALIDATING) return;
    this.#inUse--;
    this.#validating--;
    if (this.#state !== 'open') {
      void this.#destroyResource(resource, 'close');
      return;
    }
    if (!ok) {
      this.#retire(resource, 'invalid');
      return;
    }
    resource.state = IDLE;
    resource.returnedAt = Date.now();
    resource.idleSince = -1;
    this.#idle.push(resource);
    this.#dispatch();
  }

  // --- creating ----------------------------------------------------------------------------

  /** Start the creates that `min` and the uncovered waiters ask for, within `max`. */
  #fill(started?: Promise<void>[]): void {
    if (this.#state !== 'open' || this.#retryTimer !== undefined) return;
    const size = this.#idle.length + this.#inUse + this.#pending;
    const coming = this.#pending + this.#validating + this.#idle.length;
    let wanted = Math.max(this.#options.min - size, this.#waiters.live - coming);
    wanted = Math.min(wanted, this.#options.max - size);
    // While creates fail, probe with one at a time instead of a burst of failures.
    if (this.#failures > 0) wanted = Math.min(wanted, 1 - this.#pending);
    for (; wanted > 0; wanted--) {
      const done = this.#startCreate();
      started?.push(done);
    }
  }

  #startCreate(): Promise<void> {
    const attempt = new CreateAttempt(Date.now());
    this.#pending++;
    this.#creates.add(attempt);
    const limit = this.#options.createTimeoutMs;
    if (limit !== Number.POSITIVE_INFINITY) {
      const delay = Math.min(limit, maxTimerDelay);
      attempt.timer = setTimeout(() => this.#createTimedOut(attempt), delay);
      // A waiter's own deadline keeps the process alive while it waits; this timer need not.
      attempt.timer.unref();
    }
    let result: T | Promise<T>;
    try {
      result = this.#options.create(attempt.controller.signal);
    } catch (error) {
      result = Promise.reject(error);
    }
    return Promise.resolve(result).then(
      (resource) => this.#createSucceeded(attempt, resource),
      (error: unknown) => this.#createFailed(attempt, error),
    );
  }

  /** Take the attempt off the books: its slot is free from now on. */
  #settle(attempt: CreateAttempt): void {
    attempt.settled = true;
    if (attempt.timer !== undefined) clearTimeout(attempt.timer);
    this.#creates.delete(attempt);
    this.#pending--;
  }

  #createSucceeded(attempt: CreateAttempt, value: T): void {
    const late = attempt.settled;
    if (!late) this.#settle(attempt);
    const now = Date.now();
    const resource = this.#adopt(value, now);
    this.#created++;
    publishLazy('resource:create', () => ({
      provider: this.name,
      time: now,
      resourceId: resource.id,
      durationMs: now - attempt.startedAt,
    }));

    // Its create already counted as failed, or the pool is shutting down: nobody may have it.
    if (late || this.#state !== 'open') {
      void this.#destroyResource(resource, late ? 'late-create' : 'close');
      this.#checkDrained();
      return;
    }
    this.#failures = 0;
    if (this.#retryTimer !== undefined) {
      clearTimeout(this.#retryTimer);
      this.#retryTimer = undefined;
    }
    this.#idle.push(resource);
    this.#dispatch();
  }

  #adopt(value: T, now: number): PooledResource<T> {
    const lifetime = this.#options.maxLifetimeMs;
    const retireAt =
      lifetime > 0
        ? now + lifetime * (1 - Math.random() * lifetimeJitter)
        : Number.POSITIVE_INFINITY;
    const resource = new PooledResource(this.#nextResourceId++, value, now, retireAt);
    resource.hooks = {
      release: () => this.#reclaim(resource),
      destroy: (_value, reason) => this.#discard(resource, reason),
    };
    this.#resources.add(resource);
    return resource;
  }

  #createFailed(attempt: CreateAttempt, error: unknown): void {
    // Already reported as timed out or abandoned; the late rejection adds nothing.
    if (attempt.settled) return;
    this.#settle(attempt);
    const signal = attempt.controller.signal;
    if (this.#state !== 'open' && signal.aborted && error === signal.reason) {
      // It obeyed the shutdown's abort: not a failure.
      this.#checkDrained();
      return;
    }
    this.#onCreateError(error, Date.now() - attempt.startedAt);
  }

  #createTimedOut(attempt: CreateAttempt): void {
    if (attempt.settled) return;
    const limit = this.#options.createTimeoutMs;
    const error = new CreateTimeoutError(`${this.#what('create')}: took longer than ${limit} ms`);
    this.#settle(attempt);
    attempt.controller.abort(error);
    this.#onCreateError(error, limit);
  }

  #onCreateError(error: unknown, durationMs: number): void {
    this.#errors++;
    this.#failures++;
    this.#lastCreateError = error;
    publishLazy('resource:create-error', () => ({
      provider: this.name,
      time: Date.now(),
      error: errorInfo(error),
      durationMs,
    }));
    if (this.#state !== 'open') {
      this.#checkDrained();
      return;
    }
    // The oldest waiter nothing else is on its way for learns why now, not at its deadline.
    const coming = this.#pending + this.#validating + this.#idle.length;
    let failed: Waiter<T> | undefined;
    if (this.#waiters.live > coming) failed = this.#waiters.shift();
    this.#scheduleRetry();
    if (failed !== undefined) {
      const message = `${this.#what('create')}: could not create a resource`;
      failed.reject(new ResourceError(message, { cause: error }));
    }
  }

  /** A waiter left without a resource; a pending retry no longer needs to keep the process up. */
  #waiterLeft(): void {
    if (this.#waiters.live === 0) this.#retryTimer?.unref();
  }

  #scheduleRetry(): void {
    if (this.#retryTimer !== undefined) return;
    const { createRetryMs, createRetryMaxMs } = this.#options;
    const delay = backoffDelay(this.#failures, createRetryMs, createRetryMaxMs);
    this.#retryTimer = setTimeout(this.#onRetry, delay);
    if (this.#waiters.live === 0) this.#retryTimer.unref();
  }

  // --- destroying --------------------------------------------------------------------------

  /**
   * Destroy a resource the pool has already taken out of the idle list / borrowed count. Counted
   * as destroyed at once; resolves when the user's destroy finished, failed or timed out.
   */
  #destroyResource(resource: PooledResource<T>, reason: string): Promise<void> {
    if (resource.state === DESTROYED) return Promise.resolve();
    resource.state = DESTROYED;
    this.#resources.delete(resource);
    this.#destroyed++;
    this.#destroying++;
    publishLazy('resource:destroy', () => ({
      provider: this.name,
      time: Date.now(),
      resourceId: resource.id,
      reason,
    }));

    let result: void | Promise<void>;
    try {
      result = this.#options.destroy(resource.resource);
    } catch (error) {
      this.#reportError(resource.id, error);
      this.#destroyFinished();
      return Promise.resolve();
    }
    if (!isThenable(result)) {
      this.#destroyFinished();
      return Promise.resolve();
    }
    return this.#awaitDestroy(resource, result);
  }

  #awaitDestroy(resource: PooledResource<T>, pending: PromiseLike<void>): Promise<void> {
    return new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      let done = false;
      const finish = (error?: unknown, failed = false) => {
        if (done) return;
        done = true;
        if (timer !== undefined) clearTimeout(timer);
        if (failed) this.#reportError(resource.id, error);
        this.#destroyFinished();
        resolve();
      };

      const limit = this.#options.destroyTimeoutMs;
      if (limit !== Number.POSITIVE_INFINITY) {
        // Ref'd on purpose: `close()` is waiting on it, and it is bounded by destroyTimeoutMs.
        timer = setTimeout(() => {
          const message =
            `${this.#what('destroy')}: resource ${resource.id} took longer than ${limit} ms`;
          finish(new DestroyTimeoutError(message), true);
        }, Math.min(limit, maxTimerDelay));
      }
      Promise.resolve(pending).then(
        () => finish(),
        (error: unknown) => finish(error, true),
      );
    });
  }

  #destroyFinished(): void {
    this.#destroying--;
    if (this.#state === 'closing') this.#checkDrained();
  }

  #reportError(resourceId: number | undefined, error: unknown): void {
    this.#errors++;
    publishLazy('resource:error', () => ({
      provider: this.name,
      time: Date.now(),
      ...(resourceId === undefined ? {} : { resourceId }),
      error: errorInfo(error),
    }));
  }

  // --- idle timeout and lifetime -----------------------------------------------------------

  #startReaper(): void {
    const { idleTimeoutMs, maxLifetimeMs } = this.#options;
    if (idleTimeoutMs === 0 && maxLifetimeMs === 0) return;
    // An idle resource goes at most an eighth of its idle timeout late, and ticks are short
    // enough for the lifetime jitter to spread retirements of idle resources over several.
    const byIdle = idleTimeoutMs > 0 ? idleTimeoutMs / 8 : maxTimerDelay;
    const byLifetime = maxLifetimeMs > 0 ? (maxLifetimeMs * lifetimeJitter) / 4 : maxTimerDelay;
    const every = Math.min(maxTimerDelay, Math.max(10, Math.floor(Math.min(byIdle, byLifetime))));
    this.#reaper = setInterval(() => this.#reap(), every);
    this.#reaper.unref();
  }

  /**
   * Destroy idle resources past their lifetime, and idle ones unused for `idleTimeoutMs` while
   * the pool holds more than `min`. Only the idle list is touched, synchronously, so a resource
   * being checked out is never in reach.
   */
  #reap(): void {
    if (this.#state !== 'open' || this.#idle.length === 0) return;
    const now = Date.now();
    const idleTimeoutMs = this.#options.idleTimeoutMs;
    let spare = this.#idle.length + this.#inUse + this.#pending - this.#options.min;
    const kept: PooledResource<T>[] = [];
    // Oldest first: the front of the list is the least recently returned.
    for (const resource of this.#idle) {
      if (now >= resource.retireAt) {
        void this.#destroyResource(resource, 'max-lifetime');
        spare--;
        continue;
      }
      const idleMs = this.#idleFor(resource, now);
      if (idleTimeoutMs > 0 && spare > 0 && idleMs >= idleTimeoutMs) {
        void this.#destroyResource(resource, 'idle-timeout');
        spare--;
      } else {
        kept.push(resource);
      }
    }
    if (kept.length === this.#idle.length) return;
    this.#idle = kept;
    // Retiring by lifetime may have taken the pool under `min`.
    this.#fill();
  }

  /** How long it has surely been idle: since the first tick that saw it idle. */
  #idleFor(resource: PooledResource<T>, now: number): number {
    if (resource.idleSince < 0) {
      resource.idleSince = now;
      return 0;
    }
    return now - resource.idleSince;
  }

  // --- shutdown ----------------------------------------------------------------------------

  #beginShutdown(forced: boolean, timeoutMs: number, reason: unknown): Promise<void> {
    const wasOpen = this.#state === 'open';
    this.#state = 'closing';
    this.#shutdown = new Promise<void>((resolve) => {
      this.#endShutdown = () => {
        if (wasOpen) {
          publishLazy('provider:close', () => ({
            provider: this.name,
            time: Date.now(),
            kind: this.kind,
            forced: this.#forced,
          }));
        }
        resolve();
      };
    });

    if (this.#reaper !== undefined) clearInterval(this.#reaper);
    if (this.#retryTimer !== undefined) clearTimeout(this.#retryTimer);
    this.#reaper = undefined;
    this.#retryTimer = undefined;

    const closed = new PoolClosedError(
      `pool "${this.name}" is ${forced ? 'destroyed' : 'closing'}`,
      reason === undefined ? {} : { cause: reason },
    );
    for (const waiter of this.#waiters.drain()) waiter.reject(closed);
    for (const attempt of this.#creates) attempt.controller.abort(closed);
    const idle = this.#idle;
    this.#idle = [];
    for (const resource of idle) void this.#destroyResource(resource, 'close');

    if (forced) {
      this.#force(reason, false);
    } else if (this.#inUse > 0 && timeoutMs !== Number.POSITIVE_INFINITY) {
      // Ref'd: whoever awaits close() needs it to fire.
      const delay = Math.min(timeoutMs, maxTimerDelay);
      this.#closeTimer = setTimeout(() => this.#force(undefined, true), delay);
    }
    this.#checkDrained();
    return this.#shutdown;
  }

  /** Destroy what is lent out or being validated, now; abandon creates in flight. */
  #force(reason: unknown, closeTimedOut: boolean): void {
    this.#forced = !closeTimedOut;
    if (this.#closeTimer !== undefined) clearTimeout(this.#closeTimer);
    this.#closeTimer = undefined;

    if (closeTimedOut) {
      for (const lease of this.#ledger.outstanding()) this.#ledger.reportLeak(lease);
    } else {
      const abandoned = new PoolClosedError(`pool "${this.name}" is destroyed`, { cause: reason });
      for (const attempt of this.#creates) {
        this.#settle(attempt);
        attempt.controller.abort(abandoned);
      }
    }

    const why = closeTimedOut ? 'close-timeout' : 'forced';
    for (const resource of this.#resources) {
      if (resource.state === BORROWED || resource.state === VALIDATING) {
        // The borrower's late release then rejects with LeaseRevokedError and counts nothing.
        if (resource.state === BORROWED && resource.lease !== undefined) {
          void this.#ledger.revoke(resource.lease, undefined, { runDestroyHook: false });
        }
        this.#inUse--;
        if (resource.state === VALIDATING) this.#validating--;
        void this.#destroyResource(resource, why);
      }
    }
    this.#checkDrained();
  }

  #checkDrained(): void {
    if (this.#state !== 'closing' || this.#endShutdown === undefined) return;
    if (this.#inUse + this.#pending + this.#destroying + this.#idle.length > 0) return;
    if (this.#closeTimer !== undefined) clearTimeout(this.#closeTimer);
    this.#closeTimer = undefined;
    this.#waiters.close();
    this.#ledger.close();
    this.#state = 'closed';
    const end = this.#endShutdown;
    this.#endShutdown = undefined;
    end();
  }

  // --- helpers -----------------------------------------------------------------------------

  async #probe(signal: AbortSignal | undefined): Promise<string | undefined> {
    let lease: Lease<T>;
    try {
      lease = await this.acquire(signal === undefined ? {} : { signal });
    } catch (error) {
      return describe(error);
    }
    const validate = this.#options.validate;
    let failure: string | undefined;
    try {
      if (validate !== undefined && (await validate(lease.resource)) !== true) {
        failure = `${this.#what('check')}: resource failed validation`;
      }
    } catch (error) {
      failure = describe(error);
    }
    if (failure === undefined) await lease.release();
    else await lease.destroy(new ResourceError(failure));
    return failure;
  }

  #saturated(): boolean {
    const size = this.#idle.length + this.#inUse + this.#pending;
    return this.#state === 'open' && this.#idle.length === 0 && size >= this.#options.max;
  }

  #closedError(): PoolClosedError {
    return new PoolClosedError(`pool "${this.name}" is closed`);
  }

  #what(operation: string): string {
    return `${operation} on pool "${this.name}"`;
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/** The `reason` of a `resource:destroy` event for a lease returned as broken. */
function reasonText(reason: unknown): string {
  if (reason === undefined) return 'borrower';
  if (reason instanceof Error) return `borrower: ${reason.name}`;
  return 'borrower';
}
