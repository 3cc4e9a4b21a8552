import type { ConnectionOptions } from 'node:tls';
import {
  ConfigInvalidError,
  checkInteger,
  checkObject,
  checkString,
  checkUrl,
  describeValue,
  maskUserinfo,
  redactUrl,
  rejectUnknownKeys,
} from '@kaygraph/core';
import type { DbTarget } from './db-errors.js';

/** Options of {@link createDbProvider}. Give either `connectionString` or the separate fields. */
export interface DbProviderOptions {
  /** Registered provider name. Default `'db'`. */
  name?: string;
  /**
   * `postgres://user:password@host:port/database?…`. The password in it is never shown in an
   * error, an event or `describe()`. Not combined with `host`/`port`/`user`/`password`/`database`.
   * Reserved characters in the user name or password must be percent-encoded (`/` as `%2F`): a
   * URL with an `@` after its host is refused, since the parser would read part of the password
   * as the port and database. A libpq keyword/value string (`host=… password=…`) is refused too,
   * as pg does not read it; give the separate options instead.
   */
  connectionString?: string;
  /** Server host. Default: pg's default (`PGHOST` or `localhost`). */
  host?: string;
  /** Server port. Default: pg's default (`PGPORT` or `5432`). */
  port?: number;
  /** Role to connect as. Default: pg's default (`PGUSER` or the OS user). */
  user?: string;
  /** Password of the role. Never shown anywhere. */
  password?: string;
  /** Database name. Default: pg's default (`PGDATABASE` or the user name). */
  database?: string;
  /** Most connections open at once. Default `10`. */
  max?: number;
  /** Close a connection idle this long; 0 keeps idle connections open. Default `10000`. */
  idleTimeoutMs?: number;
  /**
   * Longest wait for a connection in `acquire()` and every method that takes one; 0 waits
   * forever. A per-call `timeoutMs` can shorten it, not lengthen it. Default `10000`.
   */
  acquireTimeoutMs?: number;
  /** Longest time one connection attempt (TCP, TLS, authentication) may take. Default `10000`. */
  connectTimeoutMs?: number;
  /**
   * After a connection attempt fails, an acquire that needs a new connection waits for the next
   * attempt instead of making its own: one attempt after this many ms, doubling per failure up to
   * `connectRetryMaxMs`. A failed attempt fails every acquire waiting with its error; one that
   * works lets them all connect. Default `100`.
   */
  connectRetryMs?: number;
  /** Longest wait between connection attempts while they fail. Default `10000`. */
  connectRetryMaxMs?: number;
  /** `application_name` of every connection, shown in `pg_stat_activity`. Default `'kaygraph'`. */
  applicationName?: string;
  /** `statement_timeout` of every connection in ms; unset leaves the server's setting. */
  statementTimeoutMs?: number;
  /** Report a lease held longer than this many ms, with its taker's stack; 0 = off. Default `0`. */
  leakDetectionMs?: number;
  /**
   * A connection that sat idle longer than this is checked with `SELECT 1` before it is lent,
   * and replaced if the check fails; 0 checks every reuse, `Infinity` never. Connections the
   * server dropped are normally evicted earlier, by their error event. Default `1000`.
   */
  validateAfterIdleMs?: number;
  /**
   * TLS: `true`, or Node TLS options (`ca`, `rejectUnauthorized`, …). Default: no TLS. With TLS
   * on, the server's certificate is verified unless `rejectUnauthorized: false` (or `sslmode=
   * no-verify` in the connection string) turns that off, which `describe()` reports as
   * `tlsVerify: false` and opening the provider publishes as a warning.
   */
  ssl?: boolean | ConnectionOptions;
}

/** Options after validation, with defaults filled in. */
export interface ResolvedDbOptions {
  name: string;
  /** Connection settings for pg, exactly as the caller gave them (secrets included). */
  connection: {
    connectionString?: string;
    host?: string;
    port?: number;
    user?: string;
    password?: string;
    database?: string;
  };
  max: number;
  idleTimeoutMs: number;
  acquireTimeoutMs: number;
  connectTimeoutMs: number;
  connectRetryMs: number;
  connectRetryMaxMs: number;
  applicationName: string;
  statementTimeoutMs: number | undefined;
  leakDetectionMs: number;
  validateAfterIdleMs: number;
  ssl: boolean | ConnectionOptions | undefined;
  /** Whether connections use TLS and verify the server's certificate, as pg will do it. */
  tls: { enabled: boolean; verify: boolean };
  /** Where connections go, for messages and `describe()`. */
  target: DbTarget & { user: string };
  /** Text that must be masked wherever a message is made. */
  secrets: string[];
}

