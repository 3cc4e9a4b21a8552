import { createServer, type Server } from 'node:net';
import { inspect } from 'node:util';
import { subscribeAll } from '@kaygraph/core';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDbProvider, DbConnectError, DbError, type DbProvider } from '../src/index.js';
import { startEchoPgServer, type EchoPgServer } from './echo-pg-server.js';
import {
  type PgTarget,
  skipWithoutRealServer,
  startTarget,
  testAppName,
  until,
} from './pg-target.js';
import { unusedPort } from './ports.js';

// The password of the connection string (or the `password` option) must appear nowhere: not in
// an error, its stack or any of its causes, an event, describe(), stats() or a health report,
// whichever way a connection or a statement fails.

const appName = testAppName('secrets');
const PASSWORD = 'pw-Kq7!z/hunter2';
const STARTUP_TIMEOUT_MS = 120_000;
let target: PgTarget;
let echo: EchoPgServer;
let silent: Server;
let admin: pg.Client | undefined;
const providers: DbProvider[] = [];
const output: string[] = [];
let stopListening: () => void;

beforeAll(async () => {
  target = await startTarget();
  echo = await startEchoPgServer();
  // Accepts and never answers.
  silent = createServer((socket) => socket.resume());
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  if (target.real) {
    admin = new pg.Client({ connectionString: target.url, application_name: `${appName}-admin` });
    await admin.connect();
  }
}, STARTUP_TIMEOUT_MS);

afterEach(async () => {
  stopListening?.();
  await Promise.all(providers.splice(0).map((p) => p.destroy()));
  output.length = 0;
});

afterAll(async () => {
  await admin?.end();
  await echo.close();
  await new Promise((resolve) => silent.close(resolve));
  await target.close();
});

function listen(): void {
  stopListening = subscribeAll((payload, name) => {
    output.push(`${name} ${JSON.stringify(payload)}`);
  });
}

function track(db: DbProvider): DbProvider {
  providers.push(db);
  return db;
}

/** Everything an error can show: message, stack, causes (with their stacks), own fields. */
function shown(error: unknown): string {
  return [String(error), inspect(error, { depth: 10 }), JSON.stringify(error)].join('\n');
}

async function failure(work: Promise<unknown>): Promise<unknown> {
  const error = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(Error);
  output.push(shown(error));
  return error;
}

/** Record what a provider shows about itself, closing it (close events are output too). */
async function describeAndClose(db: DbProvider): Promise<void> {
  output.push(JSON.stringify(await db.check()));
  output.push(JSON.stringify(db.describe()), JSON.stringify(db.stats()));
  await db.close({ timeoutMs: 50 });
  output.push(JSON.stringify(await db.check()));
}

function expectNoSecret(secrets: string[]): void {
  const text = output.join('\n');
  for (const secret of secrets) expect(text).not.toContain(secret);
}

