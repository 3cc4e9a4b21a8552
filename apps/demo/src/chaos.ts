#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { redactText } from '@kaygraph/core';
import { formatChaosSummary } from './chaos/chaos-summary.js';
import { DEFAULT_SERVER_URL, runChaos } from './chaos/run-chaos.js';

/**
 * `pnpm chaos`: the demo's export of a pgbench table under faults, at a size that takes a while
 * (scale 10, a million rows, by default). Exit 0 when every check passed, 1 when one failed, 2 on
 * bad usage, 130 when interrupted.
 */

const USAGE =
  'usage: node dist/chaos.js [--scale N] [--db-url URL] [--seed N]\n' +
  '  --scale N     pgbench scale, 100,000 rows each (default 10)\n' +
  `  --db-url URL  server to create the scratch database on (default ${DEFAULT_SERVER_URL})\n` +
  '  --seed N      seed of the upload fault schedule (default 1)\n';

function fail(line: string, code: number): never {
  process.stderr.write(`kaygraph-chaos: ${line}\n`);
  process.exit(code);
}

function wholeNumber(flag: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text)) fail(`${flag} must be a whole number, got ${JSON.stringify(text)}`, 2);
  return Number(text);
}

function parse(): { scale: number; serverUrl: string; seed: number } {
  try {
    const { values } = parseArgs({
      args: process.argv.slice(2).filter((arg) => arg !== '--'),
      options: {
        scale: { type: 'string' },
        'db-url': { type: 'string' },
        seed: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    });
    if (values.help) {
      process.stdout.write(USAGE);
      process.exit(0);
    }
    const scale = wholeNumber('--scale', values.scale, 10);
    if (scale < 1) fail('--scale must be at least 1', 2);
    return {
      scale,
      serverUrl: values['db-url'] ?? DEFAULT_SERVER_URL,
      seed: wholeNumber('--seed', values.seed, 1),
    };
  } catch (error) {
    return fail(`${(error as Error).message}\n${USAGE}`, 2);
  }
}

const options = parse();
const stop = new AbortController();
process.once('SIGINT', () => stop.abort(new Error('interrupted by SIGINT')));

try {
  const result = await runChaos({
    ...options,
    signal: stop.signal,
    log: (line) => process.stdout.write(`chaos: ${line}\n`),
  });
  process.stdout.write(formatChaosSummary(result));
  process.exitCode = result.ok ? 0 : 1;
} catch (error) {
  const password = new URL(options.serverUrl).password;
  const message = redactText((error as Error).message, password ? [password] : []);
  process.stderr.write(`kaygraph-chaos: ${message}\n`);
  process.exitCode = stop.signal.aborted ? 130 : 1;
}