const where = 'createDbProvider';

const knownKeys = [
  'name',
  'connectionString',
  'host',
  'port',
  'user',
  'password',
  'database',
  'max',
  'idleTimeoutMs',
  'acquireTimeoutMs',
  'connectTimeoutMs',
  'connectRetryMs',
  'connectRetryMaxMs',
  'applicationName',
  'statementTimeoutMs',
  'leakDetectionMs',
  'validateAfterIdleMs',
  'ssl',
] as const;

const separateKeys = ['host', 'port', 'user', 'password', 'database'] as const;

/** Check every option, one at a time, naming the bad one; fill in defaults. */
export function resolveDbOptions(input: unknown): ResolvedDbOptions {
  const options = checkObject(where, input);
  rejectUnknownKeys(where, options, knownKeys);
  const connection = resolveConnection(options);
  const passwords = [connection.password, ...passwordsOf(connection.connectionString)];
  const ssl = checkSsl(options.ssl);
  const statementTimeoutMs = options.statementTimeoutMs;

  return {
    name: checkString(where, 'name', options.name, 'db'),
    connection,
    max: checkInteger(where, 'max', options.max, 10, { min: 1 }),
    idleTimeoutMs: checkInteger(where, 'idleTimeoutMs', options.idleTimeoutMs, 10_000, { min: 0 }),
    acquireTimeoutMs: checkInteger(where, 'acquireTimeoutMs', options.acquireTimeoutMs, 10_000, {
      min: 0,
    }),
    connectTimeoutMs: checkInteger(where, 'connectTimeoutMs', options.connectTimeoutMs, 10_000, {
      min: 0,
    }),
    connectRetryMs: checkInteger(where, 'connectRetryMs', options.connectRetryMs, 100, { min: 1 }),
    connectRetryMaxMs: checkInteger(where, 'connectRetryMaxMs', options.connectRetryMaxMs, 10_000, {
      min: 1,
    }),
    applicationName: checkString(where, 'applicationName', options.applicationName, 'kaygraph'),
    statementTimeoutMs:
      statementTimeoutMs === undefined
        ? undefined
        : checkInteger(where, 'statementTimeoutMs', statementTimeoutMs, 0, { min: 0 }),
    leakDetectionMs: checkInteger(where, 'leakDetectionMs', options.leakDetectionMs, 0, { min: 0 }),
    validateAfterIdleMs: checkInteger(
      where,
      'validateAfterIdleMs',
      options.validateAfterIdleMs,
      1000,
      { min: 0, allowInfinity: true },
    ),
    ssl,
    tls: tlsOf(connection.connectionString, ssl),
    target: targetOf(connection),
    secrets: passwords.filter((p): p is string => p !== undefined && p.length > 0),
  };
}

function resolveConnection(options: Record<string, unknown>): ResolvedDbOptions['connection'] {
  const connectionString = options.connectionString;
  if (connectionString !== undefined) {
    const clash = separateKeys.find((key) => options[key] !== undefined);
    if (clash !== undefined) {
      throw new ConfigInvalidError(
        `${where}: option "${clash}" cannot be combined with "connectionString"; ` +
          'put it in the connection string or drop the connection string',
      );
    }
    return { connectionString: checkConnectionString(connectionString) };
  }

  const password = options.password;
  if (password !== undefined && typeof password !== 'string') {
    throw new ConfigInvalidError(`${where}: option "password" must be a string`);
  }
  return {
    ...optionalString(options, 'host'),
    ...(options.port === undefined
      ? {}
      : { port: checkInteger(where, 'port', options.port, 5432, { min: 1, max: 65535 }) }),
    ...optionalString(options, 'user'),
    ...(password === undefined ? {} : { password }),
    ...optionalString(options, 'database'),
  };
}

