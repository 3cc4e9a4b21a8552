// Group 6: the upload stage alone. The same gzip NDJSON chunk bodies PUT to the same local sink
// (a child process that reads each body and answers 201) through @kaygraph/provider-http and
// through a loop of raw undici requests on a Pool, both with the demo's 4 requests in flight.
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { createHttpProvider } from '@kaygraph/provider-http';
import { Pool } from 'undici';
import { EXPORT_SETTINGS } from '../lib/export-runs.js';
import { startSink } from '../lib/start-sink.js';
import { median, pairedRatio, percentile, shuffle } from '../lib/stats.js';

const { concurrency, chunkRows } = EXPORT_SETTINGS;
const DISTINCT_BODIES = 8;

/** Chunks shaped like the demo's: `chunkRows` pgbench_accounts rows as gzip NDJSON. */
function makeChunks() {
  return Array.from({ length: DISTINCT_BODIES }, (_, b) => {
    let text = '';
    for (let i = 1; i <= chunkRows; i++) {
      const aid = b * chunkRows + i;
      const row = { aid, bid: 1 + Math.floor(aid / 100_000), abalance: 0, filler: ' '.repeat(84) };
      text += `${JSON.stringify(row)}\n`;
    }
    const body = gzipSync(text);
    const digest = `sha-256=:${createHash('sha256').update(body).digest('base64')}:`;
    return { name: `chunk-${String(b + 1).padStart(6, '0')}.ndjson.gz`, body, digest };
  });
}

function headersOf(chunk) {
  return {
    'content-type': 'application/x-ndjson',
    'content-encoding': 'gzip',
    'content-digest': chunk.digest,
  };
}

const contenders = {
  kaygraph: (origin) => {
    const http = createHttpProvider({ origin, connections: concurrency });
    return {
      open: () => http.open(),
      async put(path, chunk, key) {
        await http.request({
          method: 'PUT',
          path,
          headers: headersOf(chunk),
          body: chunk.body,
          idempotencyKey: key,
        });
      },
      close: () => http.close(),
    };
  },
  undici: (origin) => {
    const pool = new Pool(origin, { connections: concurrency });
    return {
      open: async () => {},
      async put(path, chunk, key) {
        const response = await pool.request({
          method: 'PUT',
          path,
          headers: { ...headersOf(chunk), 'idempotency-key': key },
          body: chunk.body,
        });
        await response.body.arrayBuffer();
        if (response.statusCode >= 400) throw new Error(`PUT ${path}: ${response.statusCode}`);
      },
      close: () => pool.close(),
    };
  },
};

/**
 * `count` uploads by `concurrency` workers. Returns uploads per second, the p99 time of one, and
 * the client's CPU time per upload (the sink runs in another process, so this is the client's).
 */
async function uploadRound(name, origin, chunks, count, round) {
  const client = contenders[name](origin);
  await client.open();
  const times = [];
  let next = 0;
  const worker = async (record) => {
    for (let i = next++; i < count; i = next++) {
      const chunk = chunks[i % chunks.length];
      const key = `${name}-${round}-${i}`;
      const t0 = performance.now();
      await client.put(`/upload/${name}-${round}/${i}-${chunk.name}`, chunk, key);
      if (record) times.push(performance.now() - t0);
    }
  };
  // Warm up: open the connections and let the JIT see the path before the clock starts.
  await Promise.all(Array.from({ length: concurrency }, () => worker(false)));
  next = 0;
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, () => worker(true)));
  const elapsed = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  await client.close();
  const cpuMsPerPut = (cpu.user + cpu.system) / 1000 / count;
  return { rate: (count * 1000) / elapsed, p99: percentile(times, 99), cpuMsPerPut };
}

export async function runUploadGroup({ quick }) {
  // Many short rounds: the load on a shared machine changes within seconds.
  const rounds = quick ? 3 : 15;
  const count = quick ? 60 : 500;
  const chunks = makeChunks();
  const bodyBytes = chunks.reduce((sum, c) => sum + c.body.length, 0) / chunks.length;
  const names = Object.keys(contenders);
  const samples = Object.fromEntries(names.map((n) => [n, { rate: [], p99: [], cpu: [] }]));
  const sink = await startSink();
  try {
    for (let round = 0; round < rounds; round++) {
      for (const name of shuffle(names)) {
        const r = await uploadRound(name, sink.url, chunks, count, round);
        samples[name].rate.push(r.rate);
        samples[name].p99.push(r.p99);
        samples[name].cpu.push(r.cpuMsPerPut);
      }
    }
  } finally {
    await sink.close();
  }

  const rows = names.map((name) => ({
    contender: name,
    median: median(samples[name].rate),
    p99: median(samples[name].p99),
    samples: samples[name].rate,
  }));
  const cpuRows = names.map((name) => ({
    contender: name,
    median: median(samples[name].cpu),
    samples: samples[name].cpu,
  }));
  const ratio = pairedRatio(samples.kaygraph.rate, samples.undici.rate);
  const cpuRatio = pairedRatio(samples.kaygraph.cpu, samples.undici.cpu);
  return {
    name: 'Upload stage: http provider vs raw undici',
    unit: 'chunks/s',
    rounds,
    note:
      `${count} PUTs per round, ${concurrency} in flight, ${chunkRows}-row gzip NDJSON bodies ` +
      `of ${(bodyBytes / 1024).toFixed(0)} KiB, to a sink in a child process; p99 is the median ` +
      'over rounds of each round\'s p99; the goal uses the median of per-round ratios; client ' +
      `CPU per PUT provider / raw ${cpuRatio.toFixed(3)}`,
    tables: [
      {
        title: `PUT rate, ${concurrency} in flight`,
        columns: ['median', 'p99'],
        p99Unit: 'ms per PUT',
        rows,
      },
      {
        title: 'client CPU time per PUT (this process; the sink is another)',
        unit: 'ms CPU',
        lowerIsBetter: true,
        columns: ['median'],
        rows: cpuRows,
      },
    ],
    goals: [
      {
        goal: 'http provider ≥ 0.95× the raw undici rate',
        value: ratio,
        target: 0.95,
        met: ratio >= 0.95,
      },
    ],
  };
}
