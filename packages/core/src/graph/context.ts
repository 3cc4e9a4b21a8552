import type { LeaseOwner } from '../events.js';
import type { AcquireOptions, Lease } from '../resource.js';
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
  acquire<R = unknown>(providerName: string, options?: AcquireOptions): Promise<Lease<R>>;
}

/** The fields of a context; `acquire` is derived from `scope` and `signal`. */
export type ContextFields<Shared> = Omit<NodeContext<Shared>, 'acquire'>;

/** Build a context whose `acquire` goes through `fields.scope` and honours `fields.signal`. */
export function createContext<Shared>(fields: ContextFields<Shared>): NodeContext<Shared> {
  const { scope, signal } = fields;
  return {
    ...fields,
    acquire<R>(providerName: string, options: AcquireOptions = {}): Promise<Lease<R>> {
      // The scope already follows its own signal; only a narrower one (a batch item's) needs
      // linking in.
      if (signal === scope.signal) return scope.acquire<R>(providerName, options);
      const link = linkSignals([signal, options.signal]);
      return scope
        .acquire<R>(providerName, { ...options, signal: link.signal })
        .finally(link.dispose);
    },
  };
}

/** The same context for one `exec` attempt, optionally under a narrower signal. */
export function contextFor<Shared>(
  ctx: NodeContext<Shared>,
  attempt: number,
  signal: AbortSignal = ctx.signal,
): NodeContext<Shared> {
  const { acquire: _acquire, ...fields } = ctx;
  return createContext({ ...fields, attempt, signal });
}
