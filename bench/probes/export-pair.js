#!/usr/bin/env node
// Probe: the export job, demo and plain script interleaved, with more detail per run than the
// export group prints: wall and CPU of each run; the wall time outside the run's own durationMs
// (spawn, module loading, exit); for the demo, its report's split of durationMs into the export
// itself (exportMs) and the rest (services, providers, shutdown). Extra environment for the
// children (UV_THREADPOOL_SIZE=8, say) goes with --env, repeatable.
//
// node bench/probes/export-pair.js [--rounds 3] [--scale 10] [--only demo|plain]
//   [--env NAME=VALUE]...   (needs apps/demo built)
import { parseArgs } from 'node:util';
import {
  demoExport,
  exportSource,
  plainExport,
  startExportServices,
} from '../lib/export-runs.js';
import { ROWS_PER_SCALE, pgbenchDatabase } from '../lib/pgbench-db.js';
import { median, pairedRatio, shuffle } from '../lib/stats.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    scale: { type: 'string', default: '10' },
    only: { type: 'string' },
    env: { type: 'string', multiple: true, default: [] },
  },
});
const rounds = Number(values.rounds);
const scale = Number(values.scale);
const extraEnv = Object.fromEntries(
  values.env.map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
);

const expectedRows = scale * ROWS_PER_SCALE;
const job = { dbUrl: await pgbenchDatabase(scale), source: exportSource(), expectedRows };
const contenders = {
  demo: (services) => demoExport(services, job),
  plain: (services) => plainExport(services, job),
};
const names = values.only ? [values.only] : Object.keys(contenders);

const seen = Object.fromEntries(names.map((name) => [name, { wall: [], cpu: [] }]));
Object.assign(process.env, extraEnv); // the children inherit this process's environment
const services = await startExportServices();
try {
  for (let round = 0; round < rounds; round++) {
    for (const name of shuffle(names)) {
      const run = await contenders[name](services);
      seen[name].wall.push(run.wallMs / 1000);
      seen[name].cpu.push(run.cpuMs / 1000);
      const report = run.report;
      const s = (ms) => `${(ms / 1000).toFixed(2)} s`;
      // Outside durationMs: spawning, loading modules, leaving the process.
      let split = `  outside the run ${s(run.wallMs - report.durationMs)}`;
      if (report.exportMs !== undefined) {
        split += `, export ${s(report.exportMs)}, rest ${s(report.durationMs - report.exportMs)}`;
      }
      console.log(
        `round ${round + 1} ${name.padEnd(5)} wall ${s(run.wallMs)}, CPU ${s(run.cpuMs)}${split}`,
      );
    }
  }
} finally {
  await services.close();
}

for (const name of names) {
  const { wall, cpu } = seen[name];
  console.log(
    `${name.padEnd(5)} median wall ${median(wall).toFixed(2)} s, CPU ${median(cpu).toFixed(2)} s`,
  );
}
if (names.length === 2) {
  const wall = pairedRatio(seen.demo.wall, seen.plain.wall);
  const cpu = pairedRatio(seen.demo.cpu, seen.plain.cpu);
  console.log(
    `demo / plain, median of per-round ratios: wall ${wall.toFixed(3)}, CPU ${cpu.toFixed(3)}`,
  );
}
