import { afterEach, describe, expect, it } from 'vitest';
import {
  AbortedError,
  CleanupError,
  Graph,
  type KayGraphEvents,
  type Lease,
  Node,
  type NodeContext,
  NodeTimeoutError,
  ResourcePool,
  ScopeClosedError,
  subscribe,
} from '../src/index.js';
import { TestProvider, type TestResource, aborted } from './support/test-provider.js';

type Mode = 'ok' | 'throw' | 'hang' | 'abort';

interface Shared {
  log: string[];
  controller: AbortController;
}

/** Logs every hook and phase; exec succeeds, throws, or waits for its signal per `mode`. */
class Hooked extends Node<Shared> {
  constructor(
    private readonly mode: Mode,
    options: { timeoutMs?: number } = {},
  ) {
    super({ name: 'hooked', ...options });
  }

  override setupResources(ctx: NodeContext<Shared>) {
    ctx.shared.log.push('setup');
  }

  override prep(ctx: NodeContext<Shared>) {
    ctx.shared.log.push('prep');
  }

  override async exec(_input: unknown, ctx: NodeContext<Shared>) {
    ctx.shared.log.push('exec');
    if (this.mode === 'throw') throw new Error('exec failed');
    if (this.mode === 'abort') ctx.shared.controller.abort();
    if (this.mode !== 'ok') await aborted(ctx.signal);
  }

  override post(ctx: NodeContext<Shared>) {
    ctx.shared.log.push('post');
  }

  override cleanupResources(ctx: NodeContext<Shared>) {
    ctx.shared.log.push('cleanup');
  }
}

async function runHooked(mode: Mode, options: { timeoutMs?: number } = {}) {
  const shared: Shared = { log: [], controller: new AbortController() };
  const result = await new Graph(new Hooked(mode, options)).run(shared, {
    signal: shared.controller.signal,
  });
  return { result, log: shared.log };
}

const stops: (() => void)[] = [];
afterEach(() => {
  for (const stop of stops.splice(0)) stop();
});

