import { ConfigInvalidError, abortError } from '../errors.js';
import {
  checkInteger,
  checkObject,
  checkString,
  describeValue,
  rejectUnknownKeys,
} from '../validate.js';
import { attempt, isPromiseLike, sleep } from '../signals.js';
import { type NodeContext, RunContext } from './context.js';
import type { RunState } from './run-node.js';

/** Options every node takes. */
export interface NodeOptions {
  /** Name in events, owners, scopes and errors. Default: the class name. */
  name?: string;
  /**
   * Extra `exec` attempts after the first one fails, so `maxRetries: 2` means at most three
   * attempts. Only `exec` is retried; `prep` and `post` run once. Default 0.
   */
  maxRetries?: number;
  /** Wait between `exec` attempts, in ms; the wait ends early if the node is aborted. Default 0. */
  retryDelayMs?: number;
  /**
   * Longest the node may take, from `setupResources` to the end of `post`, in ms. When it runs
   * out, the node's signal aborts with `NodeTimeoutError` and the node fails with it (cleanup still
   * runs). 0 means no limit. Default 0.
   */
  timeoutMs?: number;
}

/** A node of any type, as edges and graphs hold them. */
// biome-ignore lint/suspicious/noExplicitAny: edges accept nodes of every shape; each checks its own
export type AnyNode = Node<any, any, any, any, any>;

/** What `post` returns: an action name, or nothing for `'default'`. */
// biome-ignore lint/suspicious/noConfusingVoidType: a post override that returns nothing infers void
export type NextAction = string | undefined | void;

/** The action a node takes when `post` returns nothing. */
export const DEFAULT_ACTION = 'default';

/**
 * @internal How the runtime runs a node's exec phase. `Node` retries `exec`; batch nodes run it per
 * item; a graph runs its nodes. Not part of the public API.
 */
export const execPhase: unique symbol = Symbol('kaygraph.execPhase');

/**
 * @internal Whether a node's exec phase ends by itself as soon as its scope aborts, so the runtime
 * need not race it against the abort. True for a graph: it checks between nodes, and every phase
 * of every node it walks is raced already. Not part of the public API.
 */
export const execPhaseEndsOnAbort: unique symbol = Symbol('kaygraph.execPhaseEndsOnAbort');

const nodeOptionKeys = ['name', 'maxRetries', 'retryDelayMs', 'timeoutMs'] as const;

/**
 * One step of a graph. Override `prep` (read the shared store), `exec` (do the work; the only
 * phase that is retried) and `post` (write results back and return the next action). Wire edges
 * with `next` and `on`. The runtime calls `setupResources` before `prep` and `cleanupResources`
 * after `post`, however the node ends.
 *
 * `ExecInput` and `ExecOutput` are what one `exec` call takes and returns; they differ from
 * `PrepResult` and `ExecResult` only in batch nodes, where `exec` sees one item at a time.
 *
 * @example
 * class Summarize extends Node<{ text: string; summary?: string }, string, string> {
 *   override prep(ctx) { return ctx.shared.text; }
 *   override async exec(text, ctx) { return summarize(text, { signal: ctx.signal }); }
 *   override post(ctx, _text, summary) { ctx.shared.summary = summary; return 'done'; }
 * }
 */
export class Node<
  Shared = unknown,
  PrepResult = unknown,
  ExecResult = unknown,
  ExecInput = PrepResult,
  ExecOutput = ExecResult,
