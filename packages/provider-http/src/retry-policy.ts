import type { HttpRetryOptions } from './http-options.js';

const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'TRACE']);

// 500 is left out on purpose: it usually means the request itself broke the server, and
// sending it again tends to break it again. 502-504 and 429/408 say "not now".
const RETRY_STATUS = new Set([408, 429, 502, 503, 504]);

// Failures where the request never reached the application, or the connection died under it:
// a pooled keep-alive socket the server had already closed is the common case.
const RETRY_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ENOTCONN',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** May this request be sent again? Only when the method is idempotent or it carries a key. */
export function mayRetry(method: string, idempotencyKey: string | undefined): boolean {
  return IDEMPOTENT.has(method) || idempotencyKey !== undefined;
}

/** Is this response status worth another attempt? */
export function isRetryableStatus(statusCode: number): boolean {
  return RETRY_STATUS.has(statusCode);
}

/** Is this thrown error a connection failure worth another attempt? Follows `cause` links. */
export function isRetryableError(error: unknown): boolean {
  for (let e = error, depth = 0; e instanceof Error && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && RETRY_CODES.has(code)) return true;
    e = e.cause;
  }
  return false;
}

/** Exponential backoff with "equal jitter": half fixed, half random, capped at `maxDelayMs`. */
export function backoffDelay(retry: number, policy: Required<HttpRetryOptions>): number {
  const exp = Math.min(policy.maxDelayMs, policy.minDelayMs * 2 ** Math.max(0, retry - 1));
  return Math.round(exp / 2 + Math.random() * (exp / 2));
}

/**
 * Milliseconds a `Retry-After` header asks for (delta-seconds or an HTTP date), or undefined
 * when it is absent or unreadable.
 */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()) {
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined || text.trim() === '') return undefined;
  if (/^\s*\d+\s*$/.test(text)) return Number(text.trim()) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
