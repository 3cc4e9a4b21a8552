import { performance } from 'node:perf_hooks';
import { NodeTimeoutError } from '../errors.js';
import { errorInfo, publishLazy } from '../events.js';
import type { ResourcePool } from '../resource-pool.js';
import type { Scope } from '../scope.js';
import { attempt, newController, raceAbort } from '../signals.js';
import { type NodeContext, createContext } from './context.js';
import { type AnyNode, DEFAULT_ACTION, execPhase } from './node.js';

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

/**
 * Execute one node in its own child scope of `parent`: setup, prep, exec phase, post, then the
 * scope closes (running `cleanupResources` and every deferred cleanup, returning leaked leases)
 * however the phases ended. Resolves with the chosen action. A cleanup failure after a phase
 * failure rejects with a `CleanupError` holding both.
 */
export async function runNode(
  node: AnyNode,
  run: RunState,
  parent: Scope,
  options: { root?: boolean } = {},
): Promise<string> {
  const started = performance.now();
  const deadline = startDeadline(node.timeoutMs, `node "${node.name}"`);
  const scope = parent.child(node.name, {
    ...(deadline ? { signal: deadline.signal } : {}),
    owner: { node: node.name },
  });
  const ctx = createContext({
    shared: run.shared,
    runId: run.runId,
    node: node.name,
    signal: scope.signal,
    scope,
    resources: run.resources,
    owner: scope.owner,
    attempt: 0,
    params: run.params,
  });
  if (options.root !== true) {
    run.steps++;
    publishLazy('node:start', () => ({ runId: run.runId, node: node.name, time: Date.now() }));
  }

  let failed = false;
  let failure: unknown;
  let action = DEFAULT_ACTION;
  try {
    action = await runPhases(node, ctx, run);
  } catch (error) {
    failed = true;
    failure = error;
  } finally {
    deadline?.clear();
  }
  try {
    await scope.close(failed ? failure : undefined);
  } catch (error) {
    failed = true;
    failure = error;
  }

  if (options.root !== true) publishOutcome(node, run, started, failed, failure, action);
  if (failed) throw failure;
  if (options.root !== true) run.lastAction = action;
  return action;
}

async function runPhases(node: AnyNode, ctx: NodeContext, run: RunState): Promise<string> {
  const { signal } = ctx;
  const what = `node "${node.name}"`;

  await raceAbort(attempt(() => node.setupResources(ctx)), signal, what);
  // Registered now, so it runs after whatever the phases defer and before what setup deferred.
  ctx.scope.defer(() => node.cleanupResources(ctx));

  const input: unknown = await raceAbort(attempt(() => node.prep(ctx)), signal, what);
  const output: unknown = await raceAbort(
    attempt(() => node[execPhase](input, ctx, run)),
    signal,
    what,
  );
  const action: unknown = await raceAbort(
    attempt(() => node.post(ctx, input, output)),
    signal,
    what,
  );
  return toAction(node, action);
}

function toAction(node: AnyNode, action: unknown): string {
  if (action === undefined || action === null) return DEFAULT_ACTION;
  if (typeof action === 'string' && action.length > 0) return action;
  throw new TypeError(
    `node "${node.name}": post must return an action name or nothing, got ${typeof action}`,
  );
}

function publishOutcome(
  node: AnyNode,
  run: RunState,
  started: number,
  failed: boolean,
  failure: unknown,
  action: string,
): void {
  const durationMs = performance.now() - started;
  if (failed) {
    publishLazy('node:error', () => ({
      runId: run.runId,
      node: node.name,
      time: Date.now(),
      durationMs,
      error: errorInfo(failure),
    }));
    return;
  }
  publishLazy('node:end', () => ({
    runId: run.runId,
    node: node.name,
    time: Date.now(),
    durationMs,
    action,
  }));
}
