import {
  ConfigInvalidError,
  checkBoolean,
  checkInteger,
  checkObject,
  checkString,
  checkUrl,
  rejectUnknownKeys,
  withoutCredentials,
} from '@kaygraph/core';

/** Header values keyed by header name, as a caller passes them. */
export type HttpHeaders = Record<string, string | readonly string[]>;

/** How failed requests are retried. Only idempotent or keyed requests are ever retried. */
export interface HttpRetryOptions {
  /** Retries after the first attempt; 0 turns retrying off. Default `3`. */
  maxRetries?: number;
  /** Backoff before the first retry, doubled each retry, with jitter. Default `100`. */
  minDelayMs?: number;
  /** Longest backoff between two attempts. Default `5000`. */
  maxDelayMs?: number;
  /**
   * Longest `Retry-After` the provider waits for. A server asking for longer gets no retry:
   * the status error is thrown at once. Default `30000`.
   */
  maxRetryAfterMs?: number;
}

/** Options of {@link createHttpProvider}. */
export interface HttpProviderOptions {
  /** Registered provider name. Default `'http'`. */
  name?: string;
  /**
   * Scheme, host and port every request goes to, e.g. `http://127.0.0.1:8080`. Required.
   * Credentials in it (`https://user:pass@host`) are sent as Basic auth and never shown.
   * Reserved characters in them must be percent-encoded (`/` as `%2F`): an origin with an `@`
   * after its host is refused, since the parser would read part of the password as the port
   * and path and send requests to the user name as a host.
   */
  origin: string;
  /** Most sockets open to the origin at once. Default `8`. */
  connections?: number;
  /** Requests in flight per socket (HTTP/1.1 pipelining). Default `1`. */
  pipelining?: number;
  /** Longest wait for a socket to connect (and finish TLS). Default `10000`. */
  connectTimeoutMs?: number;
  /** Longest wait for the response headers once the request is sent. Default `30000`. */
  headersTimeoutMs?: number;
  /** Longest silence between two chunks of the response body. Default `30000`. */
  bodyTimeoutMs?: number;
  /** Longest wait for a free request slot in `acquire()` / `request()`. Default `30000`. */
  acquireTimeoutMs?: number;
  /** Retry policy. Defaults as in {@link HttpRetryOptions}. */
  retry?: HttpRetryOptions;
  /**
   * Verify the server's TLS certificate. Turning it off must be explicit, shows in `describe()`
   * and publishes a `provider:warning` on open. Default `true`.
   */
  tlsRejectUnauthorized?: boolean;
  /** Headers sent with every request. Their values are never logged or reported. */
  headers?: HttpHeaders;
  /** Path `check()` sends a `HEAD` request to. Default `'/'`. */
  healthPath?: string;
  /** Report a slot lease held longer than this many ms, with its stack; 0 = off. Default `0`. */
  leakDetectionMs?: number;
}

/** Options after validation, with defaults filled in. */
export interface ResolvedHttpOptions {
  name: string;
  /** Origin without credentials, as undici and every message see it. */
  origin: string;
  connections: number;
  pipelining: number;
  connectTimeoutMs: number;
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
  acquireTimeoutMs: number;
  retry: Required<HttpRetryOptions>;
  tlsRejectUnauthorized: boolean;
  headers: Record<string, string | string[]>;
  healthPath: string;
  leakDetectionMs: number;
  /** Header values and credentials that must be masked in any text the provider makes. */
  secrets: string[];
}

const WHERE = 'createHttpProvider';
const KEYS = [
  'name',
  'origin',
  'connections',
  'pipelining',
  'connectTimeoutMs',
  'headersTimeoutMs',
  'bodyTimeoutMs',
  'acquireTimeoutMs',
  'retry',
  'tlsRejectUnauthorized',
  'headers',
  'healthPath',
  'leakDetectionMs',
] as const;
const RETRY_KEYS = ['maxRetries', 'minDelayMs', 'maxDelayMs', 'maxRetryAfterMs'] as const;
const MAX_TIMEOUT = 2_147_483_647;

