import { performance } from 'node:perf_hooks';
import { NodeTimeoutError, abortError } from '../errors.js';
import { type KayGraphEvents, type LeaseOwner, errorInfo, eventChannel } from '../events.js';
import type { ResourcePool } from '../resource-pool.js';
import { Scope, closeScope, scopeAborted, watchScopeAbort } from '../scope.js';
import { isPromiseLike, newController } from '../signals.js';
import { RunContext, type ScopeHolder } from './context.js';
import { type AnyNode, DEFAULT_ACTION, Node, execPhase, execPhaseEndsOnAbort } from './node.js';

/** @internal What one run shares between its node executions. Lives only as long as the run. */
export interface RunState {
  readonly runId: string;
  readonly shared: unknown;
  readonly resources: ResourcePool;
  readonly params: Readonly<Record<string, unknown>>;
  /** Node executions so far, nested ones included, the root graph not. */
  steps: number;
  /** The action the most recently finished node chose. */
  lastAction: string | undefined;
  /** `Date.now() - performance.now()` at the start of the run; see `eventTime`. */
  readonly epochOffset: number;
  /**
   * The `performance.now()` reading the node that finished last took for its `node:end` or
   * `node:error` event, or NaN when it took none. See `runNode`'s `startedAt`.
   */
  endedAt: number;
}

/**
 * The `time` of a node event, in ms since the epoch, from a `performance.now()` reading the node
 * takes anyway for `durationMs`: the run's start anchors the monotonic clock to the wall clock.
 * It is at most 1 ms below what `Date.now()` would say (and ignores wall-clock steps during the
 * run), and it saves two clock reads per node, which on a VM cost more than the rest of an event.
 */
export function eventTime(run: RunState, now: number): number {
  return Math.floor(run.epochOffset + now);
}

/** A timer that aborts a signal with `NodeTimeoutError`; `clear()` stops it. */
export interface Deadline {
  readonly signal: AbortSignal;
  clear(): void;
}

/** Start a deadline of `ms` milliseconds, or none when `ms` is 0. */
export function startDeadline(ms: number, what: string): Deadline | undefined {
  if (ms <= 0) return undefined;
  const controller = newController();
  const timer = setTimeout(() => {
    controller.abort(new NodeTimeoutError(`${what} timed out after ${ms} ms`));
  }, ms);
  return { signal: controller.signal, clear: () => clearTimeout(timer) };
}

const noop = () => {};
const noCleanup = Node.prototype.cleanupResources;

// Kept rather than looked up by name: every node checks them.
const nodeStartChannel = eventChannel('node:start');
const nodeEndChannel = eventChannel('node:end');
const nodeErrorChannel = eventChannel('node:error');

// The phases of a node, in order.
const SETUP = 0;
const PREP = 1;
const EXEC = 2;
const POST = 3;

/**
 * @internal Told how a node execution that went on asynchronously ended: with its action, or
 * with the error it failed with. Told once, and must not throw. `nodeEnded` is always called from
 * a later promise reaction; `nodeFailed` may be called before `runNodeFor` returns, for a node
 * found aborted as it began to wait.
 */
export interface NodeWaiter {
  /**
   * `endedAt` is the `performance.now()` reading the node ended with (see `RunState.endedAt`)
   * when it ended just now, in the same synchronous stretch as this call; NaN otherwise.
   */
  nodeEnded(action: string, endedAt: number): void;
  nodeFailed(error: unknown): void;
  /**
   * Pass an abort of the scope the node runs under on to `node.parentAborted()` from now on, so
   * the node need not watch that scope itself; true if the waiter does. A graph walking its nodes
   * watches its scope once for all of them.
   */
  watchParentFor(node: WaitingNode): boolean;
}

/** @internal A node execution waiting for a phase, as its `NodeWaiter` sees it. */
export interface WaitingNode {
  /**
   * The scope the node runs under has aborted: a phase being waited for is cut short, unless the
   * node has opened a scope of its own, which tells it instead.
   */
  parentAborted(): void;
}