function checkConnectionString(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new ConfigInvalidError(
      `${where}: option "connectionString" must be a non-empty string, got ${
        typeof value === 'string' ? 'an empty string' : describeValue(value)
      }`,
    );
  }
  // pg reads only URLs; a libpq keyword/value string would be taken for a relative URL.
  if (/^\s*[a-z_]+\s*=/i.test(value)) {
    throw new ConfigInvalidError(
      `${where}: option "connectionString" must be a postgres:// URL, not a keyword/value ` +
        'string, which pg does not read; give a URL or the host, port, user, password and ' +
        `database options, got ${JSON.stringify(maskUserinfo(value))}`,
    );
  }
  // Refuses text that does not parse, or would parse with a password split into port and path.
  const url = checkUrl(where, 'connectionString', value);
  if (!['postgres:', 'postgresql:'].includes(url.protocol)) {
    throw new ConfigInvalidError(
      `${where}: option "connectionString" must be a postgres:// or postgresql:// URL, ` +
        `got ${JSON.stringify(redactUrl(value))}`,
    );
  }
  return value;
}

function optionalString(options: Record<string, unknown>, key: string): Record<string, string> {
  const value = options[key];
  return value === undefined ? {} : { [key]: checkString(where, key, value) };
}

function checkSsl(value: unknown): boolean | ConnectionOptions | undefined {
  if (value === undefined || typeof value === 'boolean') return value;
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    return value as ConnectionOptions;
  }
  throw new ConfigInvalidError(
    `${where}: option "ssl" must be a boolean or TLS options, got ${describeValue(value)}`,
  );
}

/**
 * TLS as pg will use it: the connection string's `sslmode`/`ssl` parameters win over the `ssl`
 * option, as they do in pg; `sslmode=no-verify` and `rejectUnauthorized: false` skip
 * verification.
 */
function tlsOf(
  connectionString: string | undefined,
  ssl: boolean | ConnectionOptions | undefined,
): { enabled: boolean; verify: boolean } {
  const params =
    connectionString === undefined ? undefined : new URL(connectionString).searchParams;
  const mode = params?.get('sslmode');
  const flag = params?.get('ssl');
  const off = mode === 'disable' || flag === '0' || flag === 'false';
  if (off) return { enabled: false, verify: true };
  if (mode === 'no-verify') return { enabled: true, verify: false };
  if (mode || flag === '1' || flag === 'true') return { enabled: true, verify: true };
  if (ssl === undefined || ssl === false) return { enabled: false, verify: true };
  return { enabled: true, verify: ssl === true || ssl.rejectUnauthorized !== false };
}

// pg takes the password from the userinfo or, failing that, from a `password` query parameter;
// both spellings of each (as written and decoded) are masked.
function passwordsOf(connectionString: string | undefined): string[] {
  if (connectionString === undefined) return [];
  const url = new URL(connectionString);
  const query = url.searchParams.get('password') ?? '';
  const written = /[?&]password=([^&#]*)/.exec(url.search)?.[1] ?? '';
  return [url.password, decodeComponent(url.password), query, written].filter((p) => p.length > 0);
}

function decodeComponent(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

// The same defaults pg applies, so messages and describe() name the server pg really dials.
function targetOf(connection: ResolvedDbOptions['connection']): ResolvedDbOptions['target'] {
  const env = process.env;
  const url =
    connection.connectionString === undefined ? undefined : new URL(connection.connectionString);
  const user =
    (url?.username ? decodeURIComponent(url.username) : connection.user) ??
    env.PGUSER ??
    env.USER ??
    'postgres';
  const host =
    (url?.hostname || url?.searchParams.get('host')) ??
    connection.host ??
    env.PGHOST ??
    'localhost';
  const port = url?.port ? Number(url.port) : (connection.port ?? Number(env.PGPORT ?? 5432));
  const database =
    (url && url.pathname.length > 1 ? decodeURIComponent(url.pathname.slice(1)) : undefined) ??
    connection.database ??
    env.PGDATABASE ??
    user;
  return { host: host.replace(/^\[(.*)\]$/, '$1'), port, database, user };
}
