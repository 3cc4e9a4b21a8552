import { LeaseReleasedError, LeaseRevokedError } from './errors.js';
import { type LeaseOwner, eventChannel, publish } from './events.js';
import type { Lease } from './resource.js';

/** How a provider takes a resource back. Called at most once per lease, one or the other. */
export interface ReturnHooks<R> {
  release(resource: R): void | Promise<void>;
  destroy(resource: R, reason: unknown): void | Promise<void>;
}

export interface LeaseLedgerOptions {
  /** Provider name put on every lease and event. */
  provider: string;
  /** Report a lease held longer than this many ms, once, with its borrower's stack. 0 turns it off. */
  leakDetectionMs?: number;
  /** Record the borrower's stack on every lease even without leak detection (scopes want it). */
  captureStacks?: boolean;
}

let nextLeaseId = 1;

// Kept, not looked up per lease: checking for listeners is then one property read.
const acquireChannel = eventChannel('resource:acquire');
const releaseChannel = eventChannel('resource:release');
const leakChannel = eventChannel('resource:leak');

/** A resolved promise shared by every synchronous return: one allocation fewer per release. */
const returnedAtOnce: Promise<void> = Promise.resolve();

/**
 * The book of leases one provider has out. Every provider — core's `Pool` and the wrappers of
 * driver pools — issues its leases here, so they all count, report and detect leaks the same way.
 */
export class LeaseLedger<R> {
  readonly provider: string;
  /** Leases taken since the ledger was made. */
  acquired = 0;
  /** Leases returned (released or destroyed). */
  returned = 0;
  /** Leases reported as leaked. */
  leaks = 0;

  // Leases out, as an intrusive doubly linked list: a Set costs a hash of every new lease object,
  // which on the acquire/release hot path is as much as the rest of the bookkeeping.
  #head: LeaseRecord<R> | undefined;
  #size = 0;
  readonly #leakDetectionMs: number;
  /** Leak detection or stack capture is on: every lease records its stack and acquire time. */
  readonly #captureStacks: boolean;
  #sweepTimer: NodeJS.Timeout | undefined;

  constructor(options: LeaseLedgerOptions) {
    this.provider = options.provider;
    this.#leakDetectionMs = options.leakDetectionMs ?? 0;
    this.#captureStacks = options.captureStacks === true || this.#leakDetectionMs > 0;
  }

  /** Leases out right now. */
  get size(): number {
    return this.#size;
  }

  /**
   * The caller's stack, to pass to `issue` later, or `undefined` when stacks are not captured.
   * A provider whose acquire may wait takes it on entry: by the time the lease is issued the
   * stack may be that of whoever freed the resource, or of a create's callback.
   */
  borrowerStack(): string | undefined {
    return this.#captureStacks ? captureStack(LeaseLedger.prototype.borrowerStack) : undefined;
  }

