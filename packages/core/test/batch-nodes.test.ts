import { describe, expect, it } from 'vitest';
import {
  AbortedError,
  BatchNode,
  ConfigInvalidError,
  Graph,
  type NodeContext,
  ParallelBatchNode,
} from '../src/index.js';
import { aborted } from './support/test-provider.js';

interface Shared {
  items: number[];
  results?: number[];
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

/** Counts items in flight and remembers the most seen at once. */
class Gauge {
  now = 0;
  max = 0;

  enter() {
    this.now++;
    this.max = Math.max(this.max, this.now);
  }

  leave() {
    this.now--;
  }
}

describe('BatchNode', () => {
  it('runs items one at a time, in order, and hands post the results in order', async () => {
    const gauge = new Gauge();
    const started: number[] = [];
    class Double extends BatchNode<Shared, number, number> {
      override prep(ctx: NodeContext<Shared>) {
        return ctx.shared.items;
      }

      override async exec(item: number) {
        gauge.enter();
        started.push(item);
        await tick();
        gauge.leave();
        return item * 2;
      }

      override post(ctx: NodeContext<Shared>, _items: number[], results: number[]) {
        ctx.shared.results = results;
      }
    }
    const shared: Shared = { items: [3, 1, 2] };

    const result = await new Graph(new Double()).run(shared);

    expect(result.status).toBe('ok');
    expect(started).toEqual([3, 1, 2]);
    expect(shared.results).toEqual([6, 2, 4]);
    expect(gauge.max).toBe(1);
  });

  it('treats a prep that returns nothing as an empty batch and rejects a non-array', async () => {
    class Empty extends BatchNode<Shared, number, number> {
      override post(ctx: NodeContext<Shared>, _items: number[], results: number[]) {
        ctx.shared.results = results;
      }
    }
    class NotAList extends BatchNode {
      override prep() {
        return 'abc' as unknown as unknown[];
      }
    }
    const shared: Shared = { items: [] };

    const empty = await new Graph(new Empty()).run(shared);
    const wrong = await new Graph(new NotAList()).run({});

    expect(empty.status).toBe('ok');
    expect(shared.results).toEqual([]);
    expect(wrong.status).toBe('error');
    expect(wrong.error).toBeInstanceOf(TypeError);
  });

  it('stops at the first item that fails after its retries', async () => {
    const started: number[] = [];
    class FailsOnTwo extends BatchNode<Shared, number, number> {
      override prep(ctx: NodeContext<Shared>) {
        return ctx.shared.items;
      }

      override exec(item: number) {
        started.push(item);
        if (item === 2) throw new Error('item 2 failed');
        return item;
      }
    }

    const result = await new Graph(new FailsOnTwo({ maxRetries: 1 })).run({ items: [1, 2, 3] });

    expect(result.status).toBe('error');
    expect((result.error as Error).message).toBe('item 2 failed');
    expect(started).toEqual([1, 2, 2]);
  });
});

describe('ParallelBatchNode', () => {
  it('keeps at most `concurrency` items in flight and results in item order', async () => {
    const gauge = new Gauge();
    class Square extends ParallelBatchNode<Shared, number, number> {
      override prep(ctx: NodeContext<Shared>) {
        return ctx.shared.items;
      }

      override async exec(item: number) {
        gauge.enter();
        // Later items finish sooner, so completion order differs from item order.
        for (let i = 0; i < 12 - item; i++) await tick();
        gauge.leave();
        return item * item;
      }

      override post(ctx: NodeContext<Shared>, _items: number[], results: number[]) {
        ctx.shared.results = results;
      }
    }
    const items = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    const shared: Shared = { items };

    const result = await new Graph(new Square({ concurrency: 3 })).run(shared);

    expect(result.status).toBe('ok');
    expect(gauge.max).toBe(3);
    expect(shared.results).toEqual(items.map((n) => n * n));
  });

  it('defaults to four items in flight', async () => {
    const gauge = new Gauge();
    class Slow extends ParallelBatchNode<unknown, number, void> {
      override prep() {
        return [1, 2, 3, 4, 5, 6, 7, 8];
      }

      override async exec() {
        gauge.enter();
        await tick();
        await tick();
        gauge.leave();
      }
    }

    const node = new Slow();
    await new Graph(node).run({});

    expect(node.concurrency).toBe(4);
    expect(gauge.max).toBe(4);
  });

  it('aborts the items in flight on the first failure and fails once they settle', async () => {
    const started: number[] = [];
    const settled: number[] = [];
    const reasons: unknown[] = [];
    const failure = new Error('item 3 failed');
    class FailsOnThree extends ParallelBatchNode<Shared, number, number> {
      override prep(ctx: NodeContext<Shared>) {
        return ctx.shared.items;
      }

      override async exec(item: number, ctx: NodeContext<Shared>): Promise<number> {
        started.push(item);
        try {
          if (item === 3) {
            await tick();
            throw failure;
          }
          reasons.push(await aborted(ctx.signal));
          // Items take a moment to wind down; the node must wait for them.
          await tick();
          throw new Error(`item ${item} stopped`);
        } finally {
          settled.push(item);
        }
      }
    }

    const result = await new Graph(new FailsOnThree({ concurrency: 3 })).run({
      items: [1, 2, 3, 4, 5, 6],
    });

    expect(result.status).toBe('error');
    expect(result.error).toBe(failure);
    expect(started).toEqual([1, 2, 3]);
    expect(settled.sort()).toEqual([1, 2, 3]);
    expect(reasons).toHaveLength(2);
    expect(reasons.every((r) => AbortedError.isInstance(r) && r.cause === failure)).toBe(true);
  });

  it('validates concurrency', () => {
    expect(() => new ParallelBatchNode({ concurrency: 0 })).toThrow(ConfigInvalidError);
    expect(() => new ParallelBatchNode({ concurrency: 2.5 })).toThrow(ConfigInvalidError);
    expect(() => new ParallelBatchNode({ parallel: 2 } as never)).toThrow(ConfigInvalidError);
    expect(() => new BatchNode({ concurrency: 2 } as never)).toThrow(ConfigInvalidError);
    expect(new ParallelBatchNode({ concurrency: 16, maxRetries: 2 }).concurrency).toBe(16);
  });
});