describe('setupResources / cleanupResources', () => {
  it('calls setup before prep and cleanup after post on success', async () => {
    const { result, log } = await runHooked('ok');

    expect(result.status).toBe('ok');
    expect(log).toEqual(['setup', 'prep', 'exec', 'post', 'cleanup']);
  });

  it('calls cleanup when exec throws', async () => {
    const { result, log } = await runHooked('throw');

    expect(result.status).toBe('error');
    expect((result.error as Error).message).toBe('exec failed');
    expect(log).toEqual(['setup', 'prep', 'exec', 'cleanup']);
  });

  it('calls cleanup when the node times out', async () => {
    const { result, log } = await runHooked('hang', { timeoutMs: 20 });

    expect(result.status).toBe('timeout');
    expect(NodeTimeoutError.isInstance(result.error)).toBe(true);
    expect(log).toEqual(['setup', 'prep', 'exec', 'cleanup']);
  });

  it('calls cleanup when the run is aborted', async () => {
    const { result, log } = await runHooked('abort');

    expect(result.status).toBe('aborted');
    expect(log).toEqual(['setup', 'prep', 'exec', 'cleanup']);
  });

  it('cleans up in reverse order of setup across a subclass chain and deferred cleanups', async () => {
    class Base extends Node<Shared> {
      override setupResources(ctx: NodeContext<Shared>) {
        ctx.shared.log.push('setup base');
        ctx.scope.defer(() => ctx.shared.log.push('undo base'));
      }
    }
    class Derived extends Base {
      override async setupResources(ctx: NodeContext<Shared>) {
        await super.setupResources(ctx);
        ctx.shared.log.push('setup derived');
      }

      override exec(_input: unknown, ctx: NodeContext<Shared>) {
        ctx.shared.log.push('exec opens a cursor');
        ctx.scope.defer(() => ctx.shared.log.push('close cursor'));
      }

      override cleanupResources(ctx: NodeContext<Shared>) {
        ctx.shared.log.push('undo derived');
      }
    }
    const shared: Shared = { log: [], controller: new AbortController() };

    await new Graph(new Derived()).run(shared);

    expect(shared.log).toEqual([
      'setup base',
      'setup derived',
      'exec opens a cursor',
      'close cursor',
      'undo derived',
      'undo base',
    ]);
  });

  it('keeps the original error when cleanup fails too', async () => {
    class FailsTwice extends Hooked {
      override cleanupResources() {
        throw new Error('cleanup failed');
      }
    }
    const shared: Shared = { log: [], controller: new AbortController() };

    const result = await new Graph(new FailsTwice('throw')).run(shared);

    expect(result.status).toBe('error');
    expect(CleanupError.isInstance(result.error)).toBe(true);
    const error = result.error as CleanupError;
    expect((error.suppressed as Error).message).toBe('exec failed');
    expect((error.error as Error).message).toBe('cleanup failed');
  });

  it('still reports a timeout as a timeout when cleanup fails after it', async () => {
    class SlowAndBroken extends Hooked {
      override cleanupResources() {
        throw new Error('cleanup failed');
      }
    }
    const shared: Shared = { log: [], controller: new AbortController() };

    const result = await new Graph(new SlowAndBroken('hang', { timeoutMs: 20 })).run(shared);

    expect(result.status).toBe('timeout');
    expect(NodeTimeoutError.isInstance((result.error as CleanupError).suppressed)).toBe(true);
  });

  it('reports a timeout under two layers of failed cleanup as a timeout', async () => {
    class SlowAndBroken extends Hooked {
      override cleanupResources() {
        throw new Error('inner cleanup failed');
      }
    }
    class BrokenGraph extends Graph<Shared> {
      override cleanupResources() {
        throw new Error('outer cleanup failed');
      }
    }
    const inner = new SlowAndBroken('hang', { timeoutMs: 20 });
    const shared: Shared = { log: [], controller: new AbortController() };

    const result = await new Graph(new BrokenGraph(inner)).run(shared);

    expect(result.status).toBe('timeout');
    const outer = result.error as CleanupError;
    expect((outer.error as Error).message).toBe('outer cleanup failed');
    expect(CleanupError.isInstance(outer.suppressed)).toBe(true);
  });

  it('fails a run whose only error is in cleanup', async () => {
    class BrokenCleanup extends Hooked {
      override cleanupResources() {
        throw new Error('cleanup failed');
      }
    }
    const shared: Shared = { log: [], controller: new AbortController() };

    const result = await new Graph(new BrokenCleanup('ok')).run(shared);

    expect(result.status).toBe('error');
    expect((result.error as Error).message).toBe('cleanup failed');
  });

  it('returns what a failed setup took but skips cleanupResources', async () => {
    const provider = new TestProvider();
    const resources = new ResourcePool().add(provider);
    class HalfSetup extends Hooked {
      override async setupResources(ctx: NodeContext<Shared>) {
        ctx.shared.log.push('setup');
        await ctx.acquire('test');
        ctx.scope.defer(() => ctx.shared.log.push('undo first step'));
        throw new Error('second step failed');
      }
    }
    const shared: Shared = { log: [], controller: new AbortController() };

    const result = await new Graph(new HalfSetup('ok')).run(shared, { resources });

    expect(result.status).toBe('error');
    expect(shared.log).toEqual(['setup', 'undo first step']);
    expect(provider.stats().inUse).toBe(0);
  });
});

