import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { inspect } from 'node:util';
import { AbortedError, ConfigInvalidError } from '@kaygraph/core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DbConnectError, DbError, type DbCopyStream } from '../src/index.js';
import {
  delay,
  skipWithoutRealServer,
  testAppName,
  testTable,
  until,
  useProviders,
} from './pg-target.js';

const appName = testAppName('copy-out');
const table = testTable('copy-out');
const { url, provider } = useProviders(appName);
let admin: pg.Client;

// About 210 bytes a row: two million rows are far more than the socket buffers on both sides
// hold, so a COPY of them is still running when a test stops reading.
const longCopy = "SELECT g, repeat('x', 200) AS pad FROM generate_series(1, 2000000) AS g";

beforeAll(async () => {
  admin = new pg.Client({ connectionString: url(), application_name: `${appName}-admin` });
  await admin.connect();
  await admin.query(`DROP TABLE IF EXISTS ${table}`);
  await admin.query(`CREATE TABLE ${table} (id int PRIMARY KEY, note text)`);
  await admin.query(`INSERT INTO ${table} SELECT g, 'n' || g FROM generate_series(1, 5) AS g`);
});

afterAll(async () => {
  await admin?.query(`DROP TABLE IF EXISTS ${table}`).catch(() => {});
  await admin?.end();
});

/** Every byte of a stream, and how it ended. */
async function drain(stream: DbCopyStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  await pipeline(
    stream,
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        parts.push(chunk);
        done();
      },
    }),
  );
  return Buffer.concat(parts);
}

/** The first chunk of a stream, left paused after it. */
function firstChunk(stream: DbCopyStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    stream.once('error', reject);
    stream.once('data', (chunk: Buffer) => {
      stream.pause();
      stream.off('error', reject);
      resolve(chunk);
    });
  });
}

/** The error a stream ends with; fails the test if it ends cleanly. */
function streamError(stream: DbCopyStream): Promise<unknown> {
  return new Promise((resolve, reject) => {
    stream.once('error', resolve);
    stream.once('end', () => reject(new Error('the stream ended without an error')));
    stream.resume();
  });
}

/** Backends of a provider made with this application_name (the test's own connections). */
async function backends(name: string): Promise<number> {
  const { rows } = await admin.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1',
    [name],
  );
  return rows[0]?.n ?? -1;
}