/** The waiter of `runNode`'s callers, who take a promise. */
class PromisedAction implements NodeWaiter {
  readonly promise: Promise<string>;
  nodeEnded: (action: string, endedAt: number) => void = noop;
  nodeFailed: (error: unknown) => void = noop;

  watchParentFor(): boolean {
    return false;
  }

  constructor() {
    this.promise = new Promise((resolve, reject) => {
      this.nodeEnded = resolve;
      this.nodeFailed = reject;
    });
  }
}

/**
 * One execution of a node: what its phases share, from its start to its outcome. Its scope is
 * opened on first use (most nodes never defer, borrow, or read their signal or owner), or at once
 * when the node has a timeout, which aborts it. Until then the parent's scope stands for it.
 *
 * From the first phase that returns a promise on, the execution drives itself with callbacks on
 * each phase's promise rather than through an async function: one reaction per phase, and, from
 * the first wait that is raced against the abort, one abort watcher for the rest of the execution,
 * on the scope or on the parent standing for it (unless the waiter watches the parent already). A
 * phase being waited for is cut short when the watcher fires; its late outcome is dropped.
 */
class NodeExecution implements ScopeHolder, WaitingNode {
  readonly started: number;
  readonly deadline: Deadline | undefined;
  readonly ctx: RunContext;
  input: unknown;
  output: unknown;
  chosen: unknown;
  #scope: Scope | undefined;
  #ended = false;

  // The asynchronous part, set up by `continueAsync`.
  #waiter: NodeWaiter | undefined;
  /** The phase whose promise is being waited for, while `#waiting`. */
  #phase = SETUP;
  /** A phase's promise is being waited for, and nothing has settled it yet. */
  #waiting = false;
  /** The phase being waited for ends when the node aborts (a graph's exec phase need not). */
  #raced = false;
  #onValue: (value: unknown) => void = noop;
  #onError: (error: unknown) => void = noop;
  #onAbort: (() => void) | undefined;
  #unwatch: () => void = noop;
  /** The abort is watched for: from the first raced wait on (a graph's walk is not raced). */
  #watching = false;

  constructor(
    readonly node: AnyNode,
    readonly run: RunState,
    readonly parent: Scope,
    readonly root: boolean,
    startedAt: number,
  ) {
    this.started = Number.isNaN(startedAt) ? performance.now() : startedAt;
    const { name, timeoutMs } = node;
    this.deadline = timeoutMs > 0 ? startDeadline(timeoutMs, `node "${name}"`) : undefined;
    if (this.deadline !== undefined) this.#scope = this.#open(this.deadline.signal);
    this.ctx = new RunContext(run, name, this, 0);
  }

