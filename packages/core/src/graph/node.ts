import { ConfigInvalidError, RetryExhaustedError, abortError, describe } from '../errors.js';
import {
  checkInteger,
  checkObject,
  checkString,
  describeValue,
  rejectUnknownKeys,
} from '../validate.js';
import { attempt, isPromiseLike, sleep } from '../signals.js';
import { type AttemptScope, type NodeContext, RunContext } from './context.js';
import type { RunState } from './run-node.js';

/** Options every node takes. */
export interface NodeOptions {
  /** Name in events, owners, scopes and errors. Default: the class name. */
  name?: string;
  /**
   * Extra `exec` attempts after the first one fails, so `maxRetries: 2` means at most three
   * attempts. Only `exec` is retried; `prep` and `post` run once. A failed attempt's leases are
   * destroyed and its cleanups run before the next attempt (see `Node.exec`). Default 0.
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

  /**
   * Do the work. Retried up to `maxRetries` times; should not touch the shared store.
   *
   * In a node that retries or has an `execFallback`, each attempt borrows through a scope of its
   * own (`ctx.scope`, a child of the node's; `ctx.signal` is still the node's). When an attempt
   * fails, that scope closes with the error before the retry wait: the leases the attempt still
   * holds are destroyed rather than put back (it failed while holding them, so they may be
   * broken) and reported as leaks, and what it deferred runs. So the next attempt can borrow
   * again, even from a pool of one. A successful attempt's leases and cleanups stay until the node
   * ends, like those of any phase, so a lease (or a stream over one) that `exec` returns is still
   * usable in `post`. A node with one attempt and no fallback has no attempt scope: `exec` uses
   * the node's.
   *
   * When every attempt failed the same way (errors of the same class and `code`), the node fails
   * with the last attempt's error; when they differ, with a `RetryExhaustedError` whose `errors`
   * holds each attempt's error, first attempt first.
   */
  exec(_input: ExecInput, _ctx: NodeContext<Shared>): ExecOutput | Promise<ExecOutput> {
    return undefined as ExecOutput;
  }

  /**
   * Runs when the last `exec` attempt failed, after that attempt's scope has closed; its result
   * stands in for exec's. `error` is what the node would fail with (see `exec`), and `ctx.scope`
   * the node's, so what it borrows stays until the node ends. Default: rethrow.
   */
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

    // One attempt and no fallback: nothing needs freeing before another step, so the attempt
    // uses the node's scope. A promise from `exec` is the phase's result as it is: the runtime
    // races it against the abort, so work that fails because it was cancelled is reported as the
    // cancellation, without an async function and an await more.
    try {
      return this.exec(input as unknown as ExecInput, RunContext.forAttempt(ctx, 1));
    } catch (error) {
      throw attemptError(this, ctx, error);
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
 * Each attempt of a node that retries or has a fallback gets a scope of its own (see
 * `AttemptScope`), closed with the error as soon as the attempt fails, before the retry wait
 * and before the fallback. A node with one attempt and no fallback uses `ctx`'s scope.
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
  if (node.maxRetries === 0 && node.execFallback === rethrow) {
    let output: Output | PromiseLike<Output>;
    try {
      output = node.exec(input, RunContext.forAttempt(ctx, 1));
    } catch (error) {
      throw attemptError(node, ctx, error);
    }
    return isPromiseLike(output) ? onlyAttempt(node, ctx, output) : output;
  }

  const first = RunContext.openAttempt(ctx, 1);
  let output: Output | PromiseLike<Output>;
  try {
    output = node.exec(input, first.ctx);
  } catch (error) {
    return retryExec(node, input, ctx, first, { error });
  }
  if (isPromiseLike(output)) return retryExec(node, input, ctx, first, { running: output });
  first.succeed();
  return output;
}

/** The error an attempt failed with, or the abort when the node was aborted meanwhile. */
function attemptError(node: Node, ctx: NodeContext<unknown>, error: unknown): unknown {
  // Work that failed because it was cancelled is reported as the cancellation itself.
  return RunContext.aborted(ctx) ? abortError(ctx.signal, `node "${node.name}"`) : error;
}

/** The one attempt of a batch item with no retries and no fallback, still running. */
async function onlyAttempt<Output>(
  node: Node,
  ctx: NodeContext<unknown>,
  running: PromiseLike<Output>,
): Promise<Output> {
  try {
    return await running;
  } catch (error) {
    throw attemptError(node, ctx, error);
  }
}

/** How the attempt `retryExec` picks up ended so far: it threw, or it is still running. */
type AttemptStart<Output> = { error: unknown; running?: never } | { running: PromiseLike<Output> };

async function retryExec<Shared, Input, Output>(
  node: Node<Shared, unknown, unknown, Input, Output>,
  input: Input,
  ctx: NodeContext<Shared>,
  first: AttemptScope<Shared>,
  start: AttemptStart<Output>,
): Promise<Output> {
  const what = `node "${node.name}"`;
  const errors: unknown[] = [];
  let current = first;
  let running = start.running;
  let error = 'error' in start ? start.error : undefined;
  for (;;) {
    if (running !== undefined) {
      try {
        const output = await running;
        current.succeed();
        return output;
      } catch (failure) {
        error = failure;
      }
    }

    // Before anything else, what the attempt still holds is destroyed and its cleanups run, so
    // that the next attempt, or the fallback, can borrow again.
    const closing = current.fail(error);
    if (closing !== undefined) {
      try {
        await closing;
      } catch (failure) {
        // A `CleanupError` that keeps the attempt's error.
        error = failure;
      }
    }
    if (RunContext.aborted(ctx)) throw abortError(ctx.signal, what);
    errors.push(error);
    if (errors.length > node.maxRetries) {
      const fallbackCtx = RunContext.forAttempt(ctx, errors.length);
      const final = finalError(what, errors);
      return await attempt(() => node.execFallback(input, final, fallbackCtx));
    }
    await sleep(node.retryDelayMs, ctx.signal, `${what} retry wait`);

    if (RunContext.aborted(ctx)) throw abortError(ctx.signal, what);
    current = RunContext.openAttempt(ctx, errors.length + 1);
    const attemptCtx = current.ctx;
    running = attempt(() => node.exec(input, attemptCtx));
  }
}

/**
 * What a node whose every attempt failed fails with: the last attempt's error when all failed
 * with the same kind of error, a `RetryExhaustedError` holding each otherwise, so that an
 * earlier failure is not hidden by a different later one (a retry that timed out waiting for a
 * resource, after a query that failed).
 */
function finalError(what: string, errors: readonly unknown[]): unknown {
  const last = errors[errors.length - 1];
  if (errors.every((error) => sameKind(error, last))) return last;
  const each = errors.map((error, index) => `attempt ${index + 1}: ${describe(error)}`);
  return new RetryExhaustedError(
    `${what} failed ${errors.length} attempts: ${each.join('; ')}`,
    errors,
  );
}

/** Same class and same `code` (for objects), or the same type (for anything else thrown). */
function sameKind(a: unknown, b: unknown): boolean {
  if (typeof a !== 'object' || a === null || typeof b !== 'object' || b === null) {
    return typeof a === typeof b && (a === null) === (b === null);
  }
  const code = (error: object) => (error as { code?: unknown }).code;
  return a.constructor === b.constructor && code(a) === code(b);
}
