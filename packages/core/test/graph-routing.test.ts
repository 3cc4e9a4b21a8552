import { afterEach, describe, expect, it } from 'vitest';
import {
  ConfigInvalidError,
  type EventName,
  Graph,
  Node,
  type NodeContext,
  RouteNotFoundError,
  subscribeAll,
} from '../src/index.js';

interface Trail {
  visited: string[];
  count?: number;
}

/** A node that records its visit and returns a fixed action (or what `choose` says). */
class Step extends Node<Trail> {
  constructor(
    name: string,
    private readonly choose: (ctx: NodeContext<Trail>) => string | undefined = () => undefined,
  ) {
    super({ name });
  }

  override post(ctx: NodeContext<Trail>) {
    ctx.shared.visited.push(this.name);
    return this.choose(ctx);
  }
}

const stops: (() => void)[] = [];
afterEach(() => {
  for (const stop of stops.splice(0)) stop();
});

describe('graph routing', () => {
  it('follows next() chains, which return their target', async () => {
    const a = new Step('a');
    const b = new Step('b');
    const c = new Step('c');
    expect(a.next(b)).toBe(b);
    b.next(c);

    const shared: Trail = { visited: [] };
    const result = await new Graph(a).run(shared);

    expect(result.status).toBe('ok');
    expect(shared.visited).toEqual(['a', 'b', 'c']);
    expect(result.lastAction).toBe('default');
    expect(result.steps).toBe(3);
  });

  it('routes on named actions wired with on()', async () => {
    const check = new Step('check', (ctx) => (ctx.params.ok === true ? 'pass' : 'fail'));
    const pass = new Step('pass');
    const fail = new Step('fail');
    expect(check.on('pass', pass)).toBe(pass);
    check.on('fail', fail);
    const graph = new Graph(check);

    const passed: Trail = { visited: [] };
    const failed: Trail = { visited: [] };
    await graph.run(passed, { params: { ok: true } });
    await graph.run(failed, { params: { ok: false } });

    expect(passed.visited).toEqual(['check', 'pass']);
    expect(failed.visited).toEqual(['check', 'fail']);
  });

  it('loops through a cycle until a node chooses the way out', async () => {
    const count = new Step('count', (ctx) => {
      ctx.shared.count = (ctx.shared.count ?? 0) + 1;
      return ctx.shared.count < 3 ? 'again' : 'done';
    });
    count.on('again', count);
    count.on('done', new Step('finish'));

    const shared: Trail = { visited: [] };
    const result = await new Graph(count).run(shared);

    expect(result.status).toBe('ok');
    expect(shared.visited).toEqual(['count', 'count', 'count', 'finish']);
  });

  it('ends the run at a node without edges, whatever action it returns', async () => {
    const last = new Step('last', () => 'anything');
    const shared: Trail = { visited: [] };

    const result = await new Graph(new Step('first')).run(shared);
    const ended = await new Graph(last).run({ visited: [] });

    expect(result.status).toBe('ok');
    expect(ended.status).toBe('ok');
    expect(ended.lastAction).toBe('anything');
  });

  it('fails with RouteNotFoundError naming node, action and known actions', async () => {
    const decide = new Step('decide', () => 'retry');
    decide.on('approve', new Step('approve'));
    decide.on('reject', new Step('reject'));
    const shared: Trail = { visited: [] };

    const result = await new Graph(decide, { name: 'review' }).run(shared);

    expect(result.status).toBe('error');
    expect(RouteNotFoundError.isInstance(result.error)).toBe(true);
    expect((result.error as RouteNotFoundError).code).toBe('KG_ROUTE_NOT_FOUND');
    const message = (result.error as Error).message;
    expect(message).toContain('"decide"');
    expect(message).toContain('"retry"');
    expect(message).toContain('"approve", "reject"');
    expect(result.lastAction).toBe('retry');
    expect(shared.visited).toEqual(['decide']);
  });

  it('ends the run at an unrouted action when built with allowUnrouted', async () => {
    const decide = new Step('decide', () => 'retry');
    decide.on('approve', new Step('approve'));

    const result = await new Graph(decide, { allowUnrouted: true }).run({ visited: [] });

    expect(result.status).toBe('ok');
    expect(result.lastAction).toBe('retry');
  });

  it('nests graphs: the inner graph runs as a node and hands on its last action', async () => {
    const innerStart = new Step('inner-a');
    innerStart.next(new Step('inner-b', () => 'inner-done'));
    const inner = new Graph(innerStart, { name: 'inner' });
    const before = new Step('before');
    before.next(inner).on('inner-done', new Step('after'));
    const shared: Trail = { visited: [] };

    const result = await new Graph(before, { name: 'outer' }).run(shared);

    expect(result.status).toBe('ok');
    expect(shared.visited).toEqual(['before', 'inner-a', 'inner-b', 'after']);
    // before, inner, inner-a, inner-b, after
    expect(result.steps).toBe(5);
  });

  it('runs a node instance that appears twice in one graph', async () => {
    const shared: Trail = { visited: [] };
    const twice = new Step('twice', (ctx) => (ctx.shared.visited.length === 1 ? 'again' : 'out'));
    const middle = new Step('middle');
    twice.on('again', middle).next(twice);
    twice.on('out', new Step('end'));

    const result = await new Graph(twice).run(shared);

    expect(result.status).toBe('ok');
    expect(shared.visited).toEqual(['twice', 'middle', 'twice', 'end']);
  });

  it('runs a long cycle of synchronous nodes without growing the stack', async () => {
    const laps = 50_000;
    const lap = new Step('lap', (ctx) => {
      ctx.shared.count = (ctx.shared.count ?? 0) + 1;
      return ctx.shared.count < laps ? 'again' : 'done';
    });
    lap.on('again', lap);
    const shared: Trail = { visited: [] };

    const result = await new Graph(lap, { allowUnrouted: true }).run(shared);

    expect(result.status).toBe('ok');
    expect(result.steps).toBe(laps);
    expect(shared.count).toBe(laps);
  });

  it('publishes run and node events in matching pairs', async () => {
    const seen: string[] = [];
    stops.push(
      subscribeAll((payload, name: EventName) => {
        if (name.startsWith('run:') || name.startsWith('node:')) {
          const node = (payload as { node?: string }).node;
          seen.push(node ? `${name} ${node}` : name);
        }
      }),
    );
    const a = new Step('a');
    a.next(new Step('b'));

    await new Graph(a, { name: 'g' }).run({ visited: [] }, { runId: 'run-42' });

    expect(seen).toEqual([
      'run:start',
      'node:start a',
      'node:end a',
      'node:start b',
      'node:end b',
      'run:end',
    ]);
  });
});

