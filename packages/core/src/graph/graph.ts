import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import {
  AbortedError,
  CleanupError,
  ConfigInvalidError,
  NodeTimeoutError,
  RouteNotFoundError,
  abortError,
} from '../errors.js';
import { type KayGraphEvents, type RunStatus, errorInfo, eventChannel } from '../events.js';
import { ResourcePool } from '../resource-pool.js';
import { type Scope, closeScope, watchScopeAbort } from '../scope.js';
import { linkSignals } from '../signals.js';
import {
  checkBoolean,
  checkInteger,
  checkObject,
  checkString,
  describeValue,
  rejectUnknownKeys,
} from '../validate.js';
import { type NodeContext, RunContext } from './context.js';
import {
  type AnyNode,
  type NextAction,
  Node,
  type NodeOptions,
  execPhase,
  execPhaseEndsOnAbort,
} from './node.js';
import {
  type NodeWaiter,
  type RunState,
  type WaitingNode,
  eventTime,
  runNode,
  runNodeFor,
  startDeadline,
} from './run-node.js';
import { followSignal } from './signal-followers.js';

/** Options of a graph. */
export interface GraphOptions extends Pick<NodeOptions, 'name' | 'timeoutMs'> {
  /**
   * When a node returns an action it has no edge for, end the run there instead of failing it
   * with `RouteNotFoundError`. Default false: an unrouted action is almost always a wiring bug.
   */
  allowUnrouted?: boolean;
}

/** Options of one run. */
export interface RunOptions {
  /** The providers nodes borrow from. Default: an empty pool (acquires fail, `defer` works). */
  resources?: ResourcePool;
  /** Cancels the run: every phase, retry wait and acquire sees it. */
  signal?: AbortSignal;
  /** Longest the whole run may take, in ms; 0 means no limit. Default 0. */
  timeoutMs?: number;
  /** Identifies the run in events and lease owners. Default: a random UUID. */
  runId?: string;
  /** Read-only values every node sees as `ctx.params`. Default: `{}`. */
  params?: Record<string, unknown>;
}

/** How a run ended. `graph.run` returns it instead of throwing for a failed node. */
export interface RunResult {
  /**
   * `ok`; `timeout` when the run or a node ran out of time; `aborted` when the run's signal
   * aborted; `error` for any other failure.
   */
  status: RunStatus;
  /** Why the run did not end `ok`. A cleanup failure after it is kept in a `CleanupError`. */
  error?: unknown;
  runId: string;
  durationMs: number;
  /** The action the last finished node chose (`'default'` when its `post` returned nothing). */
  lastAction: string | undefined;
  /** Node executions, counting nested graphs and the nodes inside them (not the root graph). */
  steps: number;
}

const graphOptionKeys = ['name', 'timeoutMs', 'allowUnrouted'] as const;
/** `ctx.params` of every run started without params. Frozen, like the copy of given ones. */
const noParams: Readonly<Record<string, unknown>> = Object.freeze({});
const runOptionKeys = ['resources', 'signal', 'timeoutMs', 'runId', 'params'] as const;
// Kept rather than looked up by name on every run, like the node event channels.
const runStartChannel = eventChannel('run:start');
const runEndChannel = eventChannel('run:end');

/**
 * A graph of nodes, walked from `start` along the actions each node's `post` returns. It ends at
 * a node with no edges. A graph is itself a node, so graphs nest: as a node it runs its inner
 * nodes in its own scope and, by default, its `post` hands on the action its last node chose.
 *
 * @example
 * const read = new ReadNode();
 * read.next(new TransformNode()).next(new WriteNode());
 * const graph = new Graph(read, { name: 'export' });
 * const result = await graph.run(shared, { resources, signal });
 * if (result.status !== 'ok') console.error(result.error);
 */
export class Graph<Shared = unknown> extends Node<Shared, unknown, string> {
  static override readonly optionKeys: readonly string[] = graphOptionKeys;

  /** The first node of every run. */
  readonly start: AnyNode;
  /** See `GraphOptions.allowUnrouted`. */
  readonly allowUnrouted: boolean;

  constructor(start: AnyNode, options: GraphOptions = {}) {
    super(options);
    const where = `graph "${this.name}"`;
    if (!(start instanceof Node)) {
      throw new ConfigInvalidError(`${where}: start must be a node, got ${describeValue(start)}`);
    }
    this.start = start;
    const { allowUnrouted } = checkObject(where, options);
    this.allowUnrouted = checkBoolean(where, 'allowUnrouted', allowUnrouted, false);
  }

