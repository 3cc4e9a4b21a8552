import {
  AbortedError,
  CleanupError,
  KayGraphError,
  ProviderNotFoundError,
  combineErrors,
} from './errors.js';
import { type LeaseOwner, publish } from './events.js';
import type { AcquireOptions, Lease, Provider, ProviderAcquireOptions } from './resource.js';
import { attempt, linkSignals, newController } from './signals.js';

/** Something was registered with, or acquired through, a scope that has already closed. */
export class ScopeClosedError extends KayGraphError {
  static override readonly code = 'KG_SCOPE_CLOSED';
}

/** Finds a provider by name for a scope; throws `ProviderNotFoundError` when there is none. */
export type ProviderLookup = (name: string) => Provider;

export interface ScopeOptions {
  /** The scope aborts its own signal when this one aborts. */
  signal?: AbortSignal;
  /** Put on every lease taken through the scope; `scope` defaults to the scope's name. */
  owner?: LeaseOwner;
  /** Where `acquire` finds providers. Without it, `acquire` fails with `ProviderNotFoundError`. */
  providers?: ProviderLookup;
  /** Called once per lease the scope found still out when it closed. */
  onLeak?: (lease: Lease<unknown>) => void;
}

export interface ChildScopeOptions {
  /** An extra signal the child also aborts on (e.g. a node's timeout). */
  signal?: AbortSignal;
  /**
   * Fields that override the parent's owner; `scope` defaults to the child's name. Read when the
   * child's owner is first needed (by a lease or `ctx.owner`), so do not change it afterwards.
   */
  owner?: LeaseOwner;
}

/** A cleanup registered with `defer`. Its result is awaited; a throw is collected, not lost. */
export type Cleanup = () => unknown;

/** A lease the scope handed out, with what it needs to report and return it as a leak. */
class LeaseRecord {
  constructor(
    readonly lease: Lease<unknown>,
    readonly provider: Provider,
    readonly borrower: StackHolder,
  ) {}
}

/** What a scope undoes when it closes: a deferred cleanup, a child scope or a lease. */
type Entry = Cleanup | Scope | LeaseRecord;

/** Told, once, why a scope aborted: a child scope that follows it, or a runtime waiter. */
type AbortWatcher = Scope | ((reason: unknown) => void);

interface StackHolder {
  stack?: string;
}

/**
 * @internal True once the scope is aborted, without creating its signal. For the graph runtime,
 * which checks between phases on every node; not part of the public API.
 */
export const scopeAborted: unique symbol = Symbol('kaygraph.scopeAborted');

/**
 * @internal Call a listener once with the abort reason when the scope aborts (at once if it
 * already has); returns the function that stops watching. Cheaper than a listener on `signal`
 * for the graph runtime's per-phase races; not part of the public API.
 */
export const watchScopeAbort: unique symbol = Symbol('kaygraph.watchScopeAbort');

/**
 * @internal Close the scope like `close()`, but return `undefined` instead of a promise when it
 * closed synchronously (nothing to wait for or undo), so the graph runtime's caller need not
 * await. Not part of the public API.
 */
export const closeScope: unique symbol = Symbol('kaygraph.closeScope');

/**
 * @internal True when closing the scope would undo nothing: no acquire in flight, and no cleanup,
 * open child or lease still out. For the graph runtime, which closes the scope of an `exec`
 * attempt that succeeded at once when it holds nothing; not part of the public API.
 */
export const scopeIdle: unique symbol = Symbol('kaygraph.scopeIdle');

/**
 * @internal Abort the scope with a reason, as if a signal it follows had aborted. For the graph
 * runtime, which listens to the run's signal itself (see `Graph.run`); not part of the public API.
 */
export const abortScope: unique symbol = Symbol('kaygraph.abortScope');

/**
 * The lifetime of one run, one node execution, or any other unit of work. Leases taken through a
 * scope are recorded; cleanups registered with `defer` run in reverse order when it closes; a
 * lease still out at close is reported as a leak (with the stack of the code that took it) and
 * released. Closing aborts `signal` first, so work still running under the scope stops; cleanups
 * should therefore not pass `scope.signal` to operations they need to finish.
 *
 * A graph opens a scope per node execution, so a scope costs nothing it does not need: its
 * `AbortSignal` (and the abort reason) are created when first read, and until then the scope
 * finds out whether it is aborted by asking its parent.
 *
 * @example
 * await using scope = resources.scope('import');
 * const lease = await scope.acquire<pg.PoolClient>('db');
 * scope.defer(() => console.log('done'));
 */