describe('graph events', () => {
  it('stamps node events in epoch milliseconds, in order, with a duration', async () => {
    const events: { name: EventName; time: number; durationMs?: number }[] = [];
    stops.push(
      subscribeAll((payload, name: EventName) => {
        const { time, durationMs } = payload as { time: number; durationMs?: number };
        events.push({ name, time, ...(durationMs === undefined ? {} : { durationMs }) });
      }),
    );
    const a = new Step('a');
    a.next(new Step('b'));

    const before = Date.now();
    await new Graph(a).run({ visited: [] });
    const after = Date.now();

    expect(events.map((e) => e.name)).toEqual([
      'run:start',
      'node:start',
      'node:end',
      'node:start',
      'node:end',
      'run:end',
    ]);
    for (const event of events) {
      expect(Number.isInteger(event.time)).toBe(true);
      expect(event.time).toBeGreaterThanOrEqual(before);
      expect(event.time).toBeLessThanOrEqual(after);
      if (event.durationMs !== undefined) expect(event.durationMs).toBeGreaterThanOrEqual(0);
    }
    const times = events.map((e) => e.time);
    expect(times).toEqual([...times].sort((x, y) => x - y));
  });

  it('gives nodes that run one after another durations that fit inside the run', async () => {
    const ends: { node: string; durationMs: number }[] = [];
    let runMs = Number.NaN;
    stops.push(
      subscribeAll((payload, name: EventName) => {
        if (name === 'node:end') {
          const { node, durationMs } = payload as { node: string; durationMs: number };
          ends.push({ node, durationMs });
        }
        if (name === 'run:end') runMs = (payload as { durationMs: number }).durationMs;
      }),
    );
    class Waits extends Step {
      override async exec() {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    }
    const inner = new Step('inner-a');
    inner.next(new Step('inner-b'));
    const first = new Step('a');
    first
      .next(new Step('b'))
      .next(new Waits('waits'))
      .next(new Step('c'))
      .next(new Graph(inner, { name: 'nested' }))
      .next(new Step('d'));

    const result = await new Graph(first).run({ visited: [] });

    expect(result.status).toBe('ok');
    const outer = ends.filter((e) => !e.node.startsWith('inner-'));
    expect(outer.map((e) => e.node)).toEqual(['a', 'b', 'waits', 'c', 'nested', 'd']);
    for (const end of ends) expect(end.durationMs).toBeGreaterThanOrEqual(0);
    // The outer nodes run one after another, so their durations cannot add up to more than the
    // run's; nor can the nested graph's nodes to more than the graph's.
    const sum = (list: typeof ends) => list.reduce((total, e) => total + e.durationMs, 0);
    expect(sum(outer)).toBeLessThanOrEqual(runMs);
    const nested = outer.find((e) => e.node === 'nested')!.durationMs;
    expect(sum(ends.filter((e) => e.node.startsWith('inner-')))).toBeLessThanOrEqual(nested);
    expect(outer.find((e) => e.node === 'waits')!.durationMs).toBeGreaterThanOrEqual(4);
  });
});

describe('graph wiring', () => {
  it('never makes a node thenable', async () => {
    const node = new Step('a');

    expect('then' in node).toBe(false);
    expect(await node).toBe(node);
  });

  it('refuses to wire one action to two different nodes', () => {
    const a = new Step('a');
    a.on('x', new Step('b'));

    expect(() => a.on('x', new Step('c'))).toThrow(ConfigInvalidError);
    expect(() => a.next({} as Node)).toThrow(ConfigInvalidError);
  });

  it('validates node, graph and run options', async () => {
    expect(() => new Node({ retries: 3 } as never)).toThrow(ConfigInvalidError);
    expect(() => new Node({ maxRetries: -1 })).toThrow(ConfigInvalidError);
    expect(() => new Node({ retryDelayMs: 1.5 })).toThrow(ConfigInvalidError);
    expect(() => new Node({ timeoutMs: 'soon' } as never)).toThrow(ConfigInvalidError);
    expect(() => new Node({ name: '' })).toThrow(ConfigInvalidError);
    expect(() => new Graph(new Node(), { maxRetries: 1 } as never)).toThrow(ConfigInvalidError);
    expect(() => new Graph({} as Node)).toThrow(ConfigInvalidError);

    const graph = new Graph(new Node());
    await expect(graph.run({}, { timeout: 5 } as never)).rejects.toSatisfy((e) =>
      ConfigInvalidError.isInstance(e),
    );
    await expect(graph.run({}, { resources: {} } as never)).rejects.toSatisfy((e) =>
      ConfigInvalidError.isInstance(e),
    );
  });

  it('names nodes after their class unless given a name', () => {
    class ReadRows extends Node {}

    expect(new ReadRows().name).toBe('ReadRows');
    expect(new ReadRows({ name: 'reader' }).name).toBe('reader');
    expect(new Graph(new ReadRows()).name).toBe('Graph');
  });
});
