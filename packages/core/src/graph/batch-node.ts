import { isPromiseLike } from '../signals.js';
import type { NodeContext } from './context.js';
import { Node, execPhase, execWithRetry } from './node.js';
import type { RunState } from './run-node.js';

/**
 * A node whose `prep` returns a list and whose `exec` runs once per item, one item after another,
 * in order. Each item gets its own retries (`maxRetries`, `retryDelayMs`, `execFallback`);
 * `post` receives the results in item order.
 *
 * @example
 * class Resize extends BatchNode<Shared, string, string> {
 *   override prep(ctx) { return ctx.shared.paths; }
 *   override async exec(path, ctx) { return resize(path, { signal: ctx.signal }); }
 *   override post(ctx, _paths, outputs) { ctx.shared.outputs = outputs; }
 * }
 */
export class BatchNode<Shared = unknown, Item = unknown, ItemResult = unknown> extends Node<
  Shared,
  Item[],
  ItemResult[],
  Item,
  ItemResult
> {
  /** @internal Run `exec` (with retries) for each item in turn. */
  override async [execPhase](
    items: Item[],
    ctx: NodeContext<Shared>,
    _run: RunState,
  ): Promise<ItemResult[]> {
    const results: ItemResult[] = [];
    for (const item of batchItems(this, items)) {
      const result = execWithRetry(this, item, ctx);
      results.push(isPromiseLike(result) ? await result : result);
    }
    return results;
  }
}

/** The items `prep` returned: an array, or nothing for an empty batch. */
export function batchItems<Item>(node: Node, items: Item[] | null | undefined): Item[] {
  if (items === undefined || items === null) return [];
  if (!Array.isArray(items)) {
    throw new TypeError(`batch node "${node.name}": prep must return an array, got ${typeof items}`);
  }
  return items;
}
