import { getEventListeners } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import {
  AbortedError,
  Graph,
  Node,
  type NodeContext,
  NodeTimeoutError,
  ResourcePool,
  subscribe,
} from '../src/index.js';
import { TestProvider, aborted, deferred } from './support/test-provider.js';

type Phase = 'setup' | 'prep' | 'exec' | 'post';

const stops: (() => void)[] = [];
afterEach(() => {
  for (const stop of stops.splice(0)) stop();
});

/** Aborts the run from inside `phase` and waits there for the signal, recording what it saw. */
class WaitsIn extends Node {
  seen: unknown;

  constructor(
    private readonly phase: Phase,
    private readonly controller: AbortController,
  ) {
    super({ name: `waits-in-${phase}` });
  }

  async #wait(phase: Phase, ctx: NodeContext) {
    if (phase !== this.phase) return;
    setImmediate(() => this.controller.abort());
    this.seen = await aborted(ctx.signal);
  }

  override setupResources(ctx: NodeContext) {
    return this.#wait('setup', ctx);
  }

  override prep(ctx: NodeContext) {
    return this.#wait('prep', ctx);
  }

  override exec(_input: unknown, ctx: NodeContext) {
    return this.#wait('exec', ctx);
  }

  override post(ctx: NodeContext) {
    return this.#wait('post', ctx);
  }
}

describe('cancellation', () => {
  const phases = ['setup', 'prep', 'exec', 'post'] as const;
  it.each(phases)('reaches %s through ctx.signal', async (phase) => {
    const controller = new AbortController();
    const node = new WaitsIn(phase, controller);
    const after = new WaitsIn('exec', new AbortController());
    node.next(after);

    const result = await new Graph(node).run({}, { signal: controller.signal });

    expect(result.status).toBe('aborted');
    expect(AbortedError.isInstance(result.error)).toBe(true);
    expect(node.seen).toBe(controller.signal.reason);
    expect(after.seen).toBeUndefined();
  });

  it('reaches an acquire waiting for a resource, which gives up its place', async () => {
    const provider = new TestProvider({ max: 0 });
    const resources = new ResourcePool().add(provider);
    const controller = new AbortController();
    class Borrower extends Node {
      override async exec(_input: unknown, ctx: NodeContext) {
        setImmediate(() => controller.abort());
        await ctx.acquire('test');
      }
    }

    const result = await new Graph(new Borrower()).run({}, { resources, signal: controller.signal });

    expect(result.status).toBe('aborted');
    expect(provider.acquireCalls[0]!.signal?.aborted).toBe(true);
    expect(provider.stats().waiting).toBe(0);
  });

  it('does not start a run whose signal is already aborted', async () => {
    let ran = false;
    class Never extends Node {
      override prep() {
        ran = true;
      }
    }

    const result = await new Graph(new Never()).run({}, { signal: AbortSignal.abort() });

    expect(result.status).toBe('aborted');
    expect(ran).toBe(false);
  });

  it('stops the walk between nodes once aborted', async () => {
    const controller = new AbortController();
    const visited: string[] = [];
    class Step extends Node {
      override post() {
        visited.push(this.name);
        if (this.name === 'first') controller.abort();
      }
    }
    const first = new Step({ name: 'first' });
    first.next(new Step({ name: 'second' }));

    const result = await new Graph(first).run({}, { signal: controller.signal });

    expect(result.status).toBe('aborted');
    expect(visited).toEqual(['first']);
  });
});

