import type { LeaseOwner } from '../events.js';
import type { Lease, ProviderAcquireOptions } from '../resource.js';
import type { ResourcePool } from '../resource-pool.js';
import { Scope, closeScope, scopeAborted, scopeIdle } from '../scope.js';
import { linkSignals } from '../signals.js';

/**
 * What a node's phases and hooks receive for one execution. Everything that belongs to one run,
 * one execution or one attempt lives here, never on the node instance, so one node can appear in
 * many places of a graph and one graph can run many times at once.
 */
export interface NodeContext<Shared = unknown> {
  /** The run's shared store, the same object for every node of the run. */
  readonly shared: Shared;
  /** Identifies the run in events, owners and results. */
  readonly runId: string;
  /** The name of the node being executed. */
  readonly node: string;
  /**
   * Aborts when the run is cancelled or times out, when the node times out, when a sibling item
   * of a parallel batch fails, and when the node's scope closes. Pass it to everything that waits.
   */
  readonly signal: AbortSignal;
  /**
   * The node execution's scope: `defer` cleanups here; leases taken through it cannot leak. In
   * `exec` of a node that retries or has an `execFallback`, the scope of the attempt: see
   * `Node.exec`.
   */
  readonly scope: Scope;
  /** The run's providers (an empty pool when the run was started without one). */
  readonly resources: ResourcePool;
  /** `{ runId, node, scope }`, as put on leases taken through `acquire`. */
  readonly owner: LeaseOwner;
  /** 1-based number of the current `exec` attempt in `exec` and `execFallback`; 0 elsewhere. */
  readonly attempt: number;
  /** The `params` given to `graph.run` (empty object when none). */
  readonly params: Readonly<Record<string, unknown>>;
  /**
   * Borrow from a provider through `scope`, cancelled by `signal`. A lease not returned by the end
   * of the node (or of a failed `exec` attempt) is returned and reported as a leak.
   */
  acquire<R = unknown>(providerName: string, options?: ProviderAcquireOptions): Promise<Lease<R>>;
}

/** The parts of a run every context of it shares. */
export interface ContextRun<Shared> {
  readonly shared: Shared;
  readonly runId: string;
  readonly resources: ResourcePool;
  readonly params: Readonly<Record<string, unknown>>;
}

/**
 * @internal Where a context finds its scope: the node execution, which opens it on first use,
 * and can tell whether the node is aborted without opening it; or an `exec` attempt's
 * `AttemptScope`.
 */
export interface ScopeHolder {
  readonly scope: Scope;
  /** The signal of contexts that have no narrower one. */
  readonly signal: AbortSignal;
  aborted(): boolean;
}

/**
 * @internal The runtime's context. `scope`, `signal` and `owner` are created only when a node
 * reads them (most never do); `signal` is the scope's unless the context has a narrower one of its
 * own (a parallel batch item's). Being getters on the prototype, they are not copied by an object
 * spread.
 */
export class RunContext<Shared = unknown> implements NodeContext<Shared> {
  readonly shared: Shared;
  readonly runId: string;
  readonly node: string;
  readonly resources: ResourcePool;
  readonly attempt: number;
  readonly params: Readonly<Record<string, unknown>>;
  readonly #holder: ScopeHolder;
  readonly #signal: AbortSignal | undefined;

  constructor(
    run: ContextRun<Shared>,
    node: string,
    holder: ScopeHolder,
    attempt: number,
    signal?: AbortSignal,
  ) {
    this.shared = run.shared;
    this.runId = run.runId;
    this.node = node;
    this.resources = run.resources;
    this.attempt = attempt;
    this.params = run.params;
    this.#holder = holder;
    this.#signal = signal;
  }

  get scope(): Scope {
    return this.#holder.scope;
  }

  get signal(): AbortSignal {
    return this.#signal ?? this.#holder.signal;
  }

  get owner(): LeaseOwner {
    return this.#holder.scope.owner;
  }

  acquire<R>(providerName: string, options: ProviderAcquireOptions = {}): Promise<Lease<R>> {
    // The scope already follows its own signal; only a narrower one (a batch item's) needs
    // linking in.
    const signal = this.#signal;
    const { scope } = this.#holder;
    if (signal === undefined) return scope.acquire<R>(providerName, options);
    const link = linkSignals([signal, options.signal]);
    // Object.assign, not a spread followed by a key: that literal is slow on Node 20.
    const linked: ProviderAcquireOptions = Object.assign({}, options);
    linked.signal = link.signal;
    return scope.acquire<R>(providerName, linked).finally(link.dispose);
  }

