import { afterEach, describe, expect, it } from 'vitest';
import {
  AbortedError,
  type EventName,
  Graph,
  Node,
  type NodeContext,
  NodeTimeoutError,
  RouteNotFoundError,
  subscribeAll,
} from '../src/index.js';

interface Trail {
  count: number;
  visited: string[];
}

/** Every phase `async`, like a node that does I/O; post adds one and returns `action`. */
class AsyncStep extends Node<Trail, number, number> {
  constructor(
    name: string,
    private readonly action?: string,
    timeoutMs = 0,
  ) {
    super({ name, timeoutMs });
  }

  override async prep(ctx: NodeContext<Trail>) {
    return ctx.shared.count;
  }

  override async exec(count: number) {
    return count + 1;
  }

  override async post(ctx: NodeContext<Trail>, _input: number, count: number) {
    ctx.shared.count = count;
    ctx.shared.visited.push(this.name);
    return this.action;
  }
}

const newTrail = (): Trail => ({ count: 0, visited: [] });

const stops: (() => void)[] = [];
afterEach(() => {
  for (const stop of stops.splice(0)) stop();
});

describe('nodes with async phases', () => {
  it('walks a chain, publishing each node start and end in order with its action', async () => {
    const seen: string[] = [];
    stops.push(
      subscribeAll((payload, name: EventName) => {
        if (!name.startsWith('node:')) return;
        const event = payload as { node: string; action?: string; durationMs?: number };
        seen.push(`${name} ${event.node}${event.action === undefined ? '' : ` ${event.action}`}`);
        if (event.durationMs !== undefined) expect(event.durationMs).toBeGreaterThanOrEqual(0);
      }),
    );
    const first = new AsyncStep('a');
    first.next(new AsyncStep('b')).next(new AsyncStep('c', 'finished'));
    const shared = newTrail();

    const result = await new Graph(first).run(shared);

    expect(result.status).toBe('ok');
    expect(result.steps).toBe(3);
    expect(result.lastAction).toBe('finished');
    expect(shared.count).toBe(3);
    expect(seen).toEqual([
      'node:start a',
      'node:end a default',
      'node:start b',
      'node:end b default',
      'node:start c',
      'node:end c finished',
    ]);
  });

  it('fails with RouteNotFoundError when an async node returns an action with no edge', async () => {
    const first = new AsyncStep('a', 'nowhere');
    first.on('elsewhere', new AsyncStep('b'));

    const result = await new Graph(first).run(newTrail());

    expect(result.status).toBe('error');
    expect(RouteNotFoundError.isInstance(result.error)).toBe(true);
    expect((result.error as Error).message).toContain('"nowhere"');
  });

  it('routes a nested graph of async nodes on the action of its last node', async () => {
    const inner = new AsyncStep('inner-a');
    inner.next(new AsyncStep('inner-b', 'left'));
    const nested = new Graph(inner, { name: 'nested' });
    nested.on('left', new AsyncStep('after-left'));
    nested.on('right', new AsyncStep('after-right'));
    const shared = newTrail();

    const result = await new Graph(nested).run(shared);

    expect(result.status).toBe('ok');
    expect(shared.visited).toEqual(['inner-a', 'inner-b', 'after-left']);
    expect(result.steps).toBe(4);
  });

  it('hands an async exec failure to execFallback, also without retries', async () => {
    class Fails extends AsyncStep {
      override async exec(): Promise<number> {
        throw new Error('exec failed');
      }
    }
    class FallsBack extends Fails {
      override async execFallback(input: number, error: unknown, ctx: NodeContext<Trail>) {
        ctx.shared.visited.push(`fallback ${ctx.attempt} ${(error as Error).message}`);
        return input + 10;
      }
    }
    const shared = newTrail();

    const fallback = await new Graph(new FallsBack('f')).run(shared);
    const plain = await new Graph(new Fails('p')).run(newTrail());

    expect(fallback.status).toBe('ok');
    expect(shared.visited).toEqual(['fallback 1 exec failed', 'f']);
    expect(shared.count).toBe(10);
    expect(plain.status).toBe('error');
    expect((plain.error as Error).message).toBe('exec failed');
  });

  it('gives exec attempt 1 and the other phases attempt 0', async () => {
    const attempts: number[] = [];
    class Records extends Node {
      override async prep(ctx: NodeContext) {
        attempts.push(ctx.attempt);
      }

      override async exec(_input: unknown, ctx: NodeContext) {
        attempts.push(ctx.attempt);
      }

      override async post(ctx: NodeContext) {
        attempts.push(ctx.attempt);
      }
    }

    await new Graph(new Records()).run({});

    expect(attempts).toEqual([0, 1, 0]);
  });

  it('ends a cut-short phase once, ignoring its late rejection', async () => {
    const controller = new AbortController();
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    stops.push(() => process.off('unhandledRejection', onUnhandled));
    const nodeEnds: string[] = [];
    stops.push(
      subscribeAll((_payload, name: EventName) => {
        if (name === 'node:end' || name === 'node:error') nodeEnds.push(name);
      }),
    );
    class RejectsLate extends AsyncStep {
      override exec(): Promise<number> {
        setImmediate(() => controller.abort());
        return new Promise((_resolve, reject) => {
          setTimeout(() => reject(new Error('too late')), 10);
        });
      }
    }
    const first = new RejectsLate('late');
    first.next(new AsyncStep('never'));
    const shared = newTrail();

    const result = await new Graph(first).run(shared, { signal: controller.signal });
    await new Promise((resolve) => setTimeout(resolve, 30));

    expect(result.status).toBe('aborted');
    expect(AbortedError.isInstance(result.error)).toBe(true);
    expect(shared.visited).toEqual([]);
    expect(nodeEnds).toEqual(['node:error']);
    expect(unhandled).toEqual([]);
  });

  it('starts the next node only once the previous node has cleaned up', async () => {
    const order: string[] = [];
    class SlowCleanup extends AsyncStep {
      override cleanupResources() {
        return new Promise<void>((resolve) =>
          setTimeout(() => {
            order.push(`${this.name} cleaned up`);
            resolve();
          }, 5),
        );
      }

      override async prep(ctx: NodeContext<Trail>) {
        order.push(`${this.name} prep`);
        return super.prep(ctx);
      }
    }
    class SyncWithCleanup extends Node<Trail> {
      override prep() {
        order.push(`${this.name} prep`);
      }

      override cleanupResources() {
        return Promise.resolve().then(() => {
          order.push(`${this.name} cleaned up`);
        });
      }
    }
    const first = new SlowCleanup('a');
    first
      .next(new SyncWithCleanup({ name: 'b' }))
      .next(new SlowCleanup('c'));

    const result = await new Graph(first).run(newTrail());

    expect(result.status).toBe('ok');
    expect(order).toEqual(['a prep', 'a cleaned up', 'b prep', 'b cleaned up', 'c prep', 'c cleaned up']);
  });

  it('times out an async node in the middle of a chain, and runs no node after it', async () => {
    class Stuck extends AsyncStep {
      override exec(): Promise<number> {
        return new Promise<never>(() => {});
      }
    }
    const first = new AsyncStep('a');
    first.next(new Stuck('stuck', undefined, 20)).next(new AsyncStep('c'));
    const shared = newTrail();

    const result = await new Graph(first).run(shared);

    expect(result.status).toBe('timeout');
    expect(NodeTimeoutError.isInstance(result.error)).toBe(true);
    expect(shared.visited).toEqual(['a']);
  });

  it('cuts short a nested graph whose own post waits, when the run is aborted', async () => {
    const controller = new AbortController();
    class SlowPost extends Graph<Trail> {
      override post(): Promise<string> {
        setImmediate(() => controller.abort());
        return new Promise<never>(() => {});
      }
    }
    const nested = new SlowPost(new AsyncStep('inner'), { name: 'nested' });
    nested.next(new AsyncStep('after'));
    const shared = newTrail();

    const result = await new Graph(nested).run(shared, { signal: controller.signal });

    expect(result.status).toBe('aborted');
    expect(AbortedError.isInstance(result.error)).toBe(true);
    expect(shared.visited).toEqual(['inner']);
  });

  it('runs a long cycle of async nodes without growing the stack', async () => {
    const laps = 20_000;
    class Lap extends AsyncStep {
      override async post(ctx: NodeContext<Trail>, _input: number, count: number) {
        ctx.shared.count = count;
        return count < laps ? 'again' : 'done';
      }
    }
    const lap = new Lap('lap');
    lap.on('again', lap);
    const shared = newTrail();

    const result = await new Graph(lap, { allowUnrouted: true }).run(shared);

    expect(result.status).toBe('ok');
    expect(result.steps).toBe(laps);
    expect(shared.count).toBe(laps);
  });
});
