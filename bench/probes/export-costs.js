#!/usr/bin/env node
// Probe behind bench/FINDINGS.md: splits the CPU the demo's export spends beyond the plain script
// into the parts that can be measured apart, each contender interleaved over rounds.
//
//   startup: a process that loads the program and exits: `cli.js --help` against a process that
//            imports the plain script's four libraries. Child CPU, user + system.
//   rows:    1,000,000 rows of pgbench_accounts (the scale-1 table's pg row objects, read once
//            and served ten times), in batches of 1000, turned into 100 gzip NDJSON chunks of
//            10,000 rows and thrown away; no database round trips, no disk, no network.
//            The demo's own RowCursor and gzipNdjson against a plain loop like the script's,
//            and the plain loop with each of two costs the demo used to have added alone: a
//            JSON.stringify replacer on every row, and one async-generator step per row.
//
// node bench/probes/export-costs.js [--rounds 5]   (needs apps/demo built)
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { createGzip } from 'node:zlib';
import pg from 'pg';
import Cursor from 'pg-cursor';
import { pgbenchDatabase } from '../lib/pgbench-db.js';
import { runNodeChild } from '../lib/run-child.js';
import { median, shuffle } from '../lib/stats.js';

const BENCH_DIR = fileURLToPath(new URL('..', import.meta.url));

const DEMO = new URL('../../apps/demo/dist/', import.meta.url);
const { RowCursor } = await import(new URL('row-cursor.js', DEMO).href);
const { gzipNdjson } = await import(new URL('ndjson-gzip.js', DEMO).href);

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' } } });
const rounds = Number(values.rounds);

const ROWS = 1_000_000;
const BATCH = 1000;
const CHUNK = 10_000;
const PIECE = 64 * 1024;

// Real pg row objects (as the cursor hands them out), read once from the scale-1 bench database:
// 100,000 rows, served ten times over.
async function readRows() {
  const client = new pg.Client({ connectionString: await pgbenchDatabase(1) });
  await client.connect();
  try {
    const cursor = client.query(new Cursor('SELECT * FROM pgbench_accounts ORDER BY aid'));
    const out = [];
    for (let batch = await cursor.read(BATCH); batch.length > 0; batch = await cursor.read(BATCH)) {
      out.push(batch);
    }
    await cursor.close();
    return out;
  } finally {
    await client.end();
  }
}
const tableBatches = await readRows();
const batches = Array.from(
  { length: ROWS / BATCH },
  (_, i) => tableBatches[i % tableBatches.length],
);

async function* batchSource() {
  for (const batch of batches) {
    await null; // a cursor read is always asynchronous
    yield batch;
  }
}

const discard = () => new Writable({ write: (_chunk, _enc, done) => done() });

/** The demo's path: RowCursor.take (a batch at a time, read ahead) into gzipNdjson. */
async function demoPath() {
  const rows = new RowCursor(batchSource());
  while (await rows.hasMore()) await pipeline(gzipNdjson(rows.take(CHUNK)), discard());
}

function bigintAsString(_key, value) {
  return typeof value === 'bigint' ? value.toString() : value;
}

/** The plain script's path; `replacer` and `generator` add one of the demo's former costs. */
async function plainPath({ replacer, generator } = {}) {
  const source = batchSource();
  let batch = [];
  let at = 0;
  const more = async () => {
    if (at < batch.length) return true;
    const next = await source.next();
    if (next.done) return false;
    batch = next.value;
    at = 0;
    return true;
  };
  async function* rowsOf(limit) {
    for (let n = 0; n < limit && (await more()); n++) yield batch[at++];
  }
  async function* pieces() {
    let piece = '';
    const rows = generator ? rowsOf(CHUNK) : undefined;
    for (let n = 0; n < CHUNK; n++) {
      let row;
      if (rows) {
        const next = await rows.next();
        if (next.done) break;
        row = next.value;
      } else {
        if (!(await more())) break;
        row = batch[at++];
      }
      piece += `${JSON.stringify(row, replacer)}\n`;
      if (piece.length >= PIECE) {
        yield piece;
        piece = '';
      }
    }
    if (piece.length > 0) yield piece;
  }
  while (await more()) await pipeline(Readable.from(pieces()), createGzip(), discard());
}

const rowPaths = {
  'demo (RowCursor + gzipNdjson)': demoPath,
  'plain loop': () => plainPath(),
  'plain + JSON replacer': () => plainPath({ replacer: bigintAsString }),
  'plain + row generator': () => plainPath({ generator: true }),
};

function cpuMs(fn) {
  const before = process.cpuUsage();
  return fn().then(() => {
    const used = process.cpuUsage(before);
    return (used.user + used.system) / 1000;
  });
}

/** CPU of a child that loads a program's modules and exits, via the child-rss.js preload. */
async function startupCpuMs(script, args, tmp) {
  const { cpuMs } = await runNodeChild(script, args, { tmp, cwd: BENCH_DIR });
  return cpuMs;
}

const startups = {
  'demo: cli.js --help': [fileURLToPath(new URL('cli.js', DEMO)), ['--help']],
  // The plain script's imports, loaded the same way; it has no --help to exit on.
  'plain: its four libraries': [
    '--input-type=module',
    ['-e', "import 'pg'; import 'pg-cursor'; import 'undici'; import 'nodemailer';"],
  ],
};

async function main() {
  const tmp = await mkdtemp(join(tmpdir(), 'kaygraph-probe-'));
  try {
    const boot = Object.fromEntries(Object.keys(startups).map((name) => [name, []]));
    for (let round = 0; round < rounds; round++) {
      for (const name of shuffle(Object.keys(startups))) {
        boot[name].push(await startupCpuMs(...startups[name], tmp));
      }
    }
    console.log(`startup, child CPU ms (median of ${rounds}):`);
    for (const [name, samples] of Object.entries(boot)) {
      console.log(`  ${name.padEnd(32)} ${median(samples).toFixed(0).padStart(6)}`);
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }

  const cpu = Object.fromEntries(Object.keys(rowPaths).map((name) => [name, []]));
  for (const fn of Object.values(rowPaths)) await fn(); // warm up every path once
  for (let round = 0; round < rounds; round++) {
    for (const name of shuffle(Object.keys(rowPaths))) cpu[name].push(await cpuMs(rowPaths[name]));
  }
  console.log(`rows path, CPU ms per ${ROWS.toLocaleString('en')} rows (median of ${rounds}):`);
  for (const [name, samples] of Object.entries(cpu)) {
    console.log(`  ${name.padEnd(32)} ${median(samples).toFixed(0).padStart(6)}`);
  }
}

await main();