export class Scope implements AsyncDisposable {
  /** Name used in owners, events and error messages. */
  readonly name: string;

  #owner: LeaseOwner | undefined;
  /** A child's own owner fields, merged over the parent's when `owner` is first read. */
  #ownerFields: LeaseOwner | undefined;
  #parent: Scope | undefined;
  readonly #source: AbortSignal | undefined;
  #providers: ProviderLookup | undefined;
  #onLeak: ((lease: Lease<unknown>) => void) | undefined;
  #entries: Entry[] | undefined;
  #pending: Set<Promise<unknown>> | undefined;
  #leaks = 0;
  #closing: Promise<void> | undefined;

  // Abort state. A scope is either "hooked" (its parent and source tell it when they abort, so
  // #aborted is exact) or not (it has at most one upstream and asks it when asked itself). A
  // scope hooks when its signal is created, when something watches it, or when it has two
  // upstreams (whichever aborts first must win).
  #aborted = false;
  #reason: unknown;
  /** The reason is the close error, not built yet: nobody has looked at it. */
  #closeReasonPending = false;
  #closeCause: unknown;
  #controller: AbortController | undefined;
  /**
   * Told when the scope aborts, in the order they came: one in `#watcher` while there is only one
   * (a scope of a run usually has one: its graph's walk, or one child scope), a Set from the
   * second on. A Set per scope cost an allocation for every run that waited.
   */
  #watcher: AbortWatcher | undefined;
  #watchers: Set<AbortWatcher> | undefined;
  #hooked = false;
  #onSourceAbort: (() => void) | undefined;

  constructor(name: string, options: ScopeOptions = {}) {
    this.name = name;
    const { owner } = options;
    if (owner !== undefined) this.#owner = ownerOf(owner, undefined, owner.scope ?? name);
    this.#source = options.signal;
    this.#providers = options.providers;
    this.#onLeak = options.onLeak;
  }

