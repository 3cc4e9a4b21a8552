// Group 1: acquire + release cycles through core's Pool, generic-pool and tarn, with the same
// trivial factory. Rounds are interleaved and shuffled so drift on a shared machine hits every
// contender alike.
//
// Every rate is reported twice: per second of wall time, and per second of this process's CPU
// time (user + system, all threads, so garbage collection counts). On a loaded machine the wall
// figures mostly measure how often the OS took the CPU away; the CPU figures measure the pools.
// Likewise the contended p99 is given in wall time and in CPU time: each wait's start and end are
// mapped onto the process's CPU clock, sampled every few cycles, so time the process spent
// descheduled drops out while time spent collecting garbage stays in. A goal's value is the
// median of per-round ratios (contenders of a round run back to back), not a ratio of medians.
import { Pool } from '@kaygraph/core';
import genericPool from 'generic-pool';
import tarn from 'tarn';
import { median, percentile, shuffle } from '../lib/stats.js';

const BATCH = 1000;
/** Uncontended batches run untimed at the start of every round, whatever the clock says. */
const WARMUP_BATCHES = 10;
/** Contended cycles per caller run untimed first, so every pool is made and warm when timed. */
const WARMUP_CYCLES = 20;
/** Cycles completed between two samples of the CPU clock in the contended latency pass. */
const CPU_SAMPLE_EVERY = 8;

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

/** This process's CPU time in ms: user + system, every thread. */
function cpuMs() {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

/** Sequential cycles for about `timeMs` of wall time, after a warm-up; rates per wall and CPU s. */
async function uncontendedRound(name, timeMs) {
  const pool = await contenders[name].make(10);
  // By cycles as well as by time: on a loaded machine a few ms of wall time are too few cycles
  // for the JIT to settle after the contended rounds ran the same code another way.
  const warmUntil = performance.now() + Math.min(100, timeMs / 4);
  for (let batch = 0; batch < WARMUP_BATCHES || performance.now() < warmUntil; batch++) {
    for (let i = 0; i < BATCH; i++) await pool.cycle();
  }

  let cycles = 0;
  const cpuStarted = cpuMs();
  const started = performance.now();
  do {
    for (let i = 0; i < BATCH; i++) await pool.cycle();
    cycles += BATCH;
  } while (performance.now() - started < timeMs);
  const wallMs = performance.now() - started;
  const cpuUsedMs = cpuMs() - cpuStarted;
  await pool.close();
  return { wall: (cycles * 1000) / wallMs, cpu: (cycles * 1000) / cpuUsedMs };
}

/** `callers` concurrent loops of `cycles` cycles each; `lap` runs around every cycle. */
function callersLoop(pool, callers, cycles, lap) {
  return Promise.all(
    Array.from({ length: callers }, async () => {
      for (let i = 0; i < cycles; i++) await lap(pool);
    }),
  );
}

/**
 * One contended round on a fresh pool: a warm-up, a throughput pass with nothing but the cycles
 * timed (two clock reads per pass), then a latency pass timing every cycle.
 */
async function contendedRound(name, cyclesPerCaller, callers = 64, max = 4) {
  const pool = await contenders[name].make(max);
  await callersLoop(pool, callers, WARMUP_CYCLES, (p) => p.cycle());

  const cpuStarted = cpuMs();
  const started = performance.now();
  await callersLoop(pool, callers, cyclesPerCaller, (p) => p.cycle());
  const wallMs = performance.now() - started;
  const cpuUsedMs = cpuMs() - cpuStarted;
  const total = callers * cyclesPerCaller;

  const latency = await latencyPass(pool, callers, cyclesPerCaller);
  await pool.close();
  return {
    wall: (total * 1000) / wallMs,
    cpu: (total * 1000) / cpuUsedMs,
    p99: latency.p99,
    p99Cpu: latency.p99Cpu,
  };
}

/** Every cycle's wait in wall ms, and the same wait on the CPU clock (see the file's header). */
async function latencyPass(pool, callers, cyclesPerCaller) {
  const total = callers * cyclesPerCaller;
  const starts = new Float64Array(total);
  const ends = new Float64Array(total);
  const sampleWall = [performance.now()];
  const sampleCpu = [cpuMs()];
  let done = 0;
  await callersLoop(pool, callers, cyclesPerCaller, async (p) => {
    const t0 = performance.now();
    await p.cycle();
    const t1 = performance.now();
    starts[done] = t0;
    ends[done] = t1;
    done++;
    if (done % CPU_SAMPLE_EVERY === 0) {
      sampleCpu.push(cpuMs());
      sampleWall.push(performance.now());
    }
  });
  sampleCpu.push(cpuMs());
  sampleWall.push(performance.now());

  const waits = new Float64Array(total);
  const cpuWaits = new Float64Array(total);
  const toCpu = cpuClock(sampleWall, sampleCpu);
  for (let i = 0; i < total; i++) {
    waits[i] = ends[i] - starts[i];
    cpuWaits[i] = toCpu(ends[i]) - toCpu(starts[i]);
  }
  return { p99: percentile(waits, 99), p99Cpu: percentile(cpuWaits, 99) };
}

/** Maps a wall-clock time onto the CPU clock, linearly between the two samples around it. */
function cpuClock(wall, cpu) {
  return (t) => {
    let lo = 0;
    let hi = wall.length - 1;
    if (t <= wall[lo]) return cpu[lo];
    if (t >= wall[hi]) return cpu[hi];
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (wall[mid] <= t) lo = mid;
      else hi = mid;
    }
    const span = wall[hi] - wall[lo];
    return span > 0 ? cpu[lo] + ((cpu[hi] - cpu[lo]) * (t - wall[lo])) / span : cpu[lo];
  };
}

