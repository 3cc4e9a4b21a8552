import { describe, expect, it } from 'vitest';
import {
  AbortedError,
  AcquireTimeoutError,
  CleanupError,
  Graph,
  type Lease,
  Node,
  type NodeContext,
  type NodeOptions,
  ParallelBatchNode,
  ResourcePool,
  RetryExhaustedError,
  type Scope,
} from '../src/index.js';
import { Factory, type Thing, collect, makePool } from './support/pool-factory.js';
import { TestProvider } from './support/test-provider.js';

interface Log {
  steps: string[];
}

const newLog = (): Log => ({ steps: [] });

/** The trial's pool: one resource, and an acquire that gives up after 2 s. */
function poolOfOne(factory: Factory) {
  const pool = makePool(factory, { name: 'db', max: 1, acquireTimeoutMs: 2000 });
  return { pool, resources: new ResourcePool().add(pool) };
}

/** Borrows in `exec`, never gives the lease back, and fails until attempt `succeedOn`. */
class Borrower extends Node<Log, undefined, number> {
  constructor(
    readonly succeedOn: number,
    options: NodeOptions = {},
  ) {
    super({ name: 'borrower', ...options });
  }

  override async exec(_input: undefined, ctx: NodeContext<Log>): Promise<number> {
    const lease = await ctx.acquire<Thing>('db');
    ctx.shared.steps.push(`attempt ${ctx.attempt} got ${lease.resource.id}`);
    if (ctx.attempt < this.succeedOn) throw new Error('transient failure');
    await lease.release();
    return lease.resource.id;
  }
}

