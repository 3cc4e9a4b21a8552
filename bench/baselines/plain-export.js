#!/usr/bin/env node
// The demo's export job written by hand, as a user without KayGraph would: the same libraries
// (pg with pg-cursor, node:zlib, undici, nodemailer) and the same shape of work, with no
// framework. Rows are read through a cursor in batches, cut into gzip NDJSON chunk files in a
// temp directory, and each finished chunk is PUT (Content-Digest, Idempotency-Key) by one of
// `concurrency` workers while later chunks are still being written; a summary mail ends it.
//
// node bench/baselines/plain-export.js --db-url URL --sql SQL --api-url URL --smtp-url URL
//   [--batch-size 1000] [--chunk-rows 10000] [--concurrency 4] [--report FILE]
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { createGzip } from 'node:zlib';
import nodemailer from 'nodemailer';
import pg from 'pg';
import Cursor from 'pg-cursor';
import { Pool } from 'undici';

const { values: args } = parseArgs({
  options: {
    'db-url': { type: 'string' },
    sql: { type: 'string' },
    'api-url': { type: 'string' },
    'smtp-url': { type: 'string' },
    'batch-size': { type: 'string', default: '1000' },
    'chunk-rows': { type: 'string', default: '10000' },
    concurrency: { type: 'string', default: '4' },
    report: { type: 'string' },
  },
});
for (const required of ['db-url', 'sql', 'api-url', 'smtp-url']) {
  if (!args[required]) throw new Error(`--${required} is required`);
}
const batchSize = Number(args['batch-size']);
const chunkRows = Number(args['chunk-rows']);
const concurrency = Number(args.concurrency);

/** Lines go to gzip in pieces of about this size rather than one write per row. */
const PIECE_BYTES = 64 * 1024;

/** Finished chunk files waiting for an uploader; the writer waits while `limit` are queued. */
class ChunkQueue {
  items = [];
  takers = [];
  room = [];
  ended = false;

  constructor(limit) {
    this.limit = limit;
  }

  async put(item) {
    while (this.items.length >= this.limit) await new Promise((wake) => this.room.push(wake));
    const taker = this.takers.shift();
    if (taker) taker(item);
    else this.items.push(item);
  }

  async take() {
    if (this.items.length > 0) {
      this.room.shift()?.();
      return this.items.shift();
    }
    if (this.ended) return undefined;
    return new Promise((resolve) => this.takers.push(resolve));
  }

  end() {
    this.ended = true;
    for (const taker of this.takers.splice(0)) taker(undefined);
  }
}

/** Rows from the cursor one at a time, a batch held at most. */
class Rows {
  batch = [];
  at = 0;
  done = false;

  constructor(cursor) {
    this.cursor = cursor;
  }

  async more() {
    if (this.at < this.batch.length) return true;
    if (this.done) return false;
    this.batch = await this.cursor.read(batchSize);
    this.at = 0;
    this.done = this.batch.length < batchSize;
    return this.batch.length > 0;
  }
}

/** NDJSON of up to `chunkRows` rows, in pieces. */
async function* ndjson(rows, chunk) {
  let piece = '';
  while (chunk.rows < chunkRows && (await rows.more())) {
    piece += `${JSON.stringify(rows.batch[rows.at++])}\n`;
    chunk.rows += 1;
    if (piece.length >= PIECE_BYTES) {
      yield piece;
      piece = '';
    }
  }
  if (piece.length > 0) yield piece;
}

async function writeChunks(client, dir, queue, totals) {
  const cursor = client.query(new Cursor(args.sql));
  const rows = new Rows(cursor);
  try {
    for (let index = 1; await rows.more(); index += 1) {
      const name = `chunk-${String(index).padStart(6, '0')}.ndjson.gz`;
      const chunk = { name, path: join(dir, name), rows: 0 };
      const file = createWriteStream(chunk.path);
      await pipeline(Readable.from(ndjson(rows, chunk)), createGzip(), file);
      totals.rowsRead += chunk.rows;
      totals.chunksWritten += 1;
      await queue.put(chunk);
    }
    await cursor.close();
  } finally {
    queue.end();
  }
}

async function uploadChunks(http, basePath, runId, queue, totals) {
  for (let chunk = await queue.take(); chunk !== undefined; chunk = await queue.take()) {
    const body = await readFile(chunk.path);
    const digest = createHash('sha256').update(body).digest('base64');
    const response = await http.request({
      method: 'PUT',
      path: `${basePath}/${runId}/${chunk.name}`,
      headers: {
        'content-type': 'application/x-ndjson',
        'content-encoding': 'gzip',
        'content-digest': `sha-256=:${digest}:`,
        'idempotency-key': `${runId}:${chunk.name}`,
      },
      body,
    });
    const answer = await response.body.text();
    if (response.statusCode >= 300) {
      throw new Error(`PUT ${chunk.name}: ${response.statusCode} ${answer}`);
    }
    totals.rowsUploaded += chunk.rows;
    totals.chunksUploaded += 1;
    await rm(chunk.path);
  }
}

async function sendSummary(runId, totals, started) {
  const transport = nodemailer.createTransport(args['smtp-url']);
  try {
    await transport.sendMail({
      from: 'plain-export@localhost',
      to: 'ops@localhost',
      subject: `export ${runId}: ${totals.rowsUploaded} rows uploaded`,
      text:
        `Rows read: ${totals.rowsRead}\nRows uploaded: ${totals.rowsUploaded}\n` +
        `Chunks uploaded: ${totals.chunksUploaded}\n` +
        `Duration: ${((performance.now() - started) / 1000).toFixed(1)} s\n`,
    });
  } finally {
    transport.close();
  }
}

async function main() {
  const started = performance.now();
  const runId = `plain-${randomBytes(4).toString('hex')}`;
  const totals = { rowsRead: 0, rowsUploaded: 0, chunksWritten: 0, chunksUploaded: 0 };
  const api = new URL(args['api-url']);
  const dir = await mkdtemp(join(tmpdir(), 'plain-export-'));
  const client = new pg.Client({ connectionString: args['db-url'] });
  const http = new Pool(api.origin, { connections: concurrency });
  try {
    await client.connect();
    const queue = new ChunkQueue(concurrency);
    const basePath = api.pathname.replace(/\/+$/, '');
    await Promise.all([
      writeChunks(client, dir, queue, totals),
      ...Array.from({ length: concurrency }, () =>
        uploadChunks(http, basePath, runId, queue, totals),
      ),
    ]);
    await sendSummary(runId, totals, started);
  } finally {
    await client.end();
    await http.close();
    await rm(dir, { recursive: true, force: true });
  }
  if (args.report) {
    const report = {
      ok: true,
      runId,
      rows: { read: totals.rowsRead, uploaded: totals.rowsUploaded },
      chunks: { written: totals.chunksWritten, uploaded: totals.chunksUploaded },
      durationMs: Math.round(performance.now() - started),
    };
    await writeFile(args.report, `${JSON.stringify(report, null, 2)}\n`);
  }
}

// A failed upload leaves the writer waiting for room in the queue; a script just stops there.
main().catch((error) => {
  console.error(`plain-export: ${error.stack ?? error}`);
  process.exit(1);
});