/** Validate factory options, one check per option, and fill in defaults. */
export function resolveHttpOptions(input: unknown): ResolvedHttpOptions {
  const options = checkObject(WHERE, input);
  rejectUnknownKeys(WHERE, options, KEYS);
  const { origin, credentials } = parseOrigin(checkUrl(WHERE, 'origin', options.origin));
  const headers = checkHeaders(`${WHERE}: option "headers"`, options.headers);
  if (credentials !== undefined) headers.authorization ??= credentials.header;
  const timeout = (name: string, fallback: number) =>
    checkInteger(WHERE, name, options[name], fallback, { min: 1, max: MAX_TIMEOUT });

  return {
    name: checkString(WHERE, 'name', options.name, 'http'),
    origin,
    connections: checkInteger(WHERE, 'connections', options.connections, 8, { min: 1 }),
    pipelining: checkInteger(WHERE, 'pipelining', options.pipelining, 1, { min: 1, max: 100 }),
    connectTimeoutMs: timeout('connectTimeoutMs', 10_000),
    headersTimeoutMs: timeout('headersTimeoutMs', 30_000),
    bodyTimeoutMs: timeout('bodyTimeoutMs', 30_000),
    acquireTimeoutMs: timeout('acquireTimeoutMs', 30_000),
    retry: resolveRetry(options.retry),
    tlsRejectUnauthorized: checkBoolean(
      WHERE,
      'tlsRejectUnauthorized',
      options.tlsRejectUnauthorized,
      true,
    ),
    headers,
    healthPath: checkPath(`${WHERE}: option "healthPath"`, options.healthPath ?? '/'),
    leakDetectionMs: checkInteger(WHERE, 'leakDetectionMs', options.leakDetectionMs, 0, {
      min: 0,
    }),
    secrets: [...secretValues(headers), ...(credentials?.secrets ?? [])],
  };
}

function resolveRetry(input: unknown): Required<HttpRetryOptions> {
  const where = `${WHERE}: option "retry"`;
  const retry = checkObject(where, input);
  rejectUnknownKeys(where, retry, RETRY_KEYS);
  const delay = (name: string, fallback: number) =>
    checkInteger(where, name, retry[name], fallback, { min: 0, max: MAX_TIMEOUT });
  const minDelayMs = delay('minDelayMs', 100);
  const maxDelayMs = delay('maxDelayMs', Math.max(5_000, minDelayMs));
  if (maxDelayMs < minDelayMs) {
    throw new ConfigInvalidError(
      `${where}: "maxDelayMs" (${maxDelayMs}) must not be below "minDelayMs" (${minDelayMs})`,
    );
  }
  return {
    maxRetries: checkInteger(where, 'maxRetries', retry.maxRetries, 3, { min: 0, max: 100 }),
    minDelayMs,
    maxDelayMs,
    maxRetryAfterMs: delay('maxRetryAfterMs', 30_000),
  };
}

interface OriginCredentials {
  header: string;
  secrets: string[];
}

function parseOrigin(url: URL): { origin: string; credentials?: OriginCredentials } {
  const safe = withoutCredentials(url.href);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigInvalidError(
      `${WHERE}: option "origin" must be an http: or https: URL, got ${safe}`,
    );
  }
  if ((url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.hash !== '') {
    throw new ConfigInvalidError(
      `${WHERE}: option "origin" must be scheme, host and port only, got ${safe}`,
    );
  }
  const origin = `${url.protocol}//${url.host}`;
  if (url.username === '' && url.password === '') return { origin };

  const user = decodeURIComponent(url.username);
  const password = decodeURIComponent(url.password);
  const token = Buffer.from(`${user}:${password}`).toString('base64');
  const secrets = [token, password, url.password].filter((s) => s.length > 0);
  return { origin, credentials: { header: `Basic ${token}`, secrets } };
}

/** Validate a headers object and copy it with lower-case names. */
export function checkHeaders(where: string, input: unknown): Record<string, string | string[]> {
  const headers = checkObject(where, input);
  const out: Record<string, string | string[]> = {};
  for (const name of Object.keys(headers)) {
    out[name.toLowerCase()] = checkHeaderValue(where, name, headers[name]);
  }
  return out;
}

/** A header value as sent: a string, or a copy of a string array (the caller's may change). */
export function checkHeaderValue(where: string, name: string, value: unknown): string | string[] {
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && value.every((item) => typeof item === 'string')) return [...value];
  // The value may be a token, so only its name and type are shown.
  throw new ConfigInvalidError(`${where}: header "${name}" must be a string or string[]`);
}

/** A request path: starts with `/`. */
export function checkPath(where: string, value: unknown): string {
  if (typeof value !== 'string' || !value.startsWith('/')) {
    throw new ConfigInvalidError(`${where} must be a path starting with "/"`);
  }
  return value;
}

const SECRET_HEADER = /auth|cookie|token|secret|password|api-?key|signature|session/i;

/**
 * Values of headers that carry credentials, and the credential part of `Scheme credential`
 * values, so a server that echoes them in an error body cannot leak them into a message.
 */
export function secretValues(headers: Record<string, string | string[]>): string[] {
  const out: string[] = [];
  for (const name of Object.keys(headers)) addSecretValues(out, name, headers[name]!);
  return out;
}

/** Add to `out` what {@link secretValues} finds in one header. */
export function addSecretValues(out: string[], name: string, value: string | string[]): void {
  if (!SECRET_HEADER.test(name)) return;
  for (const item of Array.isArray(value) ? value : [value]) {
    if (item.length >= 3) out.push(item);
    const space = item.indexOf(' ');
    if (space <= 0) continue;
    const credential = item.slice(space + 1).trim();
    if (credential.length >= 3) out.push(credential);
  }
}
