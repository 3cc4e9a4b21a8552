import type { IncomingHttpHeaders } from 'node:http';
import {
  ConfigInvalidError,
  type LeaseOwner,
  checkBoolean,
  checkInteger,
  checkObject,
  checkString,
  redactUrl,
  rejectUnknownKeys,
} from '@kaygraph/core';
import {
  type HttpHeaders,
  addSecretValues,
  checkHeaderValue,
  checkPath,
} from './http-options.js';
import { mayRetry } from './retry-policy.js';

/** A request body. Only in-memory bodies, so every retry can send the very same bytes. */
export type HttpBody = Buffer | Uint8Array | string;

/** What to send with {@link HttpProvider.request}. */
export interface HttpRequestOptions {
  /** HTTP method, any case. Default `'GET'`. */
  method?: string;
  /** Path and query on the provider's origin; starts with `/`. Required. */
  path: string;
  /** Headers for this request, on top of the provider's default headers. Never logged. */
  headers?: HttpHeaders;
  /** Request body, sent unchanged on every attempt. */
  body?: HttpBody;
  /**
   * Sent as the `Idempotency-Key` header; makes a non-idempotent request (POST, PATCH)
   * retryable, since the server can recognise a repeat.
   */
  idempotencyKey?: string;
  /** Throw `HttpStatusError` for a final status of 400 or more. Default `true`. */
  throwOnStatus?: boolean;
  /** Overrides the provider's `retry.maxRetries` for this request. */
  maxRetries?: number;
  /** Cancels the slot wait, the request, the body read and any retry wait. */
  signal?: AbortSignal;
  /** Who is asking, for the slot lease and the monitor. */
  owner?: LeaseOwner;
}

/** A response whose body has been read in full; the connection is already free again. */
export interface HttpResponse {
  /**
   * Final status, e.g. `200`; a `3xx` too, as redirects are not followed; `4xx`/`5xx` only when
   * `throwOnStatus` is false.
   */
  statusCode: number;
  /** Response headers, names in lower case. */
  headers: IncomingHttpHeaders;
  /** The whole response body (empty for `HEAD`, `204` and `304`). */
  body: Buffer;
  /** Attempts it took, retries included. */
  attempts: number;
}

/** A request checked and ready to be sent, possibly several times. */
export class PreparedRequest {
  #url: string | undefined;
  #secrets: readonly string[] | undefined;

  constructor(
    readonly method: string,
    readonly path: string,
    readonly origin: string,
    readonly headers: Record<string, string | string[]>,
    readonly body: Buffer | undefined,
    readonly maxRetries: number,
    readonly throwOnStatus: boolean,
    /** Credential values from the provider's and this request's headers. */
    private readonly headerSecrets: readonly string[],
  ) {}

  /**
   * Origin and path for messages: no credentials, token-like query values masked. Made on first
   * use: only errors and retry warnings need it, and parsing a URL for every request that
   * succeeds cost more than all the rest of preparing it.
   */
  get url(): string {
    this.#url ??= maskedUrl(this.origin, this.path);
    return this.#url;
  }

  /**
   * Values to mask in any text made from this request or its response: the header credentials
   * and the values of token-like query parameters, which a server may echo in an error body.
   * Made on first use, like `url`.
   */
  get secrets(): readonly string[] {
    this.#secrets ??= [...this.headerSecrets, ...querySecrets(this.path)];
    return this.#secrets;
  }
}

// The query names whose values `redactUrl` masks in a URL.
const SECRET_QUERY_NAME = /pass|secret|token|key|auth/i;

/**
 * Origin and path with token-like query values masked, as `redactUrl` does. The origin never
 * holds credentials (they became a header), so an `@` in the path (`/@scope/pkg`) is only a
 * path, not the end of a password `redactUrl` would have to mask everything before.
 */