describe('retries and the scope of each attempt', () => {
  it("lets a retry borrow the one resource a failed attempt kept (the trial's repro)", async () => {
    const factory = new Factory();
    const { pool, resources } = poolOfOne(factory);
    const log = newLog();

    const result = await new Graph(new Borrower(2, { maxRetries: 2 })).run(log, { resources });

    expect(result.status).toBe('ok');
    // Attempt 1's resource was destroyed, not put back: attempt 2 got a new one.
    expect(log.steps).toEqual(['attempt 1 got 1', 'attempt 2 got 2']);
    expect(factory.made.map((thing) => thing.destroyed)).toEqual([1, 0]);
    const stats = pool.stats();
    expect(stats).toMatchObject({ created: 2, destroyed: 1, leaks: 1, acquireTimeouts: 0 });
    expect(stats).toMatchObject({ acquired: 2, released: 2, inUse: 0, waiting: 0 });
  });

  it("fails with the attempts' own error when all fail, not an acquire timeout", async () => {
    const factory = new Factory();
    const { pool, resources } = poolOfOne(factory);
    const log = newLog();

    const result = await new Graph(new Borrower(99, { maxRetries: 2 })).run(log, { resources });

    expect(result.status).toBe('error');
    expect(AcquireTimeoutError.isInstance(result.error)).toBe(false);
    expect((result.error as Error).message).toBe('transient failure');
    expect(log.steps).toEqual(['attempt 1 got 1', 'attempt 2 got 2', 'attempt 3 got 3']);
    expect(pool.stats()).toMatchObject({ created: 3, destroyed: 3, leaks: 3, inUse: 0 });
  });

  it('needs one resource per attempt from a pool of two (max 2, maxRetries 3)', async () => {
    const factory = new Factory();
    const pool = makePool(factory, { name: 'db', max: 2, acquireTimeoutMs: 2000 });
    const resources = new ResourcePool().add(pool);
    const log = newLog();

    const result = await new Graph(new Borrower(4, { maxRetries: 3 })).run(log, { resources });

    expect(result.status).toBe('ok');
    expect(log.steps).toHaveLength(4);
    expect(pool.stats()).toMatchObject({ acquireTimeouts: 0, destroyed: 3, leaks: 3, inUse: 0 });
  });

  it("keeps every attempt's error when the attempts failed differently", async () => {
    const factory = new Factory();
    const { resources } = poolOfOne(factory);
    // Someone else takes the only resource as soon as attempt 1 lets it go, so attempt 2 times
    // out: its cleanup queues that acquire just before attempt 1's lease is destroyed.
    let outsider: Promise<Lease<Thing>> | undefined;
    class Unlucky extends Node<Log> {
      override async exec(_input: unknown, ctx: NodeContext<Log>) {
        if (ctx.attempt === 1) {
          await ctx.acquire('db');
          ctx.scope.defer(() => {
            outsider = resources.get('db').acquire() as Promise<Lease<Thing>>;
          });
          throw new TypeError('query failed');
        }
        await ctx.acquire('db', { timeoutMs: 20 });
      }
    }

    const result = await new Graph(new Unlucky({ maxRetries: 1 })).run(newLog(), { resources });
    await (await outsider)?.release();

    expect(result.status).toBe('error');
    expect(RetryExhaustedError.isInstance(result.error)).toBe(true);
    const error = result.error as RetryExhaustedError;
    expect(error.code).toBe('KG_RETRY_EXHAUSTED');
    expect(error.errors).toHaveLength(2);
    expect((error.errors[0] as Error).message).toBe('query failed');
    expect(AcquireTimeoutError.isInstance(error.errors[1])).toBe(true);
    expect(error.cause).toBe(error.errors[1]);
    expect(error.message).toContain('attempt 1: TypeError: query failed');
  });

  it('runs the cleanups a failed attempt deferred before the next attempt starts', async () => {
    class Defers extends Node<Log> {
      override exec(_input: unknown, ctx: NodeContext<Log>) {
        ctx.shared.steps.push(`exec ${ctx.attempt}`);
        ctx.scope.defer(() => ctx.shared.steps.push(`cleanup ${ctx.attempt}`));
        if (ctx.attempt < 3) throw new Error(`attempt ${ctx.attempt} failed`);
      }
      override post(ctx: NodeContext<Log>) {
        ctx.shared.steps.push('post');
      }
    }
    const log = newLog();

    const result = await new Graph(new Defers({ maxRetries: 2, retryDelayMs: 1 })).run(log);

    expect(result.status).toBe('ok');
    // The successful attempt's cleanup stays until the node ends, after post.
    expect(log.steps).toEqual([
      'exec 1',
      'cleanup 1',
      'exec 2',
      'cleanup 2',
      'exec 3',
      'post',
      'cleanup 3',
    ]);
  });

  it('closes the failed attempt before an aborted retry wait ends the node', async () => {
    const provider = new TestProvider({ max: 1 });
    const resources = new ResourcePool().add(provider);
    const controller = new AbortController();
    let attemptScope: Scope | undefined;
    class WaitsLong extends Node<Log> {
      override async exec(_input: unknown, ctx: NodeContext<Log>) {
        attemptScope = ctx.scope;
        await ctx.acquire('test');
        ctx.scope.defer(() => {
          ctx.shared.steps.push('cleanup');
          // The node is in its retry wait now.
          setImmediate(() => controller.abort());
        });
        throw new Error('failed');
      }
    }
    const log = newLog();
    const node = new WaitsLong({ maxRetries: 3, retryDelayMs: 600_000 });

    const result = await new Graph(node).run(log, { resources, signal: controller.signal });

    expect(result.status).toBe('aborted');
    expect(AbortedError.isInstance(result.error)).toBe(true);
    expect(log.steps).toEqual(['cleanup']);
    expect(attemptScope?.closed).toBe(true);
    expect(provider.returns).toEqual(['destroy:1']);
    expect(provider.stats()).toMatchObject({ inUse: 0, leaks: 1 });
  });

  it("keeps a successful attempt's lease for post, and releases it at the node's end", async () => {
    const provider = new TestProvider({ max: 1 });
    const resources = new ResourcePool().add(provider);
    const seen: { returned: boolean; id: number }[] = [];
    class HandsOn extends Node<Log, undefined, Lease<{ id: number }>> {
      override async exec(_input: undefined, ctx: NodeContext<Log>) {
        const lease = await ctx.acquire<{ id: number }>('test');
        if (ctx.attempt === 1) throw new Error('first try failed');
        return lease;
      }
      override post(_ctx: NodeContext<Log>, _input: undefined, lease: Lease<{ id: number }>) {
        seen.push({ returned: lease.returned, id: lease.resource.id });
      }
    }

    const result = await new Graph(new HandsOn({ maxRetries: 1 })).run(newLog(), { resources });

    expect(result.status).toBe('ok');
    expect(seen).toEqual([{ returned: false, id: 1 }]);
    // Attempt 1's lease destroyed at once; attempt 2's released (after a clean end) at the end.
    expect(provider.returns).toEqual(['destroy:1', 'release:1']);
    expect(provider.stats()).toMatchObject({ inUse: 0, leaks: 2 });
  });

  it("destroys a successful attempt's lease when post then fails", async () => {
    const provider = new TestProvider({ max: 1 });
    const resources = new ResourcePool().add(provider);
    class PostFails extends Node<Log> {
      override async exec(_input: unknown, ctx: NodeContext<Log>) {
        await ctx.acquire('test');
      }
      override post(): undefined {
        throw new Error('post failed');
      }
    }

    const result = await new Graph(new PostFails({ maxRetries: 1 })).run(newLog(), { resources });

    expect(result.status).toBe('error');
    expect(provider.returns).toEqual(['destroy:1']);
  });

  it('runs execFallback after the last attempt closed, borrowing via the node scope', async () => {
    const provider = new TestProvider({ max: 1 });
    const resources = new ResourcePool().add(provider);
    class Falls extends Node<Log, undefined, number> {
      override async exec(_input: undefined, ctx: NodeContext<Log>): Promise<number> {
        await ctx.acquire('test');
        ctx.scope.defer(() => ctx.shared.steps.push(`cleanup ${ctx.attempt}`));
        throw new Error(`attempt ${ctx.attempt} failed`);
      }
      override async execFallback(_input: undefined, error: unknown, ctx: NodeContext<Log>) {
        ctx.shared.steps.push(`fallback ${ctx.attempt} after ${(error as Error).message}`);
        const lease = await ctx.acquire<{ id: number }>('test', { timeoutMs: 50 });
        return lease.resource.id;
      }
      override post(ctx: NodeContext<Log>, _input: undefined, id: number) {
        ctx.shared.steps.push(`post ${id}`);
      }
    }
    const log = newLog();

    const result = await new Graph(new Falls({ maxRetries: 1 })).run(log, { resources });

    expect(result.status).toBe('ok');
    expect(log.steps).toEqual([
      'cleanup 1',
      'cleanup 2',
      'fallback 2 after attempt 2 failed',
      'post 1',
    ]);
    expect(provider.returns).toEqual(['destroy:1', 'destroy:1', 'release:1']);
  });

  it('closes the attempt with a fallback and no retries, before the fallback', async () => {
    const provider = new TestProvider({ max: 1 });
    const resources = new ResourcePool().add(provider);
    let inUseInFallback = -1;
    class OneTry extends Node<Log> {
      override async exec(_input: unknown, ctx: NodeContext<Log>) {
        await ctx.acquire('test');
        throw new Error('failed');
      }
      override execFallback() {
        inUseInFallback = provider.stats().inUse;
        return 'fallback';
      }
    }

    const result = await new Graph(new OneTry()).run(newLog(), { resources });

    expect(result.status).toBe('ok');
    expect(inUseInFallback).toBe(0);
  });

  it('keeps the error of a failed attempt whose cleanup also failed', async () => {
    const broken = new Error('cleanup broke');
    class BadCleanup extends Node<Log> {
      override exec(_input: unknown, ctx: NodeContext<Log>) {
        ctx.scope.defer(() => {
          throw broken;
        });
        throw new Error('exec failed');
      }
    }

    const result = await new Graph(new BadCleanup({ maxRetries: 1 })).run(newLog());

    expect(result.status).toBe('error');
    expect(CleanupError.isInstance(result.error)).toBe(true);
    const error = result.error as CleanupError;
    expect(error.error).toBe(broken);
    expect((error.suppressed as Error).message).toBe('exec failed');
  });

  it('gives a node without retries or fallback no attempt scope', async () => {
    const scopes: Record<string, Scope> = {};
    class Plain extends Node<Log> {
      override exec(_input: unknown, ctx: NodeContext<Log>) {
        scopes.exec = ctx.scope;
      }
      override post(ctx: NodeContext<Log>) {
        scopes.post = ctx.scope;
      }
    }
    class Retrying extends Plain {}

    await new Graph(new Plain()).run(newLog());
    const plain = { ...scopes };
    await new Graph(new Retrying({ maxRetries: 1 })).run(newLog());

    expect(plain.exec).toBe(plain.post);
    expect(scopes.exec).not.toBe(scopes.post);
    expect(scopes.exec?.name).toBe('Retrying attempt 1');
  });

  it('puts the run and the node on the leases of an attempt, for the monitor', async () => {
    const acquired = collect('resource:acquire');
    const factory = new Factory();
    const { resources } = poolOfOne(factory);

    const result = await new Graph(new Borrower(2, { maxRetries: 1 })).run(newLog(), {
      resources,
      runId: 'run-7',
    });

    expect(result.status).toBe('ok');
    expect(acquired.map((event) => event.owner)).toEqual([
      { runId: 'run-7', node: 'borrower', scope: 'borrower attempt 1' },
      { runId: 'run-7', node: 'borrower', scope: 'borrower attempt 2' },
    ]);
  });

  it('closes a successful attempt that holds nothing, keeps one that holds a lease', async () => {
    const provider = new TestProvider({ max: 4 });
    const resources = new ResourcePool().add(provider);
    const scopes = new Map<number, Scope>();
    class Items extends ParallelBatchNode<Log, number, number> {
      override prep() {
        return [1, 2, 3, 4];
      }
      override async exec(item: number, ctx: NodeContext<Log>) {
        const lease = await ctx.acquire<{ id: number }>('test');
        scopes.set(item, ctx.scope);
        // Even items keep their lease until the node ends.
        if (item % 2 === 1) await lease.release();
        return item;
      }
      override post(ctx: NodeContext<Log>) {
        const open = [...scopes].filter(([, scope]) => !scope.closed).map(([item]) => item);
        ctx.shared.steps.push(`open in post: ${open.sort().join(',')}`);
      }
    }
    const log = newLog();

    const result = await new Graph(new Items({ maxRetries: 1 })).run(log, { resources });

    expect(result.status).toBe('ok');
    expect(log.steps).toEqual(['open in post: 2,4']);
    expect([...scopes.values()].every((scope) => scope.closed)).toBe(true);
    expect(provider.stats()).toMatchObject({ inUse: 0, leaks: 2 });
  });
});