describe('cancellation of synchronous and nested nodes', () => {
  it('sees an abort made between nodes before the next phase starts', async () => {
    const controller = new AbortController();
    const phases: string[] = [];
    class Sync extends Node {
      override prep() {
        phases.push(`${this.name} prep`);
      }

      override post() {
        phases.push(`${this.name} post`);
      }
    }
    const first = new Sync({ name: 'first' });
    first.next(new Sync({ name: 'second' }));
    stops.push(
      subscribe('node:end', (event) => {
        if (event.node === 'first') controller.abort();
      }),
    );

    const result = await new Graph(first).run({}, { signal: controller.signal });

    expect(result.status).toBe('aborted');
    expect(phases).toEqual(['first prep', 'first post']);
  });

  it('ends a run aborted inside a nested graph whose node ignores its signal', async () => {
    const controller = new AbortController();
    class Stuck extends Node {
      override exec() {
        setImmediate(() => controller.abort());
        return new Promise<never>(() => {});
      }
    }
    const inner = new Graph(new Stuck({ name: 'stuck' }), { name: 'inner' });

    const result = await new Graph(inner, { name: 'outer' }).run({}, { signal: controller.signal });

    expect(result.status).toBe('aborted');
    expect(AbortedError.isInstance(result.error)).toBe(true);
  });

  it('ends a phase that aborts the run before returning work that ignores its signal', async () => {
    // Once as the first phase the node waits for, once after an earlier one was waited for.
    for (const waitsInPrep of [false, true]) {
      const controller = new AbortController();
      class AbortsThenHangs extends Node {
        override prep() {
          return waitsInPrep ? Promise.resolve() : undefined;
        }

        override exec() {
          controller.abort();
          return new Promise<never>(() => {});
        }
      }

      const result = await new Graph(new AbortsThenHangs()).run({}, { signal: controller.signal });

      expect(result.status).toBe('aborted');
      expect(AbortedError.isInstance(result.error)).toBe(true);
    }
  });

  it('ends a phase whose node closes its own scope while it waits, from the first phase on', async () => {
    for (const waitsInPrep of [false, true]) {
      class ClosesItsScope extends Node {
        override prep() {
          return waitsInPrep ? Promise.resolve() : undefined;
        }

        override exec(_input: unknown, ctx: NodeContext) {
          setImmediate(() => void ctx.scope.close());
          return new Promise<never>(() => {});
        }
      }

      const result = await new Graph(new ClosesItsScope()).run({});

      expect(result.status).toBe('aborted');
      expect(AbortedError.isInstance(result.error)).toBe(true);
    }
  });

  it('leaves no listener on a signal one run used, whether nodes were synchronous or not', async () => {
    class Sync extends Node {}
    class Async extends Node {
      override async exec(_input: unknown, ctx: NodeContext) {
        await new Promise((resolve) => setImmediate(resolve));
        return ctx.signal.aborted;
      }
    }
    const sync = new Graph(new Sync());
    const mixed = new Sync();
    mixed.next(new Async()).next(new Sync());

    for (const graph of [sync, new Graph(mixed)]) {
      const controller = new AbortController();
      const result = await graph.run({}, { signal: controller.signal });
      expect(result.status).toBe('ok');
      expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    }
  });

  it('keeps one listener on a signal many runs share, and aborts every run in flight', async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    stops.push(() => process.off('warning', onWarning));

    const started: (() => void)[] = [];
    class Waits extends Node {
      override async exec(_input: unknown, ctx: NodeContext) {
        started.pop()?.();
        return aborted(ctx.signal);
      }
    }
    const graph = new Graph(new Waits());
    const controller = new AbortController();
    const { signal } = controller;

    for (let i = 0; i < 3; i++) {
      const result = await new Graph(new Node()).run({}, { signal });
      expect(result.status).toBe('ok');
    }
    expect(getEventListeners(signal, 'abort')).toHaveLength(1);

    const runs = Array.from({ length: 20 }, () => {
      const running = new Promise<void>((resolve) => started.push(resolve));
      return { running, result: graph.run({}, { signal }) };
    });
    await Promise.all(runs.map((r) => r.running));
    expect(getEventListeners(signal, 'abort')).toHaveLength(1);
    controller.abort(new Error('shutting down'));

    for (const { result } of runs) {
      const ended = await result;
      expect(ended.status).toBe('aborted');
      expect(AbortedError.isInstance(ended.error)).toBe(true);
      expect((ended.error as Error).cause).toBe(signal.reason);
    }
    const late = await new Graph(new Node()).run({}, { signal });
    expect(late.status).toBe('aborted');
    expect(late.steps).toBe(0);
    expect(getEventListeners(signal, 'abort')).toHaveLength(0);
    await new Promise((resolve) => setImmediate(resolve));
    expect(warnings.map((w) => w.name)).not.toContain('MaxListenersExceededWarning');
  });
});

describe('runs sharing a signal', () => {
  it('aborts the runs still in flight after the first of them ended, and one started since', async () => {
    const controller = new AbortController();
    const { signal } = controller;
    class Waits extends Node {
      override async exec(_input: unknown, ctx: NodeContext) {
        const { release } = ctx.shared as { release: Promise<void> };
        await Promise.race([release, aborted(ctx.signal)]);
        return ctx.signal.aborted ? 'aborted' : 'released';
      }
    }
    const graph = new Graph(new Waits());
    const first = deferred();
    const never = new Promise<void>(() => {});

    const runFirst = graph.run({ release: first.promise }, { signal });
    const runSecond = graph.run({ release: never }, { signal });
    first.resolve();
    const ended = await runFirst;
    const runThird = graph.run({ release: never }, { signal });
    await new Promise((resolve) => setImmediate(resolve));
    controller.abort();

    expect(ended.status).toBe('ok');
    expect((await runSecond).status).toBe('aborted');
    expect((await runThird).status).toBe('aborted');
    expect(getEventListeners(signal, 'abort')).toHaveLength(0);
  });
});

describe('timeouts', () => {
  it('fails a node that runs past timeoutMs with NodeTimeoutError naming it', async () => {
    let signalReason: unknown;
    class Stuck extends Node {
      override exec(_input: unknown, ctx: NodeContext) {
        ctx.signal.addEventListener('abort', () => {
          signalReason = ctx.signal.reason;
        });
        // Ignores its signal: the runtime must not wait for it.
        return new Promise<never>(() => {});
      }
    }

    const result = await new Graph(new Stuck({ name: 'stuck', timeoutMs: 20 })).run({});

    expect(result.status).toBe('timeout');
    expect(NodeTimeoutError.isInstance(result.error)).toBe(true);
    expect((result.error as Error).message).toContain('node "stuck"');
    expect(signalReason).toBe(result.error);
  });

  it('fails a run that runs past its timeoutMs', async () => {
    class Waits extends Node {
      override exec(_input: unknown, ctx: NodeContext) {
        return aborted(ctx.signal);
      }
    }

    const result = await new Graph(new Waits(), { name: 'slow' }).run({}, { timeoutMs: 20 });

    expect(result.status).toBe('timeout');
    expect((result.error as Error).message).toContain('graph "slow"');
  });

  it('applies a retry wait and a timeout together: the timeout ends the wait', async () => {
    let attempts = 0;
    class Failing extends Node {
      override exec() {
        attempts++;
        throw new Error('nope');
      }
    }
    const node = new Failing({ maxRetries: 3, retryDelayMs: 600_000, timeoutMs: 20 });

    const result = await new Graph(node).run({});

    expect(result.status).toBe('timeout');
    expect(attempts).toBe(1);
  });
});