  /** Hands on the action the graph's last node chose, so an enclosing graph can route on it. */
  override post(
    _ctx: NodeContext<Shared>,
    _input: unknown,
    lastAction: string,
  ): NextAction | Promise<NextAction> {
    return lastAction;
  }

  /** @internal See `execPhaseEndsOnAbort`. */
  override get [execPhaseEndsOnAbort](): boolean {
    return true;
  }

  /** @internal A graph's exec phase walks its nodes; `exec` and retries do not apply. */
  override [execPhase](
    _input: unknown,
    ctx: NodeContext<Shared>,
    run: RunState,
  ): string | Promise<string> {
    return walk(this, ctx as NodeContext, run);
  }

  /**
   * Run the graph on `shared`. Never throws for a failing node: the result says how the run ended.
   * Rejects only for invalid options. Every lease the run took is back when this resolves.
   */
  async run(shared: Shared, options: RunOptions = {}): Promise<RunResult> {
    const checked = checkRunOptions(options);
    const runId = checked.runId ?? randomUUID();
    const started = performance.now();
    const startedAt = Date.now();
    const resources = checked.resources ?? new ResourcePool();
    const deadline =
      checked.timeoutMs > 0
        ? startDeadline(checked.timeoutMs, `run of graph "${this.name}"`)
        : undefined;
    const link =
      deadline === undefined ? undefined : linkSignals([checked.signal, deadline.signal]);
    const signal = link === undefined ? checked.signal : link.signal;
    const scope = resources.scope(`run:${this.name}`, { owner: { runId } });
    const followers = followSignal(signal, scope);
    const run: RunState = {
      runId,
      shared,
      resources,
      params: checked.params === undefined ? noParams : Object.freeze({ ...checked.params }),
      steps: 0,
      lastAction: undefined,
      epochOffset: startedAt - started,
      endedAt: Number.NaN,
    };
    if (runStartChannel.hasSubscribers) {
      runStartChannel.publish({
        runId,
        graph: this.name,
        time: startedAt,
      } satisfies KayGraphEvents['run:start']);
    }

    // Awaited only when they did not finish synchronously: a graph of synchronous nodes runs
    // without a single tick.
    let failed = false;
    let failure: unknown;
    try {
      const action = runNode(this, run, scope, true, started);
      if (typeof action !== 'string') await action;
    } catch (error) {
      failed = true;
      failure = error;
    } finally {
      deadline?.clear();
    }
    followers?.leave(scope);
    try {
      const closing = scope[closeScope](failed ? failure : undefined);
      if (closing !== undefined) await closing;
    } catch (error) {
      failed = true;
      failure = error;
    }
    link?.dispose();

    const ended = performance.now();
    const durationMs = ended - started;
    const status: RunStatus = failed ? statusOf(failure, checked.signal) : 'ok';
    if (runEndChannel.hasSubscribers) {
      runEndChannel.publish({
        runId,
        graph: this.name,
        time: eventTime(run, ended),
        durationMs,
        status,
        ...(failed ? { error: errorInfo(failure) } : {}),
      } satisfies KayGraphEvents['run:end']);
    }
    return {
      status,
      ...(failed ? { error: failure } : {}),
      runId,
      durationMs,
      lastAction: run.lastAction,
      steps: run.steps,
    };
  }
}

/**
 * Walk from the start node until a node without an edge for its action ends the graph. While the
 * nodes run synchronously, so does the walk: it returns the last action as is, no promise, no
 * tick. From the first node that goes on asynchronously, a `GraphWalk` continues.
 */
function walk(graph: Graph<unknown>, ctx: NodeContext, run: RunState): string | Promise<string> {
  const { scope } = ctx;
  const walker = new GraphWalk(graph, ctx, run, scope);
  let node: AnyNode = graph.start;
  let startedAt = Number.NaN;
  for (;;) {
    if (RunContext.aborted(ctx)) throw abortError(ctx.signal, `graph "${graph.name}"`);
    walker.node = node;
    const action = runNodeFor(walker, node, run, scope, startedAt);
    if (action === undefined) return walker.outcome();
    const next = nextNode(graph, node, action);
    if (next === undefined) return action;
    node = next;
    // The node ended just now, in this same synchronous stretch: the next one starts then.
    startedAt = run.endedAt;
  }
}

/**
 * The rest of a walk, from the first node that goes on asynchronously: each node that ends later
 * calls back here, and the walk goes on from that callback, so a node costs the graph no promise
 * and no await of its own. One promise stands for the rest of the walk, and one watcher on the
 * graph's scope passes its abort on to whichever node is waiting.
 */
