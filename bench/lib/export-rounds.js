// Interleaved rounds of whole export runs, shared by the groups that time the export job.
import { startExportServices } from './export-runs.js';
import { median, pairedRatio, percentile, shuffle } from './stats.js';

/**
 * Run every contender once per round, in a new random order each round, one child at a time,
 * against one set of services. `contenders` maps a name to `(services) => run` (an export-runs
 * result). Returns per contender the wall seconds and CPU seconds of each round, in round order.
 */
export async function exportRounds(contenders, rounds) {
  const names = Object.keys(contenders);
  const wall = Object.fromEntries(names.map((n) => [n, []]));
  const cpu = Object.fromEntries(names.map((n) => [n, []]));
  const services = await startExportServices();
  try {
    for (let round = 0; round < rounds; round++) {
      for (const name of shuffle(names)) {
        const run = await contenders[name](services);
        wall[name].push(run.wallMs / 1000);
        cpu[name].push(run.cpuMs / 1000);
      }
    }
  } finally {
    await services.close();
  }
  return { names, wall, cpu };
}

/**
 * The wall-time and CPU-time tables of `exportRounds` samples, and the paired ratio of `ours` to
 * `other` in wall time (above 1: ours took longer).
 */
export function timeTables({ names, wall, cpu }, ours, other) {
  const wallRows = names.map((name) => ({
    contender: name,
    ours: name === ours,
    median: median(wall[name]),
    p99: percentile(wall[name], 99),
    samples: wall[name],
  }));
  const cpuRows = names.map((name) => ({
    contender: name,
    ours: name === ours,
    median: median(cpu[name]),
    samples: cpu[name],
  }));
  return {
    tables: [
      { title: 'wall time per export, spawn to exit', columns: ['median', 'p99'], rows: wallRows },
      {
        title: 'CPU time of the exporting process (user + system, zlib threads included)',
        unit: 's CPU',
        columns: ['median'],
        rows: cpuRows,
      },
    ],
    wallRatio: pairedRatio(wall[ours], wall[other]),
    cpuRatio: pairedRatio(cpu[ours], cpu[other]),
  };
}
