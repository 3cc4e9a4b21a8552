import type { LeaseOwner } from '../events.js';
import type { Lease, ProviderAcquireOptions } from '../resource.js';
import type { ResourcePool } from '../resource-pool.js';
import type { Scope } from '../scope.js';
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
  /** The node execution's scope: `defer` cleanups here; leases taken through it cannot leak. */
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
   * Borrow from a provider through the node's scope, cancelled by `signal`. A lease not returned
   * by the end of the node is released and reported as a leak.
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
 * and can tell whether the node is aborted without opening it.
 */
export interface ScopeHolder {
  readonly scope: Scope;
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
    return this.#signal ?? this.#holder.scope.signal;
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
      const holder = { scope: ctx.scope, aborted: () => ctx.signal.aborted };
      return new RunContext(ctx, ctx.node, holder, attempt, signal ?? ctx.signal);
    }
    return new RunContext(ctx, ctx.node, ctx.#holder, attempt, signal ?? ctx.#signal);
  }

  /** Whether `ctx.signal` is aborted, without creating a scope or a signal to find out. */
  static aborted(ctx: NodeContext<unknown>): boolean {
    if (!(ctx instanceof RunContext)) return ctx.signal.aborted;
    const signal = ctx.#signal;
    return signal === undefined ? ctx.#holder.aborted() : signal.aborted;
  }
}
