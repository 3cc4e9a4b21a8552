import { gzipSync } from 'node:zlib';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { contentDigest } from '../src/content-digest.js';
import {
  type UploadReceiver,
  type UploadReceiverOptions,
  startUploadReceiver,
} from '../src/receiver.js';

const TOKEN = 'receiver-test-token';
const body = gzipSync('{"id":1}\n{"id":2}\n{"id":3}\n');

describe('upload receiver', () => {
  let receiver: UploadReceiver | undefined;

  afterEach(async () => {
    await receiver?.close();
    receiver = undefined;
  });

  async function start(options: UploadReceiverOptions = {}) {
    receiver = await startUploadReceiver({ token: TOKEN, ...options });
    return receiver;
  }

  function put(
    chunk: string,
    options: { bytes?: Buffer; digest?: string; token?: string; key?: string; type?: string } = {},
  ) {
    const bytes = options.bytes ?? body;
    return request(`${receiver!.url}/run-1/${chunk}`, {
      method: 'PUT',
      headers: {
        'content-type': options.type ?? 'application/x-ndjson',
        'content-encoding': 'gzip',
        'content-digest': options.digest ?? contentDigest(bytes),
        'idempotency-key': options.key ?? `run-1:${chunk}`,
        authorization: `Bearer ${options.token ?? TOKEN}`,
      },
      body: bytes,
    }).then(async (res) => ({ status: res.statusCode, text: await res.body.text() }));
  }

  it('stores a chunk and counts its rows', async () => {
    await start();
    const answer = await put('chunk-000001.ndjson.gz');
    expect(answer.status).toBe(201);
    expect(receiver!.stats()).toMatchObject({ chunksStored: 1, rowsReceived: 3 });
    expect(receiver!.rowsFor('run-1')).toBe(3);
  });

  it('counts the lines of a TSV chunk, escaped newlines inside values included', async () => {
    await start();
    const tsv = gzipSync('1\ttwo\\nlines\n2\t\\N\n');
    const answer = await put('chunk-000001.tsv.gz', {
      bytes: tsv,
      type: 'text/tab-separated-values',
    });
    expect(answer.status).toBe(201);
    expect(receiver!.stats()).toMatchObject({ chunksStored: 1, rowsReceived: 2 });
  });

  it('refuses a body type it cannot count rows of with 415', async () => {
    await start();
    expect((await put('c1', { type: 'text/csv' })).status).toBe(415);
    expect(receiver!.stats().chunksStored).toBe(0);
  });

  it('refuses a wrong bearer token with 401', async () => {
    await start();
    expect((await put('c1', { token: 'wrong' })).status).toBe(401);
    expect(receiver!.stats().rowsReceived).toBe(0);
  });

  it('refuses a body whose digest does not match with 400', async () => {
    await start();
    const answer = await put('c1', { digest: contentDigest(Buffer.from('other bytes')) });
    expect(answer.status).toBe(400);
    expect(receiver!.stats().chunksStored).toBe(0);
  });

  it('stores a repeated idempotency key once and answers 200', async () => {
    await start();
    const [first, second] = await Promise.all([put('c1'), put('c1')]);
    expect([first.status, second.status].sort()).toEqual([200, 201]);
    expect((await put('c1')).status).toBe(200);
    expect(receiver!.stats()).toMatchObject({ chunksStored: 1, rowsReceived: 3, duplicates: 2 });
  });

  it('injects the same faults for the same seed', async () => {
    const outcomes: number[][] = [];
    for (let round = 0; round < 2; round += 1) {
      await start({ faults: { statusRate: 0.3, resetRate: 0.2, seed: 7 } });
      const statuses: number[] = [];
      for (let i = 0; i < 20; i += 1) {
        statuses.push(await put(`c${i}`).then((a) => a.status, () => -1));
      }
      outcomes.push(statuses);
      await receiver!.close();
      receiver = undefined;
    }
    expect(outcomes[0]).toEqual(outcomes[1]);
    expect(outcomes[0]).toContain(503);
    expect(outcomes[0]).toContain(-1);
    expect(outcomes[0]).toContain(201);
  });
});