function maskedUrl(origin: string, path: string): string {
  const text = `${origin}${path}`;
  if (!URL.canParse(text)) return redactUrl(text);
  const url = new URL(text);
  for (const key of [...url.searchParams.keys()]) {
    if (SECRET_QUERY_NAME.test(key)) url.searchParams.set(key, '***');
  }
  return url.toString();
}

/** Values of token-like query parameters in a path, both as sent and decoded. */
function querySecrets(path: string): string[] {
  const start = path.indexOf('?');
  if (start === -1) return [];
  const out: string[] = [];
  for (const pair of path.slice(start + 1).split('#')[0]!.split('&')) {
    const eq = pair.indexOf('=');
    if (eq <= 0 || !SECRET_QUERY_NAME.test(decodeQuery(pair.slice(0, eq)))) continue;
    const raw = pair.slice(eq + 1);
    for (const value of new Set([raw, decodeQuery(raw)])) if (value.length >= 3) out.push(value);
  }
  return out;
}

function decodeQuery(text: string): string {
  try {
    return decodeURIComponent(text.replaceAll('+', ' '));
  } catch {
    return text;
  }
}

const WHERE = 'http.request';
const HEADERS_WHERE = `${WHERE}: option "headers"`;
const KEYS = [
  'method',
  'path',
  'headers',
  'body',
  'idempotencyKey',
  'throwOnStatus',
  'maxRetries',
  'signal',
  'owner',
] as const;
const KNOWN_KEYS: ReadonlySet<string> = new Set(KEYS);

/** What the provider adds to every request. */
export interface RequestDefaults {
  origin: string;
  headers: Record<string, string | string[]>;
  maxRetries: number;
  secrets: readonly string[];
}

/**
 * Check a request's options and build what every attempt sends. This runs once per request, so
 * each check is a plain test that only builds a message when it fails; the checks are the same
 * as for the factory's options.
 */
export function prepareRequest(input: unknown, defaults: RequestDefaults): PreparedRequest {
  const options = checkObject(WHERE, input);
  for (const name of Object.keys(options)) {
    if (!KNOWN_KEYS.has(name)) rejectUnknownKeys(WHERE, options, KEYS);
  }
  const method = checkString(WHERE, 'method', options.method, 'GET').toUpperCase();
  const path = checkPath(`${WHERE}: option "path"`, options.path);
  const key =
    options.idempotencyKey === undefined
      ? undefined
      : checkString(WHERE, 'idempotencyKey', options.idempotencyKey);

  const headers = { ...defaults.headers };
  let secrets = defaults.secrets;
  if (options.headers !== undefined) {
    const own = checkObject(HEADERS_WHERE, options.headers);
    const found: string[] = [];
    for (const name of Object.keys(own)) {
      const value = checkHeaderValue(HEADERS_WHERE, name, own[name]);
      headers[name.toLowerCase()] = value;
      addSecretValues(found, name, value);
    }
    if (found.length > 0) secrets = [...secrets, ...found];
  }
  if (key !== undefined) headers['idempotency-key'] = key;

  const maxRetries =
    options.maxRetries === undefined
      ? defaults.maxRetries
      : checkInteger(WHERE, 'maxRetries', options.maxRetries, 0, { min: 0, max: 100 });
  const throwOnStatus = checkBoolean(WHERE, 'throwOnStatus', options.throwOnStatus, true);
  return new PreparedRequest(
    method,
    path,
    defaults.origin,
    headers,
    toBuffer(options.body),
    mayRetry(method, key) ? maxRetries : 0,
    throwOnStatus,
    secrets,
  );
}

function toBuffer(body: unknown): Buffer | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string') return Buffer.from(body);
  if (Buffer.isBuffer(body)) return body;
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  // Streams are refused: a stream can be read once, so a retry could not send it again.
  throw new ConfigInvalidError(
    `${WHERE}: option "body" must be a Buffer, Uint8Array or string (streams cannot be resent)`,
  );
}
