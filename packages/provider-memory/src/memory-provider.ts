import {
  type AcquireOptions,
  type CloseOptions,
  ConfigInvalidError,
  type HealthReport,
  type Lease,
  LeaseLedger,
  PoolClosedError,
  type Provider,
  type ProviderState,
  type ProviderStats,
  checkInteger,
  checkObject,
  describe,
  publish,
  publishLazy,
  rejectUnknownKeys,
} from '@kaygraph/core';
import { BufferCache, type BufferCacheOptions } from './buffer-cache.js';
import { BufferPool } from './buffer-pool.js';
import { MemoryBudgetError } from './memory-errors.js';
import {
  type MemoryProviderOptions,
  type MemorySettings,
  resolveMemoryOptions,
} from './memory-options.js';

/** Options of `MemoryProvider.acquire`. */
export interface MemoryAcquireOptions extends AcquireOptions {
  /** Bytes needed; the buffer lent is the smallest size class that holds them. Required. */
  size: number;
}

/** `ProviderStats` plus the byte budget. */
export interface MemoryProviderStats extends ProviderStats {
  /** Class bytes of buffers lent out. */
  bytesInUse: number;
  /** Class bytes of buffers kept idle for reuse. */
  bytesIdle: number;
  /** The budget `bytesInUse + bytesIdle` never exceeds. */
  budgetBytes: number;
  /** The most bytes held at once (lent plus idle) since the provider was made. */
  peakBytes: number;
}

/** Share of the budget in use at which `provider:warning` is published. */
const warnAt = 0.9;
/** Share below which the warning is armed again, so usage hovering at the mark warns once. */
const rearmAt = 0.8;

/**
 * Buffers in size classes under a byte budget, lent as leases, plus LRU caches whose entries hold
 * such leases. An acquire gets the smallest class that fits, reusing an idle buffer of that class
 * when there is one; when the budget is spent it waits in line, then fails with
 * `MemoryBudgetError`.
 */
export class MemoryProvider implements Provider<Buffer> {
  readonly name: string;
  readonly kind = 'buffer';

  readonly #settings: MemorySettings;
  readonly #ledger: LeaseLedger<Buffer>;
  readonly #pool: BufferPool;
  readonly #issued = new WeakSet<Lease<Buffer>>();
  readonly #ids = new WeakMap<Buffer, number>();
  readonly #caches = new Set<{ close(): void }>();
  #state: ProviderState = 'new';
  #shutdown: Promise<void> | undefined;
  #wakeCloser: (() => void) | undefined;
  #warningArmed = true;
  #nextBufferId = 1;
  #created = 0;
  #destroyed = 0;
  #errors = 0;
  #acquireTimeouts = 0;