/**
 * Median over rounds of ours ÷ theirs. Contenders of one round run back to back, so a round's
 * ratio is little moved by the machine's load drifting, which moves the rates themselves by 2×.
 */
function pairedRatio(ours, theirs) {
  return median(ours.map((value, round) => value / theirs[round]));
}

function fastestOther(names, rounds) {
  return names
    .filter((name) => name !== 'kaygraph')
    .reduce((a, b) => (median(rounds[b]) > median(rounds[a]) ? b : a));
}

/** The goals on one clock, from every round's figures (`clock`: 'wall' or 'cpu'). */
function goalsFor(clock, names, unc, con) {
  const p99Key = clock === 'wall' ? 'p99' : 'p99Cpu';
  const label = clock === 'wall' ? 'wall time' : 'CPU time';
  const others = names.filter((name) => name !== 'kaygraph');
  const bestPerRound = unc.kaygraph[clock].map((_, round) =>
    Math.max(...others.map((name) => unc[name][clock][round])),
  );
  const uncRatio = pairedRatio(unc.kaygraph[clock], bestPerRound);
  const fastest = fastestOther(
    names,
    Object.fromEntries(names.map((name) => [name, con[name][clock]])),
  );
  const conRatio = pairedRatio(con.kaygraph[clock], con[fastest][clock]);
  const p99Ratio = pairedRatio(con.kaygraph[p99Key], con[fastest][p99Key]);
  return [
    {
      goal: `uncontended ≥ 3× the faster of generic-pool and tarn (${label})`,
      value: uncRatio,
      target: 3,
      met: uncRatio >= 3,
    },
    {
      goal: `contended throughput ≥ the faster of the two (${fastest}, ${label})`,
      value: conRatio,
      target: 1,
      met: conRatio >= 1,
    },
    {
      goal: `contended p99 acquire wait lower than ${fastest}'s (${label})`,
      value: p99Ratio,
      target: 1,
      met: p99Ratio < 1,
      lowerIsBetter: true,
    },
  ];
}

export async function runPoolGroup({ quick }) {
  const rounds = quick ? 5 : 9;
  const names = Object.keys(contenders);
  const unc = Object.fromEntries(names.map((n) => [n, { wall: [], cpu: [] }]));
  const con = Object.fromEntries(names.map((n) => [n, { wall: [], cpu: [], p99: [], p99Cpu: [] }]));

  // One untimed round first: until the JIT has optimized a pool's paths, a round measures the
  // compiler, and how soon that happens differs between pools and with the order they ran in.
  for (const name of shuffle(names)) {
    await uncontendedRound(name, 200);
    await contendedRound(name, 200);
  }

  for (let round = 0; round < rounds; round++) {
    for (const name of shuffle(names)) {
      const r = await uncontendedRound(name, quick ? 80 : 400);
      unc[name].wall.push(r.wall);
      unc[name].cpu.push(r.cpu);
    }
    for (const name of shuffle(names)) {
      const r = await contendedRound(name, quick ? 200 : 500);
      for (const key of ['wall', 'cpu', 'p99', 'p99Cpu']) con[name][key].push(r[key]);
    }
  }

  const uncontended = (clock) =>
    names.map((name) => ({ contender: name, median: median(unc[name][clock]) }));
  const contended = (clock, p99Key) =>
    names.map((name) => ({
      contender: name,
      median: median(con[name][clock]),
      p99: median(con[name][p99Key]),
    }));
  const uncWall = uncontended('wall');
  const uncCpu = uncontended('cpu');
  const conWall = contended('wall', 'p99');
  const conCpu = contended('cpu', 'p99Cpu');

  return {
    name: 'Pool acquire + release',
    unit: 'cycles/s',
    rounds,
    tables: [
      {
        title: 'uncontended: pool of 10, one caller (wall time)',
        columns: ['median'],
        rows: uncWall,
      },
      {
        title: 'contended: pool of 4, 64 callers (wall time)',
        columns: ['median', 'p99'],
        p99Unit: 'ms wait',
        rows: conWall,
      },
      {
        title: 'uncontended: pool of 10, one caller (per CPU second)',
        columns: ['median'],
        rows: uncCpu,
      },
      {
        title: 'contended: pool of 4, 64 callers (per CPU second; p99 on the CPU clock)',
        columns: ['median', 'p99'],
        p99Unit: 'ms CPU wait',
        rows: conCpu,
      },
    ],
    // Each goal's value is the median of per-round ratios, so it can differ a little from the
    // ratio of the tables' medians.
    goals: [...goalsFor('wall', names, unc, con), ...goalsFor('cpu', names, unc, con)],
  };
}