describe('passwords', () => {
  it('stay out of a failed login whose server repeats the password it was sent', async () => {
    listen();
    const db = track(
      createDbProvider({ connectionString: echo.url('kg', PASSWORD, 'orders'), max: 1 }),
    );

    const error = await failure(db.acquire());
    await failure(db.query('SELECT 1'));
    await failure(db.transaction(async () => 1));
    await failure((async () => {
      for await (const _rows of db.stream('SELECT 1')) break;
    })());
    await describeAndClose(db);

    expect(echo.received).toContain(PASSWORD);
    expect(DbConnectError.isInstance(error)).toBe(true);
    expect((error as DbConnectError).sqlState).toBe('28P01');
    const text = output.join('\n');
    expect(text).toContain('password authentication failed');
    expect(text).toContain(`127.0.0.1:${echo.port}/orders`);
    expectNoSecret([PASSWORD, encodeURIComponent(PASSWORD)]);
  });

  it('stay out when given as the password query parameter', async () => {
    listen();
    const url = `postgres://kg@127.0.0.1:${echo.port}/orders?password=${encodeURIComponent(PASSWORD)}`;
    const db = track(createDbProvider({ connectionString: url, max: 1 }));

    await failure(db.query('SELECT 1'));
    await describeAndClose(db);

    expect(echo.received).toContain(PASSWORD);
    expect(output.join('\n')).toContain('password authentication failed');
    expectNoSecret([PASSWORD, encodeURIComponent(PASSWORD)]);
  });

  it('stay out when given as the password option', async () => {
    listen();
    const db = track(
      createDbProvider({
        host: '127.0.0.1',
        port: echo.port,
        user: 'kg',
        password: PASSWORD,
        database: 'orders',
      }),
    );

    await failure(db.query('SELECT 1'));
    await describeAndClose(db);

    expect(echo.received).toContain(PASSWORD);
    expect(output.join('\n')).toContain('password authentication failed');
    expectNoSecret([PASSWORD]);
  });

  it('stay out of refused and unanswered connects', async () => {
    listen();
    const refusedPort = await unusedPort();
    const { port: silentPort } = silent.address() as { port: number };
    const refused = track(
      createDbProvider({
        connectionString: urlFor(refusedPort),
      }),
    );
    const unanswered = track(
      createDbProvider({
        connectionString: urlFor(silentPort),
        connectTimeoutMs: 100,
        acquireTimeoutMs: 50,
      }),
    );

    const refusal = await failure(refused.acquire());
    await failure(unanswered.acquire());
    await describeAndClose(refused);
    await describeAndClose(unanswered);

    expect(DbConnectError.isInstance(refusal)).toBe(true);
    expect(output.join('\n')).toContain('ECONNREFUSED');
    expectNoSecret([PASSWORD, encodeURIComponent(PASSWORD)]);
  });

  it.skipIf(skipWithoutRealServer('secrets through statement and connection failures'))(
    'stay out of statement errors, broken connections, aborts and shutdown on a real server',
    async () => {
      // The server's own password when the URL has one; otherwise one it does not ask for.
      const url = new URL(target.url);
      if (url.password === '') url.password = encodeURIComponent(PASSWORD);
      const secrets = [decodeURIComponent(url.password), url.password];
      listen();
      const db = track(
        createDbProvider({ connectionString: url.toString(), applicationName: appName, max: 2 }),
      );

      const statement = await failure(db.query('SELECT * FROM kg_no_such_table_for_secrets'));
      const lease = await db.acquire();
      await (admin as pg.Client).query(
        'SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE application_name = $1',
        [appName],
      );
      const broken = await failure(lease.resource.query('SELECT 1'));
      await lease.release();
      await until(() => db.stats().destroyed >= 1);
      await failure(db.query('SELECT pg_sleep(10)', [], { signal: AbortSignal.abort('stop') }));
      await describeAndClose(db);

      expect(DbError.isInstance(statement)).toBe(true);
      expect(broken).toBeInstanceOf(Error);
      expect(output.join('\n')).toContain('kg_no_such_table_for_secrets');
      expectNoSecret(secrets);
    },
  );
});

function urlFor(port: number): string {
  return `postgres://kg:${encodeURIComponent(PASSWORD)}@127.0.0.1:${port}/db`;
}


describe('a connection string that cannot be read safely', () => {
  // As a new user typed them: reserved characters left unencoded in the password, and a libpq
  // keyword/value string, which pg does not read.
  it.each([
    ['a "/" in the password', 'postgres://postgres:2024/Summer@127.0.0.1:5432/test', 'Summer'],
    ['a "#" in the password', 'postgres://postgres:8080#Frag9@127.0.0.1:5432/test', 'Frag9'],
    ['a "?" in the password', 'postgresql://kg:5432?Zq9Secret@127.0.0.1/test', 'Zq9Secret'],
    ['an unparsable URL', 'postgres://kg:abc/Zq9Secret@127.0.0.1:5432/test', 'Zq9Secret'],
    [
      'a libpq keyword/value string',
      'host=127.0.0.1 port=5432 dbname=test user=postgres password=Zq9Secret',
      'Zq9Secret',
    ],
    ['a quoted libpq password', "host=127.0.0.1 password='Zq9 Secret'", 'Zq9'],
  ])('is refused up front, without the password, for %s', (_what, connectionString, secret) => {
    listen();
    let error: unknown;
    try {
      track(createDbProvider({ connectionString }));
    } catch (e) {
      error = e;
    }
    output.push(shown(error));

    expect(error).toMatchObject({ code: 'KG_CONFIG_INVALID' });
    expect(String(error)).toContain('"connectionString"');
    expect(String(error)).toMatch(/percent-encode|keyword\/value/);
    expect(providers).toHaveLength(0);
    expectNoSecret([secret]);
  });
});