  constructor(options: MemoryProviderOptions = {}) {
    this.#settings = resolveMemoryOptions(options);
    this.name = this.#settings.name;
    this.#ledger = new LeaseLedger({
      provider: this.name,
      leakDetectionMs: this.#settings.leakDetectionMs,
    });
    this.#pool = new BufferPool(this.#settings, {
      allocated: (buffer) => this.#allocated(buffer),
      freed: (buffer, reason) => this.#freed(buffer, reason),
    });
  }

  get state(): ProviderState {
    return this.#state;
  }

  /** Mark the provider open. Nothing needs starting; acquires work before it too. Idempotent. */
  async open(): Promise<void> {
    this.#assertUsable();
    if (this.#state !== 'new') return;
    this.#state = 'open';
    publish('provider:open', { provider: this.name, time: Date.now(), kind: this.kind });
  }

  /**
   * Borrow a buffer of the smallest size class that holds `size` bytes. Its `length` is the
   * class size; use `subarray(0, size)` for exactly `size`. Fails at once with
   * `MemoryBudgetError` when no class or the budget is too small; otherwise waits in line (FIFO)
   * for budget up to `timeoutMs`, then fails with `MemoryBudgetError`.
   *
   * @example
   * await using lease = await memory.acquire({ size: 64 * 1024 });
   * const chunk = lease.resource.subarray(0, bytesRead);
   */
  async acquire(options: MemoryAcquireOptions): Promise<Lease<Buffer>> {
    this.#assertUsable();
    const size = checkSize(options);
    const classSize = this.#classFor(size);
    const started = Date.now();
    const timeoutMs = options.timeoutMs ?? this.#settings.acquireTimeoutMs;
    // Taken before the wait: after it, the stack is that of whoever freed the budget.
    const stack = this.#ledger.borrowerStack();
    const buffer = await this.#pool.take(classSize, {
      signal: options.signal,
      timeoutMs,
      onTimeout: (waitMs) => this.#timedOut(size, timeoutMs, waitMs, options),
    });
    if (this.#state === 'closing' || this.#state === 'closed') {
      // Granted just before a close began, and resumed after: the close is not waiting for it.
      this.#pool.drop(buffer, 'closed');
      this.#assertUsable();
    }
    const id = this.#ids.get(buffer) ?? 0;
    const hooks = {
      release: (lent: Buffer) => this.#returned(lent),
      destroy: (lent: Buffer, reason: unknown) => this.#written(lent, describe(reason)),
    };
    const waitMs = Date.now() - started;
    const lease = this.#ledger.issue(buffer, id, hooks, waitMs, options.owner, stack);
    this.#issued.add(lease);
    this.#checkWarning();
    return lease;
  }

  /**
   * An LRU cache of pooled buffers with a byte limit. Whatever way a buffer leaves it (evicted,
   * expired, deleted, cleared, replaced), its lease goes back to this pool exactly once.
   *
   * @example
   * const cache = memory.createCache<string>({ maxBytes: 8 * 1024 * 1024, ttlMs: 60_000 });
   * await cache.store('row:42', JSON.stringify(row));
   * const bytes = cache.get('row:42');
   */
  createCache<K extends {} = string>(options: BufferCacheOptions): BufferCache<K> {
    this.#assertUsable();
    const checked = checkCacheOptions(options);
    const cache = new BufferCache<K>(checked, {
      provider: this.name,
      owns: (lease) => this.#issued.has(lease),
      acquire: (acquireOptions) => this.acquire(acquireOptions),
      failed: () => {
        this.#errors++;
      },
    });
    this.#caches.add(cache);
    return cache;
  }

  stats(): MemoryProviderStats {
    const pool = this.#pool;
    return {
      size: pool.buffersInUse + pool.buffersIdle,
      inUse: pool.buffersInUse,
      idle: pool.buffersIdle,
      waiting: pool.waiting,
      pending: 0,
      created: this.#created,
      destroyed: this.#destroyed,
      errors: this.#errors,
      acquireTimeouts: this.#acquireTimeouts,
      leaks: this.#ledger.leaks,
      acquired: this.#ledger.acquired,
      released: this.#ledger.returned,
      bytesInUse: pool.bytesInUse,
      bytesIdle: pool.bytesIdle,
      budgetBytes: this.#settings.budgetBytes,
      peakBytes: pool.peakBytes,
    };
  }

  /** Reports the budget; unhealthy only once closed. Never throws. */
  async check(): Promise<HealthReport> {
    const { bytesInUse, bytesIdle } = this.#pool;
    const { budgetBytes } = this.#settings;
    const ok = this.#state === 'new' || this.#state === 'open';
    const details = { bytesInUse, bytesIdle, budgetBytes, freeBytes: budgetBytes - bytesInUse };
    publish('provider:health', { provider: this.name, time: Date.now(), ok, latencyMs: 0 });
    if (ok) return { ok, latencyMs: 0, details };
    return { ok, latencyMs: 0, error: `provider is ${this.#state}`, details };
  }

  /**
   * Graceful shutdown: refuse new acquires, fail queued ones with `PoolClosedError`, empty every
   * cache, wait up to `timeoutMs` (default: the `closeTimeoutMs` option) for leases to come back,
   * then report the rest as leaks and write them off, and free every idle buffer. Idempotent.
   * A lease written off this way rejects a later `release()` with `LeaseReleasedError`.
   */
  close(options: CloseOptions = {}): Promise<void> {
    this.#shutdown ??= this.#shutDown(false, options.timeoutMs ?? this.#settings.closeTimeoutMs);
    return this.#shutdown;
  }

  /** Forced shutdown: write off every lease now, lent or not, and free every buffer. Idempotent. */
  destroy(reason?: unknown): Promise<void> {
    this.#wakeCloser?.();
    this.#shutdown ??= this.#shutDown(true, 0, reason);
    return this.#shutdown;
  }

  /** Configuration facts for the monitor. */
  /** Count a lease as leaked (a scope ended with it still out), with the borrower's stack. */
  reportLeak(lease: Lease<Buffer>, details?: { stack?: string }): void {
    this.#ledger.reportLeak(lease, details);
  }

  describe(): Record<string, unknown> {
    const { budgetBytes, sizeClasses, maxIdleBytes, acquireTimeoutMs, zeroOnRelease } =
      this.#settings;
    return {
      budgetBytes,
      sizeClasses: [...sizeClasses],
      maxIdleBytes,
      acquireTimeoutMs,
      zeroOnRelease,
    };
  }

  #classFor(size: number): number {
    const classSize = this.#pool.classFor(size);
    if (classSize !== undefined) return classSize;
    const { budgetBytes, sizeClasses } = this.#settings;
    const largest = sizeClasses[sizeClasses.length - 1] as number;
    const limit =
      size > budgetBytes
        ? `the budget (${budgetBytes} bytes)`
        : `the largest size class (${largest} bytes)`;
    throw new MemoryBudgetError(
      `cannot lend ${size} bytes from provider "${this.name}": more than ${limit}`,
      { size },
    );
  }

  #timedOut(size: number, timeoutMs: number, waitMs: number, options: AcquireOptions): Error {
    this.#acquireTimeouts++;
    publish('resource:acquire-timeout', {
      provider: this.name,
      time: Date.now(),
      waitMs,
      ...(options.owner ? { owner: options.owner } : {}),
    });
    const { bytesInUse } = this.#pool;
    return new MemoryBudgetError(
      `no budget for ${size} bytes from provider "${this.name}" within ${timeoutMs} ms ` +
        `(${bytesInUse} of ${this.#settings.budgetBytes} bytes in use)`,
      { size },
    );
  }

  #returned(buffer: Buffer): void {
    if (this.#state === 'closing' || this.#state === 'closed') this.#pool.drop(buffer, 'closed');
    else this.#pool.give(buffer);
    this.#afterReturn();
  }

  #written(buffer: Buffer, reason: string): void {
    this.#pool.drop(buffer, reason);
    this.#afterReturn();
  }

  #afterReturn(): void {
    if (this.#pool.bytesInUse < rearmAt * this.#settings.budgetBytes) this.#warningArmed = true;
    this.#checkWarning(); // a return may have let waiters in
    if (this.#ledger.size === 0) this.#wakeCloser?.();
  }

  #checkWarning(): void {
    const { bytesInUse } = this.#pool;
    const { budgetBytes } = this.#settings;
    if (!this.#warningArmed || bytesInUse < warnAt * budgetBytes) return;
    this.#warningArmed = false;
    const percent = Math.round((bytesInUse / budgetBytes) * 100);
    publish('provider:warning', {
      provider: this.name,
      time: Date.now(),
      message:
        `memory in use crossed ${warnAt * 100}% of the budget: ` +
        `${bytesInUse} of ${budgetBytes} bytes (${percent}%)`,
    });
  }

  #allocated(buffer: Buffer): void {
    const id = this.#nextBufferId++;
    this.#ids.set(buffer, id);
    this.#created++;
    publishLazy('resource:create', () => ({
      provider: this.name,
      time: Date.now(),
      resourceId: id,
      durationMs: 0,
    }));
  }

  #freed(buffer: Buffer, reason: string): void {
    this.#destroyed++;
    const resourceId = this.#ids.get(buffer) ?? 0;
    publishLazy('resource:destroy', () => ({
      provider: this.name,
      time: Date.now(),
      resourceId,
      reason,
    }));
  }

  async #shutDown(forced: boolean, timeoutMs: number, reason?: unknown): Promise<void> {
    this.#state = 'closing';
    this.#pool.failAll(new PoolClosedError(`provider "${this.name}" is closing`));
    for (const cache of this.#caches) cache.close();
    this.#caches.clear();
    if (!forced) await this.#waitForLeases(timeoutMs);
    const why = reason ?? new PoolClosedError(`provider "${this.name}" closed`);
    for (const lease of this.#ledger.outstanding()) {
      if (lease.returned) continue;
      if (!forced) this.#ledger.reportLeak(lease);
      await this.#ledger.revoke(lease, why);
    }
    this.#pool.freeIdle('closed');
    this.#ledger.close();
    this.#state = 'closed';
    publish('provider:close', { provider: this.name, time: Date.now(), kind: this.kind, forced });
  }

  #waitForLeases(timeoutMs: number): Promise<void> {
    if (this.#ledger.size === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      // Not unref'd: with a lease that never comes back and nothing else to do, the process
      // must still reach the timeout and finish closing rather than exit half-closed.
      const timer = Number.isFinite(timeoutMs) ? setTimeout(done, timeoutMs) : undefined;
      const self = this;
      function done() {
        if (timer !== undefined) clearTimeout(timer);
        self.#wakeCloser = undefined;
        resolve();
      }
      this.#wakeCloser = done;
    });
  }

  #assertUsable(): void {
    if (this.#state === 'closing' || this.#state === 'closed') {
      throw new PoolClosedError(`provider "${this.name}" is ${this.#state}; no new acquires`);
    }
  }
}

