// One contender of the `graph` group, in a worker thread of its own: it builds the chain once per
// round (a new graph, pool and AbortController each time, as the group always did), runs it, and
// posts the wall time per node back. A worker is an isolate with a heap of its own, so what one
// runtime's garbage does to the young generation (V8 grows it as objects survive) is not charged
// to the next contender measured in the same process.
import { parentPort, workerData } from 'node:worker_threads';
import { Graph, Node, ResourcePool, subscribeAll } from '@kaygraph/core';
import * as pocket from 'pocketflow';

export const CHAIN = 10;

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

/** Each contender by name: a function that builds a chain and returns one run of it. */
export const contenders = {
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

/** One round: 50 runs to warm up, then `runs` timed runs. Returns µs per node. */
async function round(name, runs) {
  const once = contenders[name]();
  for (let i = 0; i < 50; i++) await once();
  const started = performance.now();
  for (let i = 0; i < runs; i++) await once();
  return ((performance.now() - started) * 1000) / (runs * CHAIN);
}

if (parentPort !== null && workerData?.contender !== undefined) {
  const { contender } = workerData;
  // A listener on every event, as a monitored run has; KayGraph publishes only when someone listens.
  let events = 0;
  subscribeAll(() => {
    events++;
  });
  parentPort.on('message', async ({ runs }) => {
    try {
      const perNode = await round(contender, runs);
      parentPort.postMessage({ perNode, events });
    } catch (error) {
      parentPort.postMessage({ error: String(error?.stack ?? error) });
    }
  });
}
