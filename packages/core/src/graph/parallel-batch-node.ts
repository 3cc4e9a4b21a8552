import { AbortedError, abortError } from '../errors.js';
import { linkSignals, newController } from '../signals.js';
import { checkInteger, checkObject } from '../validate.js';
import { BatchNode, batchItems } from './batch-node.js';
import { type NodeContext, RunContext } from './context.js';
import { Node, type NodeOptions, execPhase, execWithRetry } from './node.js';
import type { RunState } from './run-node.js';

/** Options of a parallel batch node. */
export interface ParallelBatchNodeOptions extends NodeOptions {
  /** Most items in flight at once. Default 4. */
  concurrency?: number;
}

/**
 * A batch node that runs up to `concurrency` items at once. Results keep item order. When an
 * item fails (after its own retries and fallback), no new item starts, the items in flight are
 * aborted through their `ctx.signal`, and once they have settled the node fails with that first
 * error. Each item counts its own attempts.
 */
export class ParallelBatchNode<
  Shared = unknown,
  Item = unknown,
  ItemResult = unknown,
> extends BatchNode<Shared, Item, ItemResult> {
  static override readonly optionKeys: readonly string[] = [...Node.optionKeys, 'concurrency'];

  /** See `ParallelBatchNodeOptions.concurrency`. */
  readonly concurrency: number;

  constructor(options: ParallelBatchNodeOptions = {}) {
    super(options);
    const { concurrency } = checkObject(`${this.name} options`, options);
    this.concurrency = checkInteger(`${this.name} options`, 'concurrency', concurrency, 4, {
      min: 1,
    });
  }

  /** @internal Run items on `concurrency` workers; the first failure stops the rest. */
  override async [execPhase](
    items: Item[],
    ctx: NodeContext<Shared>,
    _run: RunState,
  ): Promise<ItemResult[]> {
    const list = batchItems(this, items);
    const results = new Array<ItemResult>(list.length);
    const stop = newController();
    const link = linkSignals([ctx.signal, stop.signal]);
    const itemCtx = RunContext.forAttempt(ctx, 0, link.signal);
    // An object, not two lets: the workers write it from closures the compiler cannot follow.
    const batch: { next: number; failure?: { error: unknown } } = { next: 0 };

    const worker = async () => {
      while (batch.failure === undefined && !link.signal.aborted && batch.next < list.length) {
        const index = batch.next++;
        try {
          results[index] = await execWithRetry(this, list[index] as Item, itemCtx);
        } catch (error) {
          if (batch.failure !== undefined) continue;
          batch.failure = { error };
          stop.abort(
            new AbortedError(`batch node "${this.name}": item ${index} failed`, { cause: error }),
          );
        }
      }
    };
    const workers = Math.min(this.concurrency, list.length);
    try {
      await Promise.all(Array.from({ length: workers }, worker));
    } finally {
      link.dispose();
    }

    if (batch.failure !== undefined) throw batch.failure.error;
    // Aborted between items: no item failed, but the batch did not finish either.
    if (link.signal.aborted) throw abortError(link.signal, `batch node "${this.name}"`);
    return results;
  }
}
