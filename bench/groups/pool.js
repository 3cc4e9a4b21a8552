// Group 1: acquire + release cycles through core's Pool, generic-pool and tarn, with the same
// trivial factory. Rounds are interleaved and shuffled so drift on a shared machine hits every
// contender alike; tinybench measures each uncontended batch.
import { Pool } from '@kaygraph/core';
import genericPool from 'generic-pool';
import { Bench } from 'tinybench';
import tarn from 'tarn';
import { median, percentile, shuffle } from '../lib/stats.js';

const BATCH = 1000;

function factory() {
  let next = 0;
  return { create: async () => ({ id: next++ }), destroy: async () => {} };
}

const contenders = {
  kaygraph: {
    async make(max) {
      const f = factory();
      const pool = new Pool({ name: 'bench', create: f.create, destroy: f.destroy, max, min: 0 });
      await pool.open();
      return {
        async cycle() {
          const lease = await pool.acquire();
          await lease.release();
        },
        close: () => pool.close(),
      };
    },
  },
  'generic-pool': {
    async make(max) {
      const pool = genericPool.createPool(factory(), { max, min: 0 });
      return {
        async cycle() {
          const resource = await pool.acquire();
          await pool.release(resource);
        },
        async close() {
          await pool.drain();
          await pool.clear();
        },
      };
    },
  },
  tarn: {
    async make(max) {
      const f = factory();
      const pool = new tarn.Pool({ create: f.create, destroy: f.destroy, min: 0, max });
      return {
        async cycle() {
          const resource = await pool.acquire().promise;
          pool.release(resource);
        },
        close: () => pool.destroy(),
      };
    },
  },
};

async function uncontendedRound(name, timeMs) {
  const pool = await contenders[name].make(10);
  const bench = new Bench({ time: timeMs, warmup: true, warmupTime: Math.min(100, timeMs / 4) });
  bench.add(name, async () => {
    for (let i = 0; i < BATCH; i++) await pool.cycle();
  });
  await bench.run();
  await pool.close();
  const result = bench.tasks[0].result;
  return (BATCH * 1000) / result.latency.mean;
}

async function contendedRound(name, cyclesPerCaller, callers = 64, max = 4) {
  const pool = await contenders[name].make(max);
  const waits = [];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: callers }, async () => {
      for (let i = 0; i < cyclesPerCaller; i++) {
        const t0 = performance.now();
        await pool.cycle();
        waits.push(performance.now() - t0);
      }
    }),
  );
  const elapsed = performance.now() - started;
  await pool.close();
  return { opsPerSec: (callers * cyclesPerCaller * 1000) / elapsed, p99: percentile(waits, 99) };
}

export async function runPoolGroup({ quick }) {
  const rounds = quick ? 3 : 9;
  const names = Object.keys(contenders);
  const unc = Object.fromEntries(names.map((n) => [n, []]));
  const con = Object.fromEntries(names.map((n) => [n, { ops: [], p99: [] }]));

  for (let round = 0; round < rounds; round++) {
    for (const name of shuffle(names)) unc[name].push(await uncontendedRound(name, quick ? 100 : 400));
    for (const name of shuffle(names)) {
      const r = await contendedRound(name, quick ? 100 : 500);
      con[name].ops.push(r.opsPerSec);
      con[name].p99.push(r.p99);
    }
  }

  const uncontended = names.map((name) => ({ contender: name, median: median(unc[name]) }));
  const contended = names.map((name) => ({
    contender: name,
    median: median(con[name].ops),
    p99: median(con[name].p99),
  }));
  const bestOtherUnc = Math.max(...uncontended.filter((r) => r.contender !== 'kaygraph').map((r) => r.median));
  const others = contended.filter((r) => r.contender !== 'kaygraph');
  const fastestOther = others.reduce((a, b) => (b.median > a.median ? b : a));
  const ours = contended.find((r) => r.contender === 'kaygraph');
  const oursUnc = uncontended.find((r) => r.contender === 'kaygraph');

  return {
    name: 'Pool acquire + release',
    unit: 'cycles/s',
    rounds,
    tables: [
      { title: 'uncontended: pool of 10, one caller', columns: ['median'], rows: uncontended },
      { title: 'contended: pool of 4, 64 callers', columns: ['median', 'p99'], p99Unit: 'ms wait', rows: contended },
    ],
    goals: [
      {
        goal: 'uncontended ≥ 3× the faster of generic-pool and tarn',
        value: oursUnc.median / bestOtherUnc,
        target: 3,
        met: oursUnc.median / bestOtherUnc >= 3,
      },
      {
        goal: `contended throughput ≥ the faster of the two (${fastestOther.contender})`,
        value: ours.median / fastestOther.median,
        target: 1,
        met: ours.median >= fastestOther.median,
      },
      {
        goal: `contended p99 acquire wait lower than ${fastestOther.contender}'s`,
        value: ours.p99 / fastestOther.p99,
        target: 1,
        met: ours.p99 < fastestOther.p99,
        lowerIsBetter: true,
      },
    ],
  };
}