/**
 * Create a memory provider: pooled buffers under a byte budget, and caches of them.
 *
 * @example
 * const memory = createMemoryProvider({ budgetBytes: 256 * 1024 * 1024 });
 * await using lease = await memory.acquire({ size: 1024 * 1024 });
 */
export function createMemoryProvider(options: MemoryProviderOptions = {}): MemoryProvider {
  return new MemoryProvider(options);
}

function checkSize(options: MemoryAcquireOptions): number {
  const where = 'acquire';
  if (typeof options !== 'object' || options === null) {
    throw new ConfigInvalidError(`${where}: options with a "size" are required`);
  }
  if (options.size === undefined) {
    throw new ConfigInvalidError(`${where}: option "size" is required`);
  }
  return checkInteger(where, 'size', options.size, 0, { min: 0 });
}

function checkCacheOptions(input: BufferCacheOptions): BufferCacheOptions {
  const where = 'createCache';
  const options = checkObject(where, input);
  rejectUnknownKeys(where, options, ['maxBytes', 'ttlMs']);
  if (options.maxBytes === undefined) {
    throw new ConfigInvalidError(`${where}: option "maxBytes" is required`);
  }
  const maxBytes = checkInteger(where, 'maxBytes', options.maxBytes, 0, { min: 1 });
  if (options.ttlMs === undefined) return { maxBytes };
  return { maxBytes, ttlMs: checkInteger(where, 'ttlMs', options.ttlMs, 0, { min: 1 }) };
}
