// Preloaded into a measured child (`node --import`): when the process exits, its peak resident
// set size and the CPU time it used go to the file named by KAYGRAPH_BENCH_RSS_FILE. Reading the
// kernel's own counters from inside the child measures the child alone, whatever started it.
import { writeFileSync } from 'node:fs';

const file = process.env.KAYGRAPH_BENCH_RSS_FILE;
if (file) {
  process.on('exit', () => {
    // maxRSS is in kilobytes, the CPU times in microseconds.
    const usage = process.resourceUsage();
    const cpuMs = (usage.userCPUTime + usage.systemCPUTime) / 1000;
    writeFileSync(file, JSON.stringify({ maxRssKb: usage.maxRSS, cpuMs }));
  });
}