  get scope(): Scope {
    if (this.#scope !== undefined) return this.#scope;
    if (this.#ended) {
      this.#scope = this.#closedScope();
      return this.#scope;
    }
    this.#scope = this.#open(undefined);
    // A phase being waited for was raced against the parent, which stood for the node's scope
    // until now; from now on the node's scope can abort on its own (closed by the node's code).
    if (this.#watching) this.#watch(this.#scope);
    return this.#scope;
  }

  get signal(): AbortSignal {
    return this.scope.signal;
  }

  aborted(): boolean {
    return (this.#scope ?? this.parent)[scopeAborted]();
  }

  /** The error for an abort: the reason of the node's scope, or of the parent standing for it. */
  abortError(): Error {
    return abortError((this.#scope ?? this.parent).signal, `node "${this.node.name}"`);
  }

  /**
   * Go on from `phase`, whose result `pending` has not settled, and tell `waiter` how the node
   * ends. The callbacks of every phase still to wait for are made here, once.
   */
  continueAsync(phase: number, pending: PromiseLike<unknown>, waiter: NodeWaiter): void {
    this.#waiter = waiter;
    this.#onValue = (value) => this.#phaseEnded(value);
    this.#onError = (error) => this.#phaseFailed(error);
    this.#wait(phase, pending);
  }

  parentAborted(): void {
    // A node that opened its own scope hears of the abort from it, once the abort has reached
    // it: its phases must see the parent's reason there, not the close of a node ended first.
    if (this.#scope === undefined) this.#abortWait();
  }

  /** The node is done: a scope opened from now on (by a context kept past the end) is closed. */
  end(): Scope | undefined {
    this.#ended = true;
    // Before the scope closes, so closing it need not build an abort reason for this listener.
    this.#unwatch();
    this.#unwatch = noop;
    return this.#scope;
  }

  #wait(phase: number, pending: PromiseLike<unknown>): void {
    this.#phase = phase;
    this.#waiting = true;
    this.#raced = !(phase === EXEC && this.node[execPhaseEndsOnAbort]);
    // Work that rejects after an abort is still handled here, though nobody waits for it.
    Promise.resolve(pending).then(this.#onValue, this.#onError);
    if (!this.#raced) return;
    if (!this.#watching) this.#startWatching();
    // An abort during the phase's synchronous start came before the watcher could see it.
    if (this.aborted()) this.#abortWait();
  }

  /** Watch the scope, or the parent standing for it, unless the waiter watches the parent. */
  #startWatching(): void {
    this.#watching = true;
    if (this.#scope !== undefined) this.#watch(this.#scope);
    else if (!(this.#waiter as NodeWaiter).watchParentFor(this)) this.#watch(this.parent);
  }

  #phaseEnded(value: unknown): void {
    if (!this.#waiting) return;
    this.#waiting = false;
    let action: string;
    try {
      endPhase(this, this.#phase, value);
      for (let next = this.#phase + 1; next <= POST; next++) {
        const result = startPhase(this, next);
        if (isPromiseLike(result)) {
          this.#wait(next, result);
          return;
        }
        endPhase(this, next, result);
      }
      action = toAction(this.node, this.chosen);
    } catch (error) {
      this.#conclude(true, error, DEFAULT_ACTION);
      return;
    }
    this.#conclude(false, undefined, action);
  }

  #phaseFailed(error: unknown): void {
    if (!this.#waiting) return;
    this.#waiting = false;
    this.#conclude(true, error, DEFAULT_ACTION);
  }

  #abortWait(): void {
    if (!this.#waiting || !this.#raced) return;
    this.#waiting = false;
    this.#conclude(true, this.abortError(), DEFAULT_ACTION);
  }

  #conclude(failed: boolean, failure: unknown, action: string): void {
    const waiter = this.#waiter as NodeWaiter;
    let outcome: string | Promise<string>;
    try {
      outcome = finish(this, failed, failure, action);
    } catch (error) {
      waiter.nodeFailed(error);
      return;
    }
    if (typeof outcome === 'string') {
      waiter.nodeEnded(outcome, this.run.endedAt);
      return;
    }
    outcome.then(
      (ended) => waiter.nodeEnded(ended, Number.NaN),
      (error: unknown) => waiter.nodeFailed(error),
    );
  }

  /** Listen to `scope` from now on, instead of what was listened to before. */
  #watch(scope: Scope): void {
    this.#onAbort ??= () => this.#abortWait();
    this.#unwatch();
    this.#unwatch = scope[watchScopeAbort](this.#onAbort);
  }

  #open(signal: AbortSignal | undefined): Scope {
    const owner = { node: this.node.name };
    return this.parent.child(this.node.name, signal === undefined ? { owner } : { signal, owner });
  }

  #closedScope(): Scope {
    const { name } = this.node;
    const owner: LeaseOwner = Object.assign({}, this.parent.owner);
    owner.node = name;
    owner.scope = name;
    const scope = new Scope(name, { owner });
    void scope.close();
    return scope;
  }
}

/**
 * Execute one node in its own child scope of `parent`: setup, prep, exec phase, post, then the
 * scope closes (running `cleanupResources` and every deferred cleanup, returning leaked leases)
 * however the phases ended. Returns the chosen action, or throws; a cleanup failure after a phase
 * failure fails with a `CleanupError` holding both. The `root` node (the graph a run starts from)
 * publishes no node events and does not count as a step.
 *
 * `startedAt` is a `performance.now()` reading to start from, for a caller that has just taken
 * one; NaN to take a new one. A graph passes the reading its previous node ended with, when that
 * node ended synchronously just before: clock reads are a large part of a trivial node's cost.
 * The node's `durationMs` then also counts the previous node's `node:end` listeners.
 *
 * A phase starts only if the node is not aborted yet; one that returns a promise is raced against
 * the abort, so work that ignores its signal cannot hold the run hostage.
 *
 * This runs for every node of every run, so it makes only what the node uses: no timer without
 * `timeoutMs`, no `AbortSignal` or owner unless the node reads them, and no promise at all while
 * the phases and cleanups return synchronously. Only then is the result a plain string (or a
 * synchronous throw); from the first phase that returns a promise on, it is a promise.
 */
export function runNode(
  node: AnyNode,
  run: RunState,
  parent: Scope,
  root = false,
  startedAt = Number.NaN,
): string | Promise<string> {
  let promised: PromisedAction | undefined;
  const action = execute(node, run, parent, root, startedAt, () => {
    promised = new PromisedAction();
    return promised;
  });
  return action ?? (promised as PromisedAction).promise;
}

/**
 * `runNode` for a caller that goes on from a callback rather than a promise (a graph walking its
 * nodes): returns the action if the node ended synchronously, or throws; otherwise returns
 * undefined, and `waiter` is told how the node ended.
 */
export function runNodeFor(
  waiter: NodeWaiter,
  node: AnyNode,
  run: RunState,
  parent: Scope,
  startedAt: number,
): string | undefined {
  return execute(node, run, parent, false, startedAt, waiter);
}

/** See `runNode`; `waiter` is the waiter, or makes it when the node first waits. */
function execute(
  node: AnyNode,
  run: RunState,
  parent: Scope,
  root: boolean,
  startedAt: number,
  waiter: WaiterOrMaker,
): string | undefined {
  const execution = new NodeExecution(node, run, parent, root, startedAt);
  if (!root) {
    run.steps++;
    if (nodeStartChannel.hasSubscribers) {
      nodeStartChannel.publish({
        runId: run.runId,
        node: node.name,
        time: eventTime(run, execution.started),
      } satisfies KayGraphEvents['node:start']);
    }
  }

  // The phases one by one rather than in a loop: this is the path every synchronous node takes,
  // and spelled out it makes no calls beyond the phases themselves and their checks.
  const { ctx } = execution;
  let action: string;
  try {
    const setup = node.setupResources(ctx);
    if (isPromiseLike(setup)) return goAsync(execution, SETUP, setup, waiter);
    endPhase(execution, SETUP, setup);

    const input = node.prep(ctx);
    if (isPromiseLike(input)) return goAsync(execution, PREP, input, waiter);
    if (execution.aborted()) throw execution.abortError();
    execution.input = input;

    const output = node[execPhase](input, ctx, run);
    if (isPromiseLike(output)) return goAsync(execution, EXEC, output, waiter);
    if (execution.aborted()) throw execution.abortError();
    execution.output = output;

    const chosen = node.post(ctx, input, output);
    if (isPromiseLike(chosen)) return goAsync(execution, POST, chosen, waiter);
    if (execution.aborted()) throw execution.abortError();
    action = toAction(node, chosen);
  } catch (error) {
    return settle(finish(execution, true, error, DEFAULT_ACTION), waiter);
  }
  return settle(finish(execution, false, undefined, action), waiter);
}

type WaiterOrMaker = NodeWaiter | (() => NodeWaiter);

/** Hand the rest of the execution, from `phase` on, to the execution itself. Never throws. */
function goAsync(
  execution: NodeExecution,
  phase: number,
  pending: PromiseLike<unknown>,
  waiter: WaiterOrMaker,
): undefined {
  execution.continueAsync(phase, pending, typeof waiter === 'function' ? waiter() : waiter);
  return undefined;
}

/** The action of a node whose phases ended synchronously, or undefined when its scope closes later. */
function settle(outcome: string | Promise<string>, waiter: WaiterOrMaker): string | undefined {
  if (typeof outcome === 'string') return outcome;
  const told = typeof waiter === 'function' ? waiter() : waiter;
  outcome.then(
    (action) => told.nodeEnded(action, Number.NaN),
    (error: unknown) => told.nodeFailed(error),
  );
  return undefined;
}

function startPhase(execution: NodeExecution, phase: number): unknown {
  const { node, ctx } = execution;
  if (phase === SETUP) return node.setupResources(ctx);
  if (phase === PREP) return node.prep(ctx);
  if (phase === EXEC) return node[execPhase](execution.input, ctx, execution.run);
  return node.post(ctx, execution.input, execution.output);
}

/** Keep what a phase returned; fail instead if the node was aborted meanwhile. */
function endPhase(execution: NodeExecution, phase: number, value: unknown): void {
  const { node, ctx } = execution;
  if (execution.aborted()) throw execution.abortError();
  if (phase === SETUP) {
    // Registered now, so it runs after whatever the phases defer and before what setup deferred.
    // The base class's hook does nothing, so it is not registered at all.
    if (node.cleanupResources !== noCleanup) {
      execution.scope.defer(() => node.cleanupResources(ctx));
    }
  } else if (phase === PREP) {
    execution.input = value;
  } else if (phase === EXEC) {
    execution.output = value;
  } else {
    execution.chosen = value;
  }
}

/** Close the node's scope, publish how the node ended, and return its action or throw. */
function finish(
  execution: NodeExecution,
  failed: boolean,
  failure: unknown,
  action: string,
): string | Promise<string> {
  execution.deadline?.clear();
  const closing = execution.end()?.[closeScope](failed ? failure : undefined);
  if (closing === undefined) return conclude(execution, failed, failure, action);
  return closing.then(
    () => conclude(execution, failed, failure, action),
    (error: unknown) => conclude(execution, true, error, action),
  );
}

function conclude(
  execution: NodeExecution,
  failed: boolean,
  failure: unknown,
  action: string,
): string {
  const { root, run } = execution;
  if (!root) publishOutcome(execution, failed, failure, action);
  if (failed) throw failure;
  if (!root) run.lastAction = action;
  return action;
}

function toAction(node: AnyNode, action: unknown): string {
  if (action === undefined || action === null) return DEFAULT_ACTION;
  if (typeof action === 'string' && action.length > 0) return action;
  throw new TypeError(
    `node "${node.name}": post must return an action name or nothing, got ${typeof action}`,
  );
}

function publishOutcome(
  execution: NodeExecution,
  failed: boolean,
  failure: unknown,
  action: string,
): void {
  const { node, run, started } = execution;
  const channel = failed ? nodeErrorChannel : nodeEndChannel;
  // Checked first, so the clock is read only when someone listens.
  if (!channel.hasSubscribers) {
    run.endedAt = Number.NaN;
    return;
  }
  const now = performance.now();
  run.endedAt = now;
  if (failed) {
    channel.publish({
      runId: run.runId,
      node: node.name,
      time: eventTime(run, now),
      durationMs: now - started,
      error: errorInfo(failure),
    } satisfies KayGraphEvents['node:error']);
    return;
  }
  channel.publish({
    runId: run.runId,
    node: node.name,
    time: eventTime(run, now),
    durationMs: now - started,
    action,
  } satisfies KayGraphEvents['node:end']);
}