  /** Who borrows through this scope: `{ runId, node, scope }`, passed as `AcquireOptions.owner`. */
  get owner(): LeaseOwner {
    // Built on first read: most node executions never borrow, so never need one.
    this.#owner ??= ownerOf(
      this.#parent?.owner,
      this.#ownerFields,
      this.#ownerFields?.scope ?? this.name,
    );
    return this.#owner;
  }

  /** Aborted when the scope closes, or when a parent signal aborts (with the parent's reason). */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      const controller = newController();
      this.#controller = controller;
      if (this.#checkAborted()) controller.abort(this.#reasonValue());
      else this.#hook();
    }
    return this.#controller.signal;
  }

  /** True once `close()` has been called. */
  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /** Leases this scope (not counting its children) found still out when it closed. */
  get leaks(): number {
    return this.#leaks;
  }

  /**
   * @internal See `scopeAborted`. An unhooked scope asks its one upstream and keeps the answer.
   */
  [scopeAborted](): boolean {
    // The common answer, "no", found with a loop up the chain rather than one call per level:
    // the graph runtime asks after every phase of every node.
    for (let scope: Scope = this; ; ) {
      if (scope.#aborted) break;
      if (scope.#hooked) return false;
      const parent = scope.#parent;
      if (parent === undefined) {
        // The top of the chain listens to its signal from now on, instead of reading the
        // signal's `aborted` on every check (a getter that costs more than the whole loop).
        scope.#hook();
        if (!scope.#aborted) return false;
        break;
      }
      scope = parent;
    }
    return this.#pinAbort();
  }


  /** @internal See `scopeIdle`. */
  [scopeIdle](): boolean {
    if (this.#pending !== undefined && this.#pending.size > 0) return false;
    for (const entry of this.#entries ?? []) {
      if (!(entry instanceof LeaseRecord && entry.lease.returned)) return false;
    }
    return true;
  }

  /** @internal See `watchScopeAbort`. */
  [watchScopeAbort](listener: (reason: unknown) => void): () => void {
    this.#hook();
    if (this.#aborted) {
      listener(this.#reasonValue());
      return noop;
    }
    this.#addWatcher(listener);
    return () => {
      this.#removeWatcher(listener);
    };
  }

  /**
   * Borrow from the named provider. The wait is cancelled by the scope's signal as well as by
   * `options.signal`; the lease is recorded, and if it is still out when the scope closes it is
   * reported as a leak and released.
   */
  async acquire<R = unknown>(
    providerName: string,
    options: ProviderAcquireOptions = {},
  ): Promise<Lease<R>> {
    // Taken before the first await so the stack shows the borrower, not the provider's internals.
    const borrower: StackHolder = {};
    Error.captureStackTrace(borrower, Scope.prototype.acquire);

    this.#assertOpen(`acquire from provider "${providerName}"`);
    const provider = this.#lookup(providerName);
    const acquiring = this.#acquireFrom<R>(provider, options, borrower);

    // close() waits for this, including the return of a lease that arrives after close began.
    const pending = this.#pending ?? new Set();
    this.#pending = pending;
    const settled: Promise<unknown> = acquiring.then(noop, noop).finally(() => {
      pending.delete(settled);
    });
    pending.add(settled);
    return acquiring;
  }

  /** Borrow, run `fn` with the resource, and return the lease however `fn` ends. */
  async use<R, T>(
    providerName: string,
    fn: (resource: R, lease: Lease<R>) => T | PromiseLike<T>,
    options: ProviderAcquireOptions = {},
  ): Promise<Awaited<T>> {
    const lease = await this.acquire<R>(providerName, options);
    let result: Awaited<T>;
    try {
      result = await fn(lease.resource, lease);
    } catch (error) {
      await returnAfterError(lease, error);
      throw error;
    }
    if (!lease.returned) await lease.release();
    return result;
  }

  /** Register a cleanup to run when the scope closes; the last registered runs first. */
  defer(cleanup: Cleanup): void {
    if (typeof cleanup !== 'function') {
      throw new TypeError(`scope "${this.name}": defer expects a function`);
    }
    this.#assertOpen('defer a cleanup');
    this.#addEntry(cleanup);
  }

  /** A scope that closes before this one does (at the latest when this one closes). */
  child(name: string, options: ChildScopeOptions = {}): Scope {
    this.#assertOpen(`open child scope "${name}"`);
    const { signal } = options;
    const child = new Scope(name, signal === undefined ? noOptions : { signal });
    child.#parent = this;
    child.#ownerFields = options.owner;
    child.#providers = this.#providers;
    child.#onLeak = this.#onLeak;
    // With two upstreams, the first to abort gives the reason, so the child must hear both now.
    if (signal !== undefined) child.#hook();
    this.#addEntry(child);
    return child;
  }

  /**
   * End the scope: abort its signal, wait for acquires in flight, then close child scopes (with
   * the same `error`), run deferred cleanups and return leases still out (reported as leaks;
   * released after a clean end, destroyed when `error` is given), all in reverse order of
   * registration. Every step runs
   * even if an earlier one fails. Pass the error the work failed with, if any: when a
   * cleanup also fails, the returned promise rejects with a `CleanupError` that keeps both (its
   * `error` is the cleanup failure, or an AggregateError of several). Without an in-flight error,
   * it rejects with the cleanup failure itself (or an AggregateError). Idempotent: a second call
   * returns the first call's promise.
   */
  close(error?: unknown): Promise<void> {
    this.#closing ??= this.#close(error);
    return this.#closing;
  }

  /** @internal See `abortScope`. */
  [abortScope](reason: unknown): void {
    this.#abort(reason);
  }

  /** @internal See `closeScope`. */
  [closeScope](error?: unknown): Promise<void> | undefined {
    const closing = this.close(error);
    return closing === closedWithNothingToDo ? undefined : closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * `wrap`: whether cleanup failures after `inFlight` come wrapped in a `CleanupError` with it. A
   * child closed by its parent does not wrap them: the parent wraps what all its entries failed
   * with once.
   */
  #close(inFlight: unknown, wrap = true): Promise<void> {
    this.#abortOnClose(inFlight);
    // Taken away, not copied: children closing later find nothing left to remove themselves from.
    const entries = this.#entries ?? [];
    this.#entries = undefined;
    if (entries.length === 0 && (this.#pending === undefined || this.#pending.size === 0)) {
      // Nothing to wait for or undo, as for most node executions: no async step, no new promise.
      this.#leaveParent();
      return closedWithNothingToDo;
    }
    return this.#undo(entries, inFlight, wrap);
  }

  async #undo(entries: Entry[], inFlight: unknown, wrap: boolean): Promise<void> {
    if (this.#pending !== undefined && this.#pending.size > 0) await Promise.all(this.#pending);

    const failures: unknown[] = [];
    for (let i = entries.length - 1; i >= 0; i--) {
      try {
        await this.#finalize(entries[i]!, inFlight);
      } catch (failure) {
        failures.push(failure);
      }
    }
    this.#leaveParent();
    throwFailures(failures, wrap ? inFlight : undefined, `scope "${this.name}" cleanup failed`);
  }

  #addEntry(entry: Entry): void {
    if (this.#entries === undefined) this.#entries = [entry];
    else this.#entries.push(entry);
  }

  #finalize(entry: Entry, inFlight: unknown): Promise<unknown> {
    if (typeof entry === 'function') return attempt(entry);
    if (entry instanceof Scope) {
      // A child still open when its parent closes ends the same way: after a failure, its leases
      // are destroyed too.
      entry.#closing ??= entry.#close(inFlight, false);
      return entry.#closing;
    }
    if (entry.lease.returned) return Promise.resolve();
    this.#reportLeak(entry.lease, entry.provider, entry.borrower);
    // After a failure the resource may be mid-operation (a connection inside a transaction, a
    // half-written buffer): destroying it is the only way to be sure the next borrower gets a
    // clean one. After a clean end it is released for reuse.
    return inFlight === undefined ? entry.lease.release() : entry.lease.destroy(inFlight);
  }

  /** Leave the parent's entries, so a parent that lives long does not collect closed children. */
  #leaveParent(): void {
    const parent = this.#parent;
    const entries = parent === undefined ? undefined : parent.#entries;
    if (entries === undefined) return;
    // A child usually closes before any sibling opened after it, so it is the last entry.
    if (entries[entries.length - 1] === this) {
      entries.pop();
      return;
    }
    const index = entries.lastIndexOf(this);
    if (index !== -1) entries.splice(index, 1);
  }

  #reportLeak(lease: Lease<unknown>, provider: Provider, borrower: StackHolder): void {
    this.#leaks++;
    this.#onLeak?.(lease);
    const stack = borrower.stack?.replace(/^Error\n/, 'lease acquired\n');
    if (typeof provider.reportLeak === 'function') {
      provider.reportLeak(lease, stack === undefined ? {} : { stack });
      return;
    }
    publish('resource:leak', {
      provider: provider.name,
      time: Date.now(),
      leaseId: lease.id,
      resourceId: (lease as { resourceId?: number }).resourceId ?? -1,
      heldMs: Date.now() - lease.acquiredAt,
      ...(stack ? { stack } : {}),
      ...(lease.owner ? { owner: lease.owner } : {}),
    });
  }

  async #acquireFrom<R>(
    provider: Provider,
    options: AcquireOptions,
    borrower: StackHolder,
  ): Promise<Lease<R>> {
    const link = linkSignals([this.signal, options.signal]);
    let lease: Lease<R>;
    try {
      const acquireOptions: AcquireOptions = Object.assign({}, options);
      acquireOptions.signal = link.signal;
      acquireOptions.owner = options.owner ?? this.owner;
      lease = (await provider.acquire(acquireOptions)) as Lease<R>;
    } finally {
      link.dispose();
    }

    if (this.closed) {
      // The provider handed the lease out as the scope closed; nobody is left to use it.
      await lease.release().catch(noop);
      throw new ScopeClosedError(
        `scope "${this.name}" closed while acquiring from provider "${provider.name}"`,
      );
    }
    this.#record(new LeaseRecord(lease as Lease<unknown>, provider, borrower));
    return lease;
  }

  #record(record: LeaseRecord): void {
    const entries = this.#entries ?? [];
    this.#entries = entries;
    // Leases returned by their borrower need no record; dropping them keeps a long scope small.
    let kept = 0;
    for (const entry of entries) {
      if (!(entry instanceof LeaseRecord && entry.lease.returned)) entries[kept++] = entry;
    }
    entries.length = kept;
    entries.push(record);
  }

  #lookup(providerName: string): Provider {
    if (this.#providers === undefined) {
      throw new ProviderNotFoundError(
        `scope "${this.name}" has no providers: cannot acquire from "${providerName}"`,
      );
    }
    return this.#providers(providerName);
  }

  #assertOpen(what: string): void {
    if (this.closed) throw new ScopeClosedError(`cannot ${what}: scope "${this.name}" is closed`);
  }

  /** Whether the scope is aborted; an unhooked scope asks its one upstream and keeps the answer. */
  #checkAborted(): boolean {
    return this[scopeAborted]();
  }

  /** Something upstream aborted: take its reason down the chain of unhooked scopes, to this one. */
  #pinAbort(): boolean {
    if (this.#aborted || this.#hooked) return this.#aborted;
    const parent = this.#parent;
    if (parent !== undefined) {
      if (parent.#pinAbort()) this.#abort(parent.#reasonValue());
    } else if (this.#source?.aborted === true) {
      this.#abort(this.#source.reason);
    }
    return this.#aborted;
  }

  /** From now on, hear about an abort upstream as it happens. */
  #hook(): void {
    if (this.#hooked || this.#aborted) return;
    this.#hooked = true;
    const parent = this.#parent;
    if (parent !== undefined) {
      parent.#hook();
      if (parent.#aborted) {
        this.#abort(parent.#reasonValue());
        return;
      }
      parent.#addWatcher(this);
    }
    const source = this.#source;
    if (source !== undefined) {
      if (source.aborted) {
        this.#abort(source.reason);
        return;
      }
      const onAbort = () => this.#abort(source.reason);
      this.#onSourceAbort = onAbort;
      source.addEventListener('abort', onAbort, { once: true });
    }
  }

  #unhook(): void {
    if (!this.#hooked) return;
    const parent = this.#parent;
    if (parent !== undefined) parent.#removeWatcher(this);
    if (this.#onSourceAbort !== undefined) {
      this.#source?.removeEventListener('abort', this.#onSourceAbort);
      this.#onSourceAbort = undefined;
    }
  }

  #abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#unhook();
    this.#controller?.abort(reason);
    const watcher = this.#watcher;
    const watchers = this.#watchers;
    this.#watcher = undefined;
    this.#watchers = undefined;
    if (watcher !== undefined) tell(watcher, reason);
    if (watchers !== undefined) for (const each of watchers) tell(each, reason);
  }

  #addWatcher(watcher: AbortWatcher): void {
    if (this.#watchers !== undefined) {
      this.#watchers.add(watcher);
    } else if (this.#watcher === undefined) {
      this.#watcher = watcher;
    } else {
      // Once a Set, always a Set: the order of the first two is kept.
      this.#watchers = new Set([this.#watcher, watcher]);
      this.#watcher = undefined;
    }
  }

  #removeWatcher(watcher: AbortWatcher): void {
    if (this.#watcher === watcher) this.#watcher = undefined;
    else this.#watchers?.delete(watcher);
  }

  #abortOnClose(inFlight: unknown): void {
    if (this.#checkAborted()) return;
    if (
      this.#controller === undefined &&
      this.#watcher === undefined &&
      (this.#watchers?.size ?? 0) === 0
    ) {
      // Nobody can see the reason yet; build the error (and its stack) only if someone asks.
      this.#closeReasonPending = true;
      this.#closeCause = inFlight;
      this.#aborted = true;
      this.#unhook();
      return;
    }
    this.#abort(this.#closeReason(inFlight));
  }

  #reasonValue(): unknown {
    if (this.#closeReasonPending) {
      this.#closeReasonPending = false;
      this.#reason = this.#closeReason(this.#closeCause);
      this.#closeCause = undefined;
    }
    return this.#reason;
  }

  #closeReason(inFlight: unknown): AbortedError {
    const cause = inFlight === undefined ? {} : { cause: inFlight };
    return new AbortedError(`scope "${this.name}" closed`, cause);
  }
}

