import {
  AbortedError,
  CleanupError,
  KayGraphError,
  ProviderNotFoundError,
  combineErrors,
} from './errors.js';
import { type LeaseOwner, publish } from './events.js';
import type { AcquireOptions, Lease, Provider } from './resource.js';
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
  /** Fields that override the parent's owner; `scope` defaults to the child's name. */
  owner?: LeaseOwner;
}

/** A cleanup registered with `defer`. Its result is awaited; a throw is collected, not lost. */
export type Cleanup = () => unknown;

type Entry =
  | { kind: 'defer'; cleanup: Cleanup }
  | { kind: 'lease'; lease: Lease<unknown>; provider: Provider; borrower: StackHolder }
  | { kind: 'child'; scope: Scope };

interface StackHolder {
  stack?: string;
}

/**
 * The lifetime of one run, one node execution, or any other unit of work. Leases taken through a
 * scope are recorded; cleanups registered with `defer` run in reverse order when it closes; a
 * lease still out at close is reported as a leak (with the stack of the code that took it) and
 * released. Closing aborts `signal` first, so work still running under the scope stops; cleanups
 * should therefore not pass `scope.signal` to operations they need to finish.
 *
 * @example
 * await using scope = resources.scope('import');
 * const lease = await scope.acquire<pg.PoolClient>('db');
 * scope.defer(() => console.log('done'));
 */
export class Scope implements AsyncDisposable {
  /** Name used in owners, events and error messages. */
  readonly name: string;
  /** Who borrows through this scope: `{ runId, node, scope }`, passed as `AcquireOptions.owner`. */
  readonly owner: LeaseOwner;

  readonly #controller = newController();
  readonly #providers: ProviderLookup | undefined;
  readonly #onLeak: ((lease: Lease<unknown>) => void) | undefined;
  readonly #entries = new Set<Entry>();
  readonly #pending = new Set<Promise<unknown>>();
  #leaks = 0;
  #closing: Promise<void> | undefined;
  #unfollow: () => void = noop;
  #detach: () => void = noop;

  constructor(name: string, options: ScopeOptions = {}) {
    this.name = name;
    this.owner = { ...options.owner, scope: options.owner?.scope ?? name };
    this.#providers = options.providers;
    this.#onLeak = options.onLeak;
    this.#followParent(options.signal);
  }

  /** Aborted when the scope closes, or when a parent signal aborts (with the parent's reason). */
  get signal(): AbortSignal {
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
   * Borrow from the named provider. The wait is cancelled by the scope's signal as well as by
   * `options.signal`; the lease is recorded, and if it is still out when the scope closes it is
   * reported as a leak and released.
   */
  async acquire<R = unknown>(providerName: string, options: AcquireOptions = {}): Promise<Lease<R>> {
    // Taken before the first await so the stack shows the borrower, not the provider's internals.
    const borrower: StackHolder = {};
    Error.captureStackTrace(borrower, Scope.prototype.acquire);

    this.#assertOpen(`acquire from provider "${providerName}"`);
    const provider = this.#lookup(providerName);
    const acquiring = this.#acquireFrom<R>(provider, options, borrower);

    // close() waits for this, including the return of a lease that arrives after close began.
    const settled: Promise<unknown> = acquiring.then(noop, noop).finally(() => {
      this.#pending.delete(settled);
    });
    this.#pending.add(settled);
    return acquiring;
  }

  /** Borrow, run `fn` with the resource, and return the lease however `fn` ends. */
  async use<R, T>(
    providerName: string,
    fn: (resource: R, lease: Lease<R>) => T | PromiseLike<T>,
    options: AcquireOptions = {},
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
    this.#entries.add({ kind: 'defer', cleanup });
  }

  /** A scope that closes before this one does (at the latest when this one closes). */
  child(name: string, options: ChildScopeOptions = {}): Scope {
    this.#assertOpen(`open child scope "${name}"`);
    const link = linkSignals([this.signal, options.signal]);
    const child = new Scope(name, {
      signal: link.signal,
      owner: { ...this.owner, ...options.owner, scope: options.owner?.scope ?? name },
      ...(this.#providers ? { providers: this.#providers } : {}),
      ...(this.#onLeak ? { onLeak: this.#onLeak } : {}),
    });
    const entry: Entry = { kind: 'child', scope: child };
    this.#entries.add(entry);
    child.#detach = () => {
      link.dispose();
      this.#entries.delete(entry);
    };
    return child;
  }

  /**
   * End the scope: abort its signal, wait for acquires in flight, then close child scopes, run
   * deferred cleanups and return leases still out, all in reverse order of registration. Every
   * step runs even if an earlier one fails. Pass the error the work failed with, if any: when a
   * cleanup also fails, the returned promise rejects with a `CleanupError` that keeps both (its
   * `error` is the cleanup failure, or an AggregateError of several). Without an in-flight error,
   * it rejects with the cleanup failure itself (or an AggregateError). Idempotent: a second call
   * returns the first call's promise.
   */
  close(error?: unknown): Promise<void> {
    this.#closing ??= this.#close(error);
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #close(inFlight: unknown): Promise<void> {
    const cause = inFlight === undefined ? {} : { cause: inFlight };
    this.#controller.abort(new AbortedError(`scope "${this.name}" closed`, cause));
    this.#unfollow();
    await Promise.all(this.#pending);

    const failures: unknown[] = [];
    for (const entry of [...this.#entries].reverse()) {
      try {
        await this.#finalize(entry);
      } catch (failure) {
        failures.push(failure);
      }
    }
    this.#entries.clear();
    this.#detach();
    throwFailures(failures, inFlight, `scope "${this.name}" cleanup failed`);
  }

  #finalize(entry: Entry): Promise<unknown> {
    if (entry.kind === 'defer') return attempt(entry.cleanup);
    if (entry.kind === 'child') return entry.scope.close();
    if (entry.lease.returned) return Promise.resolve();
    this.#reportLeak(entry.lease, entry.provider, entry.borrower);
    return entry.lease.release();
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
      lease = (await provider.acquire({
        ...options,
        signal: link.signal,
        owner: options.owner ?? this.owner,
      })) as Lease<R>;
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
    this.#record(lease as Lease<unknown>, provider, borrower);
    return lease;
  }

  #record(lease: Lease<unknown>, provider: Provider, borrower: StackHolder): void {
    // Leases returned by their borrower need no record; dropping them keeps a long scope small.
    for (const entry of this.#entries) {
      if (entry.kind === 'lease' && entry.lease.returned) this.#entries.delete(entry);
    }
    this.#entries.add({ kind: 'lease', lease, provider, borrower });
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

  #followParent(parent: AbortSignal | undefined): void {
    if (parent === undefined) return;
    if (parent.aborted) {
      this.#controller.abort(parent.reason);
      return;
    }
    const onAbort = () => this.#controller.abort(parent.reason);
    parent.addEventListener('abort', onAbort, { once: true });
    this.#unfollow = () => parent.removeEventListener('abort', onAbort);
  }
}

function noop(): void {}

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