describe('node context', () => {
  it('gives cleanupResources an aborted signal, even when it is first read there', async () => {
    let seen: { aborted: boolean; closed: boolean } | undefined;
    class ReadsLate extends Node {
      override cleanupResources(ctx: NodeContext) {
        seen = { aborted: ctx.signal.aborted, closed: AbortedError.isInstance(ctx.signal.reason) };
      }
    }

    const result = await new Graph(new ReadsLate()).run({});

    expect(result.status).toBe('ok');
    expect(seen).toEqual({ aborted: true, closed: true });
  });

  it('hands a context kept past its node a closed scope and an aborted signal', async () => {
    const kept: NodeContext[] = [];
    class Keeps extends Node {
      override prep(ctx: NodeContext) {
        kept.push(ctx);
      }

      override exec(_input: unknown, ctx: NodeContext) {
        kept.push(ctx);
      }
    }

    const result = await new Graph(new Keeps({ name: 'keeps' })).run({}, { runId: 'run-4' });

    expect(result.status).toBe('ok');
    for (const ctx of kept) {
      expect(ctx.scope.closed).toBe(true);
      expect(ctx.signal.aborted).toBe(true);
      expect(() => ctx.scope.defer(() => {})).toThrow(ScopeClosedError);
    }
    expect(kept[0]!.scope).toBe(kept[1]!.scope);
    expect(kept[0]!.owner).toEqual({ runId: 'run-4', node: 'keeps', scope: 'keeps' });
  });

  it('gives every phase the same owner and a live signal, and exec its own attempt', async () => {
    const seen: unknown[] = [];
    class Looks extends Node {
      override prep(ctx: NodeContext) {
        seen.push(['prep', ctx.attempt, ctx.signal.aborted, ctx.owner]);
      }

      override exec(_input: unknown, ctx: NodeContext) {
        seen.push(['exec', ctx.attempt, ctx.signal.aborted, ctx.owner]);
      }
    }

    await new Graph(new Looks({ name: 'looks' })).run({}, { runId: 'run-3' });

    const owner = { runId: 'run-3', node: 'looks', scope: 'looks' };
    expect(seen).toEqual([
      ['prep', 0, false, owner],
      ['exec', 1, false, owner],
    ]);
  });
});

describe('node scopes', () => {
  it('returns and reports a lease a node left out, with the node as owner', async () => {
    const leaks: KayGraphEvents['resource:leak'][] = [];
    stops.push(subscribe('resource:leak', (event) => leaks.push(event)));
    const provider = new TestProvider();
    const resources = new ResourcePool().add(provider);
    let held: Lease<TestResource> | undefined;
    class Forgetful extends Node {
      override async exec(_input: unknown, ctx: NodeContext) {
        held = await ctx.acquire<TestResource>('test');
        expect(provider.stats().inUse).toBe(1);
      }
    }

    const result = await new Graph(new Forgetful({ name: 'forgetful' })).run({}, {
      resources,
      runId: 'run-9',
    });

    expect(result.status).toBe('ok');
    expect(held?.returned).toBe(true);
    expect(provider.stats().inUse).toBe(0);
    expect(resources.leaks()).toBe(1);
    expect(leaks).toHaveLength(1);
    expect(leaks[0]!.owner).toEqual({ runId: 'run-9', node: 'forgetful', scope: 'forgetful' });
    expect(leaks[0]!.stack).toContain('graph-hooks.test.ts');
  });

  it('returns leases taken in setup and released in cleanup without reporting a leak', async () => {
    const provider = new TestProvider();
    const resources = new ResourcePool().add(provider);
    const leases = new WeakMap<NodeContext, Lease<TestResource>>();
    class Holder extends Node {
      override async setupResources(ctx: NodeContext) {
        leases.set(ctx, await ctx.acquire<TestResource>('test'));
      }

      override async cleanupResources(ctx: NodeContext) {
        await leases.get(ctx)?.release();
      }
    }

    const result = await new Graph(new Holder()).run({}, { resources });

    expect(result.status).toBe('ok');
    expect(resources.leaks()).toBe(0);
    expect(provider.stats()).toMatchObject({ inUse: 0, acquired: 1, released: 1 });
  });
});
