import { describe, expect, it } from 'vitest';
import { AbortedError, Graph, Node, type NodeContext, ParallelBatchNode } from '../src/index.js';
import { deferred } from './support/test-provider.js';

interface Log {
  phases: string[];
  attempts: number[];
  result?: string;
}

/** Fails `exec` until `succeedOn`, recording each phase and attempt. */
class Flaky extends Node<Log, string, string> {
  constructor(
    private readonly succeedOn: number,
    options: { maxRetries?: number; retryDelayMs?: number } = {},
  ) {
    super({ name: 'flaky', ...options });
  }

  override prep(ctx: NodeContext<Log>) {
    ctx.shared.phases.push('prep');
    return 'input';
  }

  override exec(input: string, ctx: NodeContext<Log>): string | Promise<string> {
    ctx.shared.phases.push('exec');
    ctx.shared.attempts.push(ctx.attempt);
    if (ctx.attempt < this.succeedOn) throw new Error(`attempt ${ctx.attempt} failed`);
    return `${input} ok`;
  }

  override post(ctx: NodeContext<Log>, _input: string, output: string) {
    ctx.shared.phases.push('post');
    ctx.shared.result = output;
  }
}

const newLog = (): Log => ({ phases: [], attempts: [] });

describe('graph retries', () => {
  it('retries exec only, up to maxRetries extra attempts', async () => {
    const log = newLog();

    const result = await new Graph(new Flaky(3, { maxRetries: 2 })).run(log);

    expect(result.status).toBe('ok');
    expect(log.attempts).toEqual([1, 2, 3]);
    expect(log.phases).toEqual(['prep', 'exec', 'exec', 'exec', 'post']);
    expect(log.result).toBe('input ok');
  });

  it('makes one attempt by default and fails with the exec error', async () => {
    const log = newLog();

    const result = await new Graph(new Flaky(2)).run(log);

    expect(result.status).toBe('error');
    expect((result.error as Error).message).toBe('attempt 1 failed');
    expect(log.attempts).toEqual([1]);
    expect(log.phases).toEqual(['prep', 'exec']);
  });

  it('calls execFallback with the last error once attempts are spent', async () => {
    class WithFallback extends Flaky {
      override execFallback(input: string, error: unknown, ctx: NodeContext<Log>) {
        ctx.shared.phases.push('fallback');
        return `${input} fallback after ${(error as Error).message}`;
      }
    }
    const log = newLog();

    const result = await new Graph(new WithFallback(10, { maxRetries: 1 })).run(log);

    expect(result.status).toBe('ok');
    expect(log.phases).toEqual(['prep', 'exec', 'exec', 'fallback', 'post']);
    expect(log.result).toBe('input fallback after attempt 2 failed');
  });

  it('ends the retry wait as soon as the run is aborted', async () => {
    const controller = new AbortController();
    class AbortAfterFailure extends Flaky {
      override exec(input: string, ctx: NodeContext<Log>) {
        // Abort once the failure below has sent the node into its (long) retry wait.
        setImmediate(() => controller.abort());
        return super.exec(input, ctx);
      }
    }
    const log = newLog();
    const node = new AbortAfterFailure(5, { maxRetries: 4, retryDelayMs: 600_000 });

    const result = await new Graph(node).run(log, { signal: controller.signal });

    expect(result.status).toBe('aborted');
    expect(AbortedError.isInstance(result.error)).toBe(true);
    expect(log.attempts).toEqual([1]);
  });

  it('keeps attempt counters per run when one graph runs twice at once', async () => {
    const bothStarted = deferred();
    let started = 0;
    class Interleaved extends Flaky {
      override async exec(input: string, ctx: NodeContext<Log>) {
        if (ctx.attempt === 1 && ++started === 2) bothStarted.resolve();
        // Both runs are inside their first attempt before either moves on.
        await bothStarted.promise;
        await new Promise((resolve) => setImmediate(resolve));
        return super.exec(input, ctx);
      }
    }
    const graph = new Graph(new Interleaved(3, { maxRetries: 2 }));
    const first = newLog();
    const second = newLog();

    const results = await Promise.all([graph.run(first), graph.run(second)]);

    expect(results.map((r) => r.status)).toEqual(['ok', 'ok']);
    expect(first.attempts).toEqual([1, 2, 3]);
    expect(second.attempts).toEqual([1, 2, 3]);
    expect(results[0].runId).not.toBe(results[1].runId);
  });

  it('keeps attempt counters per item in a parallel batch', async () => {
    const attempts = new Map<number, number[]>();
    class Items extends ParallelBatchNode<unknown, number, number> {
      override prep() {
        return [1, 2, 3, 4, 5, 6];
      }

      override async exec(item: number, ctx: NodeContext) {
        attempts.set(item, [...(attempts.get(item) ?? []), ctx.attempt]);
        await new Promise((resolve) => setImmediate(resolve));
        // Odd items fail their first attempt, so attempts of neighbours interleave.
        if (item % 2 === 1 && ctx.attempt === 1) throw new Error(`item ${item} failed`);
        return item * 10;
      }
    }

    const result = await new Graph(new Items({ concurrency: 3, maxRetries: 1 })).run({});

    expect(result.status).toBe('ok');
    expect(Object.fromEntries(attempts)).toEqual({
      1: [1, 2],
      2: [1],
      3: [1, 2],
      4: [1],
      5: [1, 2],
      6: [1],
    });
  });
});