function noop(): void {}

function tell(watcher: AbortWatcher, reason: unknown): void {
  if (watcher instanceof Scope) watcher[abortScope](reason);
  else watcher(reason);
}

const closedWithNothingToDo: Promise<void> = Promise.resolve();
const noOptions: ScopeOptions = {};

/**
 * `{ ...base, ...extra, scope }`. Not written as that literal: on Node 20, a literal that spreads
 * an object and then adds keys takes microseconds (measured 1.8 µs against 0.1 µs for this), and
 * every node execution builds an owner.
 */
function ownerOf(
  base: LeaseOwner | undefined,
  extra: LeaseOwner | undefined,
  scope: string,
): LeaseOwner {
  const owner: LeaseOwner = Object.assign({}, base, extra);
  owner.scope = scope;
  return owner;
}

/** Return a lease after `fn` threw; a failing return is kept alongside the original error. */
async function returnAfterError(lease: Lease<unknown>, error: unknown): Promise<void> {
  if (lease.returned) return;
  try {
    await lease.release();
  } catch (releaseError) {
    throw new CleanupError(releaseError, error, `returning lease ${lease.id} failed`);
  }
}

/**
 * Throw what cleanups collected. With an in-flight error, a `CleanupError` keeps both, so neither
 * hides the other; without one, the failure itself (or an AggregateError of several).
 */
function throwFailures(failures: unknown[], inFlight: unknown, message: string): void {
  const combined = combineErrors(failures, message);
  if (combined === undefined) return;
  if (inFlight !== undefined) throw new CleanupError(combined, inFlight, message);
  throw combined;
}