/** The pid of the backend running a COPY for this application_name, once it runs. */
async function copyBackend(name: string): Promise<number> {
  for (;;) {
    const { rows } = await admin.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity
        WHERE application_name = $1 AND state = 'active' AND query LIKE 'COPY%'`,
      [name],
    );
    if (rows[0] !== undefined) return rows[0].pid;
    await delay(10);
  }
}

describe('copyOut', () => {
  it("streams PostgreSQL's text format byte for byte and releases the lease at the end", async () => {
    const db = provider({ max: 1 });
    const query =
      "SELECT g, 'a' || g AS name, NULL::text AS nothing, E'tab\\there\\nline\\\\' AS odd " +
      'FROM generate_series(1, 20000) AS g';

    const stream = db.copyOut(query);
    const bytes = await drain(stream);

    let expected = '';
    for (let g = 1; g <= 20_000; g++) expected += `${g}\ta${g}\t\\N\ttab\\there\\nline\\\\\n`;
    expect(bytes.toString('utf8')).toBe(expected);
    expect(bytes.toString('utf8').split('\n')).toHaveLength(20_001);
    expect(stream.rowCount).toBe(20_000);
    expect(db.stats()).toMatchObject({ inUse: 0, acquired: 1, released: 1, destroyed: 0 });
    // The connection came back clean: the next call reuses it.
    await expect(db.query('SELECT 1 AS ok')).resolves.toMatchObject({ rows: [{ ok: 1 }] });
    expect(db.stats().created).toBe(1);
  });

  it('writes CSV with a header when asked', async () => {
    const db = provider({ max: 1 });
    const query = `SELECT id, note FROM ${table} WHERE id <= 2 ORDER BY id`;

    const bytes = await drain(db.copyOut(query, { format: 'csv', header: true }));

    expect(bytes.toString('utf8')).toBe('id,note\n1,n1\n2,n2\n');
  });

  it('refuses bad options with ConfigInvalidError before taking a connection', () => {
    const db = provider();
    const calls = [
      () => db.copyOut(''),
      () => db.copyOut('SELECT 1', { format: 'xml' as 'csv' }),
      () => db.copyOut('SELECT 1', { header: true }),
      () => db.copyOut('SELECT 1', { readOnly: 'no' as unknown as boolean }),
      () => db.copyOut('SELECT 1', { highWaterMark: 0 }),
    ];

    for (const call of calls) expect(call).toThrow(ConfigInvalidError);
    expect(db.stats().acquired).toBe(0);
  });

  it.skipIf(skipWithoutRealServer('copyOut destroyed by its consumer'))(
    'a consumer that stops reading and destroys the stream leaves no backend behind',
    async () => {
      const name = `${appName}-destroy`;
      const db = provider({ applicationName: name, max: 1 });
      const stream = db.copyOut(longCopy);

      await firstChunk(stream);
      await copyBackend(name);
      // Long enough for the server to fill the socket and block writing to it.
      await delay(200);
      const closed = new Promise((resolve) => stream.once('close', resolve));
      stream.destroy();
      await closed;

      expect(db.stats()).toMatchObject({ inUse: 0, acquired: 1 });
      await until(() => db.stats().destroyed === 1);
      await until(async () => (await backends(name)) === 0);
    },
  );

  it.skipIf(skipWithoutRealServer('copyOut aborted'))(
    'an abort mid-COPY fails the stream with AbortedError and leaves no backend behind',
    async () => {
      const name = `${appName}-abort`;
      const db = provider({ applicationName: name, max: 1 });
      const controller = new AbortController();
      const stream = db.copyOut(longCopy, { signal: controller.signal });

      await firstChunk(stream);
      await copyBackend(name);
      const failure = streamError(stream);
      controller.abort();

      expect(AbortedError.isInstance(await failure)).toBe(true);
      expect(db.stats().inUse).toBe(0);
      await until(() => db.stats().destroyed === 1);
      await until(async () => (await backends(name)) === 0);
    },
  );

  it('an aborted signal fails the stream before it takes a connection', async () => {
    const db = provider();

    const failure = await streamError(db.copyOut('SELECT 1', { signal: AbortSignal.abort() }));

    expect(AbortedError.isInstance(failure)).toBe(true);
    expect(db.stats().acquired).toBe(0);
  });

  it.skipIf(skipWithoutRealServer('copyOut backend terminated'))(
    'a backend terminated mid-COPY fails the stream with DbConnectError, not a hang',
    async () => {
      const name = `${appName}-terminate`;
      const db = provider({ applicationName: name, max: 1 });
      const stream = db.copyOut(longCopy);

      await firstChunk(stream);
      const pid = await copyBackend(name);
      await admin.query('SELECT pg_terminate_backend($1, 5000)', [pid]);
      const failure = await streamError(stream);

      expect(DbConnectError.isInstance(failure)).toBe(true);
      expect((failure as DbConnectError).code).toBe('KG_DB_CONNECT');
      expect(db.stats()).toMatchObject({ inUse: 0, errors: 1 });
      await until(() => db.stats().destroyed === 1);
      // The provider lends a new connection afterwards.
      await expect(db.query('SELECT 3 AS ok')).resolves.toMatchObject({ rows: [{ ok: 3 }] });
    },
  );

  it('bad SQL fails with DbError naming the table and not the password', async () => {
    // The server's own password when the URL has one; otherwise one it does not ask for.
    const withPassword = new URL(url());
    if (withPassword.password === '') withPassword.password = 'pw-copy-Zx9!secret';
    const password = decodeURIComponent(withPassword.password);
    const db = provider({ connectionString: withPassword.toString(), max: 1 });

    const failure = await streamError(db.copyOut('SELECT * FROM kg_no_such_copy_table'));

    expect(DbError.isInstance(failure)).toBe(true);
    expect((failure as DbError).sqlState).toBe('42P01');
    expect((failure as DbError).table).toBe('kg_no_such_copy_table');
    expect(inspect(failure, { depth: 6 })).not.toContain(password);
    expect(db.stats().inUse).toBe(0);
    await expect(db.query('SELECT 2 AS ok')).resolves.toMatchObject({ rows: [{ ok: 2 }] });
  });

  it('refuses a writing query with sqlState 25006 and changes nothing', async () => {
    const db = provider({ max: 1 });

    const failure = await streamError(db.copyOut(`DELETE FROM ${table} RETURNING *`));

    expect(DbError.isInstance(failure)).toBe(true);
    expect((failure as DbError).sqlState).toBe('25006');
    const { rows } = await admin.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
    expect(rows[0]?.n).toBe(5);
    expect(db.stats().inUse).toBe(0);
  });

  it('a failing consumer in a pipeline destroys the stream and its connection', async () => {
    const db = provider({ max: 1 });
    const mine = new Error('the sink failed');

    const failure = await pipeline(
      db.copyOut(longCopy),
      new Writable({
        write(_chunk, _encoding, done) {
          done(mine);
        },
      }),
    ).catch((error: unknown) => error);

    expect(failure).toBe(mine);
    expect(db.stats().inUse).toBe(0);
    await until(() => db.stats().destroyed === 1);
  });
});
