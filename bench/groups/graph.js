// Group 2: per-node cost of the graph runtime. A chain of trivial nodes, run many times, through
// KayGraph (with scopes, a listener on every event and an AbortSignal, as a real run has them)
// and through PocketFlow's TypeScript port doing the same chain. PocketFlow's phases are always
// async; KayGraph runs synchronous phases without a tick, so it is measured twice: with
// synchronous phases, and with `async` phases exactly like PocketFlow's (the form a node that
// does I/O takes). Each contender runs in a worker of its own (see lib/graph-contenders.js); the
// rounds are interleaved, one contender at a time.
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { CHAIN, contenders } from '../lib/graph-contenders.js';
import { median, pairedRatio, shuffle } from '../lib/stats.js';

const WORKER = new URL('../lib/graph-contenders.js', import.meta.url);

/** The two comparisons: each KayGraph variant against PocketFlow, measured in the same rounds. */
const variants = [
  { ours: 'kaygraph, sync phases', title: 'KayGraph nodes with synchronous phases' },
  { ours: 'kaygraph, async phases', title: 'KayGraph nodes with async phases, like PocketFlow' },
];

async function round(worker, runs) {
  worker.postMessage({ runs });
  const [reply] = await once(worker, 'message');
  if (reply.error !== undefined) throw new Error(reply.error);
  return reply;
}

export async function runGraphGroup({ quick }) {
  const rounds = quick ? 3 : 9;
  const runs = quick ? 300 : 3000;
  // Rounds first run by every worker and not counted: a worker compiles its runtime from
  // scratch, and its first rounds measure the compiler (3-7 µs per node), not the steady state.
  // As long as full rounds even in a quick run, or it would report the compiler too.
  const warmups = 2;
  const warmupRuns = 3000;
  const names = Object.keys(contenders);
  const workers = Object.fromEntries(
    names.map((contender) => [contender, new Worker(WORKER, { workerData: { contender } })]),
  );
  const perNode = Object.fromEntries(names.map((n) => [n, []]));
  let events = 0;
  try {
    for (let r = -warmups; r < rounds; r++) {
      for (const name of shuffle(names)) {
        const reply = await round(workers[name], r < 0 ? warmupRuns : runs);
        if (r < 0) continue;
        perNode[name].push(reply.perNode);
        if (name.startsWith('kaygraph')) events = Math.max(events, reply.events);
      }
    }
  } finally {
    await Promise.all(Object.values(workers).map((worker) => worker.terminate()));
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
      `every event (${events} events seen by one KayGraph worker); each contender in a worker ` +
      `of its own, rounds interleaved after ${warmups} warm-up rounds`,
    tables,
    goals,
  };
}