  /** The same context for one `exec` attempt, optionally under a narrower signal. */
  static forAttempt<Shared>(
    ctx: NodeContext<Shared>,
    attempt: number,
    signal?: AbortSignal,
  ): RunContext<Shared> {
    if (!(ctx instanceof RunContext)) {
      return new RunContext(ctx, ctx.node, foreignHolder(ctx), attempt, signal ?? ctx.signal);
    }
    return new RunContext(ctx, ctx.node, ctx.#holder, attempt, signal ?? ctx.#signal);
  }

  /** @internal The context of `exec` attempt `attempt`, with a scope of its own. */
  static openAttempt<Shared>(ctx: NodeContext<Shared>, attempt: number): AttemptScope<Shared> {
    if (!(ctx instanceof RunContext)) {
      return new AttemptScope(ctx, foreignHolder(ctx), attempt, ctx.signal);
    }
    return new AttemptScope(ctx, ctx.#holder, attempt, ctx.#signal);
  }

  /** Whether `ctx.signal` is aborted, without creating a scope or a signal to find out. */
  static aborted(ctx: NodeContext<unknown>): boolean {
    if (!(ctx instanceof RunContext)) return ctx.signal.aborted;
    const signal = ctx.#signal;
    return signal === undefined ? ctx.#holder.aborted() : signal.aborted;
  }
}

/** A holder for a context the runtime did not make (a user calling a node's methods directly). */
function foreignHolder(ctx: NodeContext<unknown>): ScopeHolder {
  return {
    get scope() {
      return ctx.scope;
    },
    get signal() {
      return ctx.signal;
    },
    aborted: () => ctx.signal.aborted,
  };
}

/**
 * @internal The scope of one `exec` attempt of a node that retries or has a fallback: a child of
 * the node's scope, opened when the attempt first reads `ctx.scope` or `ctx.owner` or borrows.
 * `ctx.signal` stays the node's (or the batch item's), so work an attempt hands on is not cut
 * short when the attempt's scope closes.
 *
 * - `fail(error)`: the attempt failed. Its scope closes with the error: leases still out are
 *   destroyed (the attempt may have broken them), its cleanups run, and a retry can borrow again.
 * - `succeed()`: the attempt's result stands. A scope that still holds something (a lease, a
 *   cleanup, a child) stays open and closes with the node's, so what exec hands to `post` stays
 *   usable; one that holds nothing is closed now, so a batch of many items does not collect one
 *   per item. From then on, the context uses the node's scope.
 */
export class AttemptScope<Shared> implements ScopeHolder {
  /** The attempt's context, for `exec`. */
  readonly ctx: RunContext<Shared>;
  readonly #parent: ScopeHolder;
  readonly #name: string;
  #scope: Scope | undefined;
  #ended: 'failed' | 'succeeded' | undefined;

  constructor(
    run: ContextRun<Shared> & { readonly node: string },
    parent: ScopeHolder,
    attempt: number,
    signal: AbortSignal | undefined,
  ) {
    this.#parent = parent;
    this.#name = `${run.node} attempt ${attempt}`;
    this.ctx = new RunContext(run, run.node, this, attempt, signal);
  }

  get scope(): Scope {
    if (this.#scope !== undefined) return this.#scope;
    const parent = this.#parent.scope;
    if (this.#ended === 'succeeded') return parent;
    // A context kept past a failed attempt, or past the node, gets a closed scope.
    const gone = this.#ended === 'failed' || parent.closed;
    this.#scope = gone ? closed(parent, this.#name) : parent.child(this.#name);
    return this.#scope;
  }

  get signal(): AbortSignal {
    return this.#parent.signal;
  }

  aborted(): boolean {
    const scope = this.#scope;
    return scope === undefined ? this.#parent.aborted() : scope[scopeAborted]();
  }

  /**
   * The attempt failed with `error`: close its scope with it. Returns the closing, or undefined
   * when the scope was never opened or closed with nothing to do; the closing rejects with a
   * `CleanupError` that keeps `error` when a cleanup failed too.
   */
  fail(error: unknown): Promise<void> | undefined {
    this.#ended = 'failed';
    return this.#scope?.[closeScope](error);
  }

  /** The attempt succeeded; see the class. */
  succeed(): void {
    this.#ended = 'succeeded';
    const scope = this.#scope;
    if (scope === undefined || scope.closed || !scope[scopeIdle]()) return;
    this.#scope = undefined;
    // Nothing to undo, so nothing can fail.
    scope.close().catch(noop);
  }
}

function noop(): void {}

/** A closed scope named `name`, with the owner a child of `parent` would have. */
function closed(parent: Scope, name: string): Scope {
  const owner: LeaseOwner = Object.assign({}, parent.owner);
  owner.scope = name;
  const scope = new Scope(name, { owner });
  void scope.close();
  return scope;
}