> {
  /** Option keys the constructor accepts; subclasses with more options extend the list. */
  static readonly optionKeys: readonly string[] = nodeOptionKeys;

  /** See `NodeOptions.name`. */
  readonly name: string;
  /** See `NodeOptions.maxRetries`. */
  readonly maxRetries: number;
  /** See `NodeOptions.retryDelayMs`. */
  readonly retryDelayMs: number;
  /** See `NodeOptions.timeoutMs`. */
  readonly timeoutMs: number;
  readonly #successors = new Map<string, AnyNode>();

  constructor(options: NodeOptions = {}) {
    const className = new.target.name || 'Node';
    const where = `${className} options`;
    const checked = checkObject(where, options);
    rejectUnknownKeys(where, checked, (new.target as typeof Node).optionKeys);
    this.name = checkString(where, 'name', checked.name, className);
    this.maxRetries = checkInteger(where, 'maxRetries', checked.maxRetries, 0, { min: 0 });
    this.retryDelayMs = checkInteger(where, 'retryDelayMs', checked.retryDelayMs, 0, { min: 0 });
    this.timeoutMs = checkInteger(where, 'timeoutMs', checked.timeoutMs, 0, { min: 0 });
  }

  /** Read what the node needs from the shared store. Default: nothing. */
  prep(_ctx: NodeContext<Shared>): PrepResult | Promise<PrepResult> {
    return undefined as PrepResult;
  }

  /** Do the work. Retried up to `maxRetries` times; should not touch the shared store. */
  exec(_input: ExecInput, _ctx: NodeContext<Shared>): ExecOutput | Promise<ExecOutput> {
    return undefined as ExecOutput;
  }

  /** Runs when the last `exec` attempt failed; its result stands in for exec's. Default: rethrow. */
  execFallback(
    _input: ExecInput,
    error: unknown,
    _ctx: NodeContext<Shared>,
  ): ExecOutput | Promise<ExecOutput> {
    throw error;
  }

  /**
   * Write results back and choose where to go: return an action name, or nothing for
   * `'default'`. Default: nothing.
   */
  post(
    _ctx: NodeContext<Shared>,
    _input: PrepResult,
    _output: ExecResult,
  ): NextAction | Promise<NextAction> {
    return undefined;
  }

  /**
   * Acquire what the node holds for its whole execution. Called before `prep`. Leases taken with
   * `ctx.acquire` and cleanups registered with `ctx.scope.defer` are returned even if this throws
   * halfway; `cleanupResources` runs only if this completed.
   */
  setupResources(_ctx: NodeContext<Shared>): void | Promise<void> {}

  /**
   * Return what `setupResources` took. Called on success, error, timeout and abort, after the
   * cleanups deferred later than setup and before those deferred during it (reverse order). Its
   * error never hides the node's own. `ctx.signal` is already aborted here.
   */
  cleanupResources(_ctx: NodeContext<Shared>): void | Promise<void> {}

  /** Wire the default action to `node`, and return `node` so chains read left to right. */
  next<N extends AnyNode>(node: N): N {
    return this.on(DEFAULT_ACTION, node);
  }

  /** Wire `action` to `node`, and return `node`. Wiring one action twice is refused. */
  on<N extends AnyNode>(action: string, node: N): N {
    checkString(`node "${this.name}" edge`, 'action', action);
    if (!(node instanceof Node)) {
      throw new ConfigInvalidError(
        `node "${this.name}": edge "${action}" must lead to a node, got ${describeValue(node)}`,
      );
    }
    const existing = this.#successors.get(action);
    if (existing !== undefined && existing !== node) {
      throw new ConfigInvalidError(
        `node "${this.name}": action "${action}" already leads to node "${existing.name}"`,
      );
    }
    this.#successors.set(action, node);
    return node;
  }

  /** The edges leaving this node, by action. */
  get successors(): ReadonlyMap<string, AnyNode> {
    return this.#successors;
  }

  /** @internal See `execPhaseEndsOnAbort`. */
  get [execPhaseEndsOnAbort](): boolean {
    return false;
  }

  /**
   * @internal Run the exec phase: `exec` with retries and fallback. Returns the phase's result,
   * or a promise of it when the phase did not finish synchronously.
   */
  [execPhase](input: PrepResult, ctx: NodeContext<Shared>, _run: RunState): unknown {
    // The runtime checked for an abort just before calling this.
    if (this.maxRetries > 0 || this.execFallback !== rethrow) {
      return execWithRetry(this, input as unknown as ExecInput, ctx, true);
    }

    // One attempt and no fallback: a promise from `exec` is the phase's result as it is. The
    // runtime races it against the abort, so work that fails because it was cancelled is reported
    // as the cancellation, as `retryExec` would, without an async function and an await more.
    const attemptCtx = RunContext.forAttempt(ctx, 1);
    try {
      return this.exec(input as unknown as ExecInput, attemptCtx);
    } catch (error) {
      return retryExec(this, input as unknown as ExecInput, ctx, { attemptNo: 1, attemptCtx, error });
    }
  }
}

/** The base class's `execFallback`, which rethrows: a node that keeps it has no fallback. */
const rethrow = Node.prototype.execFallback;

/**
 * Call `exec` until it succeeds or `maxRetries` extra attempts are spent, then `execFallback`.
 * The attempt count is a local of this call, so concurrent runs and parallel batch items each
 * count their own. An abort ends it at once, without fallback.
 *
 * A first attempt that returns (or throws) synchronously is settled synchronously, so the common
 * case costs no promise; anything asynchronous continues in `retryExec`. `abortChecked` skips the
 * first abort check, for a caller that has just made it.
 */
export function execWithRetry<Shared, Input, Output>(
  node: Node<Shared, unknown, unknown, Input, Output>,
  input: Input,
  ctx: NodeContext<Shared>,
  abortChecked = false,
): Output | Promise<Output> {
  if (!abortChecked && RunContext.aborted(ctx)) {
    throw abortError(ctx.signal, `node "${node.name}"`);
  }
  const attemptCtx = RunContext.forAttempt(ctx, 1);
  let output: Output | PromiseLike<Output>;
  try {
    output = node.exec(input, attemptCtx);
  } catch (error) {
    return retryExec(node, input, ctx, { attemptNo: 1, attemptCtx, error });
  }
  if (!isPromiseLike(output)) return output;
  return retryExec(node, input, ctx, { attemptNo: 1, attemptCtx, running: output });
}

/** Where `retryExec` picks up: the attempt that threw, or the one still running. */
interface AttemptState<Shared, Output> {
  attemptNo: number;
  attemptCtx: NodeContext<Shared>;
  error?: unknown;
  running?: PromiseLike<Output>;
}

async function retryExec<Shared, Input, Output>(
  node: Node<Shared, unknown, unknown, Input, Output>,
  input: Input,
  ctx: NodeContext<Shared>,
  state: AttemptState<Shared, Output>,
): Promise<Output> {
  const what = `node "${node.name}"`;
  let { attemptNo, attemptCtx, error } = state;
  let running = state.running;
  for (;;) {
    if (running !== undefined) {
      try {
        return await running;
      } catch (failure) {
        error = failure;
      }
    }
    // Work that failed because it was cancelled is reported as the cancellation itself.
    if (RunContext.aborted(ctx)) throw abortError(ctx.signal, what);
    if (attemptNo > node.maxRetries) {
      return await attempt(() => node.execFallback(input, error, attemptCtx));
    }
    await sleep(node.retryDelayMs, ctx.signal, `${what} retry wait`);

    attemptNo++;
    if (RunContext.aborted(ctx)) throw abortError(ctx.signal, what);
    attemptCtx = RunContext.forAttempt(ctx, attemptNo);
    running = attempt(() => node.exec(input, attemptCtx));
  }
}
