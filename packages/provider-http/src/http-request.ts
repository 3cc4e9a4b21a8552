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
import { type HttpHeaders, checkHeaders, checkPath, secretValues } from './http-options.js';
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
  /** Final status, e.g. `200` (or `4xx`/`5xx` when `throwOnStatus` is false). */
  statusCode: number;
  /** Response headers, names in lower case. */
  headers: IncomingHttpHeaders;
  /** The whole response body (empty for `HEAD`, `204` and `304`). */
  body: Buffer;
  /** Attempts it took, retries included. */
  attempts: number;
}

/** A request checked and ready to be sent, possibly several times. */
export interface PreparedRequest {
  method: string;
  path: string;
  /** Origin and path for messages: no credentials, token-like query values masked. */
  url: string;
  headers: Record<string, string | string[]>;
  body: Buffer | undefined;
  maxRetries: number;
  throwOnStatus: boolean;
  /** Values to mask in any text made from this request or its response. */
  secrets: string[];
}

const WHERE = 'http.request';
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

/** What the provider adds to every request. */
export interface RequestDefaults {
  origin: string;
  headers: Record<string, string | string[]>;
  maxRetries: number;
  secrets: string[];
}

/** Check a request's options and build what every attempt sends. */
export function prepareRequest(
  input: unknown,
  defaults: RequestDefaults,
): PreparedRequest {
  const options = checkObject(WHERE, input);
  rejectUnknownKeys(WHERE, options, KEYS);
  const method = checkString(WHERE, 'method', options.method, 'GET').toUpperCase();
  const path = checkPath(`${WHERE}: option "path"`, options.path);
  const own = checkHeaders(`${WHERE}: option "headers"`, options.headers);
  const key =
    options.idempotencyKey === undefined
      ? undefined
      : checkString(WHERE, 'idempotencyKey', options.idempotencyKey);
  const headers = { ...defaults.headers, ...own };
  if (key !== undefined) headers['idempotency-key'] = key;

  const maxRetries = checkInteger(WHERE, 'maxRetries', options.maxRetries, defaults.maxRetries, {
    min: 0,
    max: 100,
  });
  return {
    method,
    path,
    url: redactUrl(`${defaults.origin}${path}`),
    headers,
    body: toBuffer(options.body),
    maxRetries: mayRetry(method, key) ? maxRetries : 0,
    throwOnStatus: checkBoolean(WHERE, 'throwOnStatus', options.throwOnStatus, true),
    secrets: [...defaults.secrets, ...secretValues(own)],
  };
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
