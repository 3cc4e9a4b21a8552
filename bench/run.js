#!/usr/bin/env node
// `pnpm bench [-- --quick] [-- --only pool,graph]`: runs every group, prints a table per group with
// ratios against ours, and (for a full run) writes bench/RESULTS.md and bench/results.json.
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { groups } from './groups/index.js';
import { renderMarkdown, renderText } from './lib/render.js';

const argv = process.argv.slice(2).filter((arg) => arg !== '--');
const { values } = parseArgs({
  args: argv,
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    out: { type: 'string' },
  },
});

const quick = values.quick;
const only = values.only ? values.only.split(',') : Object.keys(groups);
for (const name of only) {
  if (!(name in groups)) {
    console.error(`bench: unknown group "${name}" (known: ${Object.keys(groups).join(', ')})`);
    process.exit(2);
  }
}

const machine = {
  date: new Date().toISOString(),
  node: process.version,
  nproc: cpus().length,
  cpu: cpus()[0]?.model ?? 'unknown',
  quick,
};
console.log(`bench: ${machine.date}, Node ${machine.node}, ${machine.nproc} cores${quick ? ', quick' : ''}`);

const results = [];
for (const name of only) {
  const started = performance.now();
  try {
    const result = await groups[name]({ quick });
    result.id = name;
    result.seconds = (performance.now() - started) / 1000;
    results.push(result);
    console.log(renderText(result));
  } catch (error) {
    results.push({ id: name, name, error: String(error?.stack ?? error) });
    console.log(`\n## ${name}: FAILED\n${error?.stack ?? error}`);
    process.exitCode = 1;
  }
}

if (!quick || values.out) {
  const dir = import.meta.dirname;
  const json = values.out ?? join(dir, 'results.json');
  writeFileSync(json, `${JSON.stringify({ machine, results }, null, 2)}\n`);
  if (!values.out) writeFileSync(join(dir, 'RESULTS.md'), renderMarkdown(machine, results));
  console.log(`\nwrote ${json}${values.out ? '' : ' and bench/RESULTS.md'}`);
}
