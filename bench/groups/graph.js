// Group 2: per-node cost of the graph runtime. A chain of trivial nodes, run many times, through
// KayGraph (with scopes, a listener on every event and an AbortSignal, as a real run has them)
// and through PocketFlow's TypeScript port doing the same chain. PocketFlow's phases are always
// async; KayGraph runs synchronous phases without a tick, so it is measured twice: with
// synchronous phases, and with `async` phases exactly like PocketFlow's (the form a node that
// does I/O takes).
import { Graph, Node, ResourcePool, subscribeAll } from '@kaygraph/core';
import * as pocket from 'pocketflow';
import { median, pairedRatio, shuffle } from '../lib/stats.js';

const CHAIN = 10;

class SyncStep extends Node {
  prep(ctx) {
    return ctx.shared.count;
  }
  exec(count) {
    return count + 1;
  }
  post(ctx, _input, count) {
    ctx.shared.count = count;
  }
}

class AsyncStep extends Node {
  async prep(ctx) {
    return ctx.shared.count;
  }
  async exec(count) {
    return count + 1;
  }
  async post(ctx, _input, count) {
    ctx.shared.count = count;
    return undefined;
  }
}

class PocketStep extends pocket.Node {
  async prep(shared) {
    return shared.count;
  }
  async exec(count) {
    return count + 1;
  }
  async post(shared, _input, count) {
    shared.count = count;
    return undefined;
  }
}

function chain(make) {
  const first = make(0);
  let last = first;
  for (let i = 1; i < CHAIN; i++) last = last.next(make(i));
  return first;
}

function kaygraph(Step) {
  return () => {
    const graph = new Graph(chain((i) => new Step({ name: `step${i}` })), { name: 'bench' });
    const resources = new ResourcePool();
    const controller = new AbortController();
    return async () => {
      const shared = { count: 0 };
      const result = await graph.run(shared, { resources, signal: controller.signal });
      if (result.status !== 'ok' || shared.count !== CHAIN) throw new Error('kaygraph run failed');
    };
  };
}

const contenders = {
  'kaygraph, sync phases': kaygraph(SyncStep),
  'kaygraph, async phases': kaygraph(AsyncStep),
  pocketflow: () => {
    const flow = new pocket.Flow(chain(() => new PocketStep()));
    return async () => {
      const shared = { count: 0 };
      await flow.run(shared);
      if (shared.count !== CHAIN) throw new Error('pocketflow run failed');
    };
  },
};

/** The two comparisons: each KayGraph variant against PocketFlow, measured in the same rounds. */
const variants = [
  { ours: 'kaygraph, sync phases', title: 'KayGraph nodes with synchronous phases' },
  { ours: 'kaygraph, async phases', title: 'KayGraph nodes with async phases, like PocketFlow' },
];

async function round(name, runs) {
  const once = contenders[name]();
  for (let i = 0; i < 50; i++) await once();
  const started = performance.now();
  for (let i = 0; i < runs; i++) await once();
  return ((performance.now() - started) * 1000) / (runs * CHAIN);
}

export async function runGraphGroup({ quick }) {
  const rounds = quick ? 3 : 9;
  const runs = quick ? 300 : 3000;
  const names = Object.keys(contenders);
  const perNode = Object.fromEntries(names.map((n) => [n, []]));
  let events = 0;
  const stop = subscribeAll(() => {
    events++;
  });
  try {
    for (let r = 0; r < rounds; r++) {
      for (const name of shuffle(names)) perNode[name].push(await round(name, runs));
    }
  } finally {
    stop();
  }

  const theirs = { contender: 'pocketflow', median: median(perNode.pocketflow) };
  const tables = variants.map(({ ours, title }) => ({
    title: `${title}: chain of ${CHAIN} nodes, ${runs} runs a round`,
    columns: ['median'],
    rows: [{ contender: ours, ours: true, median: median(perNode[ours]) }, theirs],
  }));
  // Each round's pair was measured moments apart, so the median of the per-round ratios is
  // steadier than the ratio of the medians when the machine's load drifts.
  const goals = variants.map(({ ours, title }) => {
    const value = pairedRatio(perNode[ours], perNode.pocketflow);
    return {
      goal: `${title}: per-node cost ≤ 1.2× PocketFlow's`,
      value,
      target: 1.2,
      met: value <= 1.2,
      lowerIsBetter: true,
    };
  });
  return {
    name: 'Graph runtime overhead',
    unit: 'µs per node',
    rounds,
    lowerIsBetter: true,
    note:
      `chain of ${CHAIN} trivial nodes; KayGraph with scopes, an AbortSignal and a listener on ` +
      `every event (${events} events seen); the three contenders interleaved in every round`,
    tables,
    goals,
  };
}
