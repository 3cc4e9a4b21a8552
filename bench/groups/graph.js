// Group 2: per-node cost of the graph runtime. A chain of trivial nodes, run many times, through
// KayGraph (with scopes, a listener on every event and an AbortSignal, as a real run has them)
// and through PocketFlow's TypeScript port doing the same chain.
import { Graph, Node, ResourcePool, subscribeAll } from '@kaygraph/core';
import * as pocket from 'pocketflow';
import { median, shuffle } from '../lib/stats.js';

const CHAIN = 10;

class Step extends Node {
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

const contenders = {
  kaygraph: () => {
    const graph = new Graph(chain((i) => new Step({ name: `step${i}` })), { name: 'bench' });
    const resources = new ResourcePool();
    const controller = new AbortController();
    return async () => {
      const shared = { count: 0 };
      const result = await graph.run(shared, { resources, signal: controller.signal });
      if (result.status !== 'ok' || shared.count !== CHAIN) throw new Error('kaygraph run failed');
    };
  },
  pocketflow: () => {
    const flow = new pocket.Flow(chain(() => new PocketStep()));
    return async () => {
      const shared = { count: 0 };
      await flow.run(shared);
      if (shared.count !== CHAIN) throw new Error('pocketflow run failed');
    };
  },
};

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
  const rows = names.map((name) => ({ contender: name, median: median(perNode[name]) }));
  const ours = rows.find((r) => r.contender === 'kaygraph').median;
  const theirs = rows.find((r) => r.contender === 'pocketflow').median;
  return {
    name: 'Graph runtime overhead',
    unit: 'µs per node',
    rounds,
    lowerIsBetter: true,
    note: `chain of ${CHAIN} trivial nodes; KayGraph with scopes, an AbortSignal and a listener on every event (${events} events seen)`,
    tables: [{ title: `chain of ${CHAIN} nodes, ${runs} runs a round`, columns: ['median'], rows }],
    goals: [
      {
        goal: "per-node cost ≤ 1.2× PocketFlow's",
        value: ours / theirs,
        target: 1.2,
        met: ours / theirs <= 1.2,
        lowerIsBetter: true,
      },
    ],
  };
}