class GraphWalk implements NodeWaiter {
  /** The node running now. */
  node: AnyNode;
  #promise: Promise<string> | undefined;
  #resolve: (action: string) => void = noop;
  #reject: (error: unknown) => void = noop;
  #waiting: WaitingNode | undefined;
  #unwatch: (() => void) | undefined;

  constructor(
    readonly graph: Graph<unknown>,
    readonly ctx: NodeContext,
    readonly run: RunState,
    /** The graph's scope, which its nodes run under. */
    readonly scope: Scope,
  ) {
    this.node = graph.start;
  }

  watchParentFor(node: WaitingNode): boolean {
    this.#waiting = node;
    this.#unwatch ??= this.scope[watchScopeAbort](() => this.#waiting?.parentAborted());
    return true;
  }

  /** How the walk ends. Made when the first node goes on asynchronously (or fails while at it). */
  outcome(): Promise<string> {
    this.#promise ??= new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    return this.#promise;
  }

  nodeEnded(ended: string, endedAt: number): void {
    const { graph, ctx, run, scope } = this;
    let action = ended;
    // The node ended just now, in this same synchronous stretch (or NaN: it did not).
    let startedAt = endedAt;
    try {
      for (;;) {
        const next = nextNode(graph, this.node, action);
        if (next === undefined) {
          this.#settle(false, action);
          return;
        }
        this.node = next;
        if (RunContext.aborted(ctx)) throw abortError(ctx.signal, `graph "${graph.name}"`);
        const result = runNodeFor(this, next, run, scope, startedAt);
        if (result === undefined) return;
        action = result;
        startedAt = run.endedAt;
      }
    } catch (error) {
      this.#settle(true, error);
    }
  }

  nodeFailed(error: unknown): void {
    this.#settle(true, error);
  }

  #settle(failed: boolean, value: unknown): void {
    this.#unwatch?.();
    this.#unwatch = undefined;
    this.#waiting = undefined;
    void this.outcome();
    if (failed) this.#reject(value);
    else this.#resolve(value as string);
  }
}

function noop(): void {}

/** The node `action` leads to from `node`, or undefined where the graph ends. */
function nextNode(graph: Graph<unknown>, node: AnyNode, action: string): AnyNode | undefined {
  const next: AnyNode | undefined = node.successors.get(action);
  if (next !== undefined) return next;
  if (node.successors.size > 0 && !graph.allowUnrouted) throw routeNotFound(graph, node, action);
  return undefined;
}

function routeNotFound(graph: Graph<unknown>, node: AnyNode, action: string): RouteNotFoundError {
  const known = [...node.successors.keys()].map((a) => `"${a}"`).join(', ');
  return new RouteNotFoundError(
    `graph "${graph.name}": node "${node.name}" returned action "${action}", which has no edge ` +
      `(known actions: ${known}); wire it with .on("${action}", node) or build the graph with ` +
      'allowUnrouted: true',
  );
}

function statusOf(error: unknown, signal: AbortSignal | undefined): RunStatus {
  // A cleanup failure says nothing about how the run ended; the error it kept does.
  let primary = error;
  while (CleanupError.isInstance(primary)) primary = primary.suppressed;
  if (NodeTimeoutError.isInstance(primary)) return 'timeout';
  if (signal?.aborted === true || AbortedError.isInstance(primary)) return 'aborted';
  return 'error';
}

interface CheckedRunOptions {
  resources: ResourcePool | undefined;
  signal: AbortSignal | undefined;
  timeoutMs: number;
  runId: string | undefined;
  params: Record<string, unknown> | undefined;
}

function checkRunOptions(options: RunOptions): CheckedRunOptions {
  const where = 'graph.run options';
  const checked = checkObject(where, options);
  rejectUnknownKeys(where, checked, runOptionKeys);
  const { resources, signal, params } = checked;
  if (resources !== undefined && !(resources instanceof ResourcePool)) {
    throw new ConfigInvalidError(
      `${where}: option "resources" must be a ResourcePool, got ${describeValue(resources)}`,
    );
  }
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new ConfigInvalidError(
      `${where}: option "signal" must be an AbortSignal, got ${describeValue(signal)}`,
    );
  }
  return {
    resources,
    signal,
    timeoutMs: checkInteger(where, 'timeoutMs', checked.timeoutMs, 0, { min: 0 }),
    runId: checked.runId === undefined ? undefined : checkString(where, 'runId', checked.runId),
    params: params === undefined ? undefined : checkObject(`${where}: option "params"`, params),
  };
}