  /** A snapshot of the leases out right now. */
  outstanding(): Lease<R>[] {
    const leases: Lease<R>[] = [];
    for (let lease = this.#head; lease !== undefined; lease = lease.next) leases.push(lease);
    return leases;
  }

  /**
   * Hand out a resource as a lease. Its `acquiredAt` is read from the clock only when something
   * can use it: leak detection or stack capture on this ledger, an `owner` (scopes and graph nodes
   * always pass one, and report leaks with the hold time), or a listener on `resource:acquire`,
   * `resource:release` or `resource:leak`. Otherwise it is `NaN`: on some hosts one clock read
   * costs a fifth of an uncontended acquire and release.
   *
   * `stack` is the borrower's stack from `borrowerStack()`, for an acquire that waited; without it
   * the stack is taken here.
   */
  issue(
    resource: R,
    resourceId: number,
    hooks: ReturnHooks<R>,
    waitMs: number,
    owner?: LeaseOwner,
    borrowerStack?: string,
  ): Lease<R> {
    const stack =
      borrowerStack ?? (this.#captureStacks ? captureStack(LeaseLedger.prototype.issue) : undefined);
    const timed =
      this.#captureStacks ||
      owner !== undefined ||
      acquireChannel.hasSubscribers ||
      releaseChannel.hasSubscribers ||
      leakChannel.hasSubscribers;
    const acquiredAt = timed ? Date.now() : Number.NaN;
    const lease = new LeaseRecord(this, resource, resourceId, hooks, owner, stack, acquiredAt);
    lease.next = this.#head;
    if (this.#head !== undefined) this.#head.prev = lease;
    this.#head = lease;
    this.#size++;
    this.acquired++;
    // Checked here rather than through publishLazy: no closure per lease when nobody listens.
    if (acquireChannel.hasSubscribers) {
      publish('resource:acquire', {
        provider: this.provider,
        time: lease.acquiredAt,
        leaseId: lease.id,
        resourceId,
        waitMs,
        ...(owner ? { owner } : {}),
      });
    }
    if (this.#leakDetectionMs > 0 && this.#sweepTimer === undefined) this.#startSweep();
    return lease;
  }

  /**
   * Count a lease as leaked, e.g. because its scope ended with it still out. `details.stack` is
   * the borrower's stack as the caller captured it (a scope does, at acquire time); it is preferred
   * over the ledger's own, which is taken deeper inside the provider.
   */
  reportLeak(lease: Lease<R>, details: { stack?: string } = {}): void {
    if (!(lease instanceof LeaseRecord) || lease.reportedLeak) return;
    lease.reportedLeak = true;
    this.leaks++;
    const stack = details.stack ?? lease.stack;
    publish('resource:leak', {
      provider: this.provider,
      time: Date.now(),
      leaseId: lease.id,
      resourceId: lease.resourceId,
      heldMs: Date.now() - lease.acquiredAt,
      ...(stack ? { stack } : {}),
      ...(lease.owner ? { owner: lease.owner } : {}),
    });
  }

  /**
   * Take a lease back from its borrower: the provider is shutting down (forced, or its close
   * timed out) and the resource goes now. The lease counts as returned; the borrower's later
   * `release()` or `destroy()` rejects with `LeaseRevokedError` and changes no counter, and
   * disposing of it is a no-op. Runs the lease's `destroy` hook with `reason` unless
   * `runDestroyHook` is false (the caller destroys the resource itself). A lease already
   * returned, or not from this ledger, is left alone.
   */
  revoke(
    lease: Lease<R>,
    reason?: unknown,
    options: { runDestroyHook?: boolean } = {},
  ): Promise<void> {
    if (!(lease instanceof LeaseRecord) || lease.ledger !== this || lease.returned) {
      return returnedAtOnce;
    }
    return lease.revoke(reason, options.runDestroyHook !== false);
  }

  /** The stack of the code that took the lease, when stacks are captured. */
  stackOf(lease: Lease<R>): string | undefined {
    return lease instanceof LeaseRecord ? lease.stack : undefined;
  }

  /** Stop the leak sweep. Leases still out stay valid. */
  close(): void {
    if (this.#sweepTimer !== undefined) clearInterval(this.#sweepTimer);
    this.#sweepTimer = undefined;
  }

  /** @internal called by a lease when it is returned or revoked. */
  settle(lease: LeaseRecord<R>, revoked = false): void {
    if (lease.prev === undefined) this.#head = lease.next;
    else lease.prev.next = lease.next;
    if (lease.next !== undefined) lease.next.prev = lease.prev;
    lease.prev = undefined;
    lease.next = undefined;
    this.#size--;
    this.returned++;
    if (this.#size === 0 && this.#sweepTimer !== undefined) this.close();
    const listened = releaseChannel.hasSubscribers;
    // The clock is read only when the time goes somewhere.
    // A leak taken back by the provider did not come back from its borrower.
    const leakReturned = lease.reportedLeak && !revoked;
    if (!listened && !leakReturned) return;
    const now = Date.now();
    const heldMs = now - lease.acquiredAt;
    if (listened) {
      publish('resource:release', {
        provider: this.provider,
        time: now,
        leaseId: lease.id,
        resourceId: lease.resourceId,
        heldMs,
        ...(lease.owner ? { owner: lease.owner } : {}),
      });
    }
    if (leakReturned) {
      publish('resource:leak-returned', {
        provider: this.provider,
        time: Date.now(),
        leaseId: lease.id,
        resourceId: lease.resourceId,
        heldMs,
      });
    }
  }

  #startSweep(): void {
    // One timer per ledger rather than one per lease: a lease costs nothing extra on the hot path.
    const every = Math.max(10, Math.floor(this.#leakDetectionMs / 4));
    this.#sweepTimer = setInterval(() => this.#sweep(), every);
    this.#sweepTimer.unref();
  }

  #sweep(): void {
    const deadline = Date.now() - this.#leakDetectionMs;
    for (const lease of this.outstanding() as LeaseRecord<R>[]) {
      if (!lease.reportedLeak && lease.acquiredAt <= deadline) this.reportLeak(lease);
    }
  }
}

class LeaseRecord<R> implements Lease<R> {
  readonly id = nextLeaseId++;
  reportedLeak = false;
  /** Neighbours in the ledger's list of leases out. */
  prev: LeaseRecord<R> | undefined = undefined;
  next: LeaseRecord<R> | undefined = undefined;
  #returned = false;
  #revoked = false;

  constructor(
    readonly ledger: LeaseLedger<R>,
    readonly resource: R,
    readonly resourceId: number,
    private readonly hooks: ReturnHooks<R>,
    readonly owner: LeaseOwner | undefined,
    readonly stack: string | undefined,
    readonly acquiredAt: number,
  ) {}

  get provider(): string {
    return this.ledger.provider;
  }

  get returned(): boolean {
    return this.#returned;
  }

  release(): Promise<void> {
    if (this.#returned) return Promise.reject(this.#alreadyReturned('release'));
    this.#returned = true;
    this.ledger.settle(this);
    try {
      return settled(this.hooks.release(this.resource));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  destroy(reason?: unknown): Promise<void> {
    if (this.#returned) return Promise.reject(this.#alreadyReturned('destroy'));
    this.#returned = true;
    this.ledger.settle(this);
    try {
      return settled(this.hooks.destroy(this.resource, reason));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** @internal see `LeaseLedger.revoke`. */
  revoke(reason: unknown, runDestroyHook: boolean): Promise<void> {
    this.#returned = true;
    this.#revoked = true;
    this.ledger.settle(this, true);
    if (!runDestroyHook) return returnedAtOnce;
    try {
      return settled(this.hooks.destroy(this.resource, reason));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    // `await using` after an explicit release is normal, so disposal of a returned lease is a no-op.
    return this.#returned ? returnedAtOnce : this.release();
  }

  #alreadyReturned(what: string): LeaseReleasedError | LeaseRevokedError {
    if (this.#revoked) {
      return new LeaseRevokedError(
        `cannot ${what} lease ${this.id} of provider "${this.ledger.provider}": the provider ` +
          'took it back and destroyed its resource when it shut down',
      );
    }
    return new LeaseReleasedError(
      `cannot ${what} lease ${this.id} of provider "${this.ledger.provider}": it was already returned`,
    );
  }
}

function settled(result: void | Promise<void>): Promise<void> {
  if (result === undefined) return returnedAtOnce;
  return result instanceof Promise ? result : returnedAtOnce;
}

function captureStack(above: Function): string | undefined {
  const holder: { stack?: string } = {};
  Error.captureStackTrace(holder, above);
  // The first line is the header, `Error` or (with source maps installed) `Error: `.
  return holder.stack?.replace(/^[^\n]*\n/, 'lease acquired\n');
}
