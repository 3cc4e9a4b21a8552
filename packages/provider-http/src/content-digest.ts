import { createHash } from 'node:crypto';
import type { HttpBody } from './http-request.js';

/**
 * A `Content-Digest` header value (RFC 9530) for a body, e.g. `sha-256=:base64:`, so the
 * receiver can check that every retry delivered the same bytes.
 *
 * @example
 * const headers = { 'content-digest': contentDigest(body) };
 * await http.request({ method: 'PUT', path, body, headers, idempotencyKey });
 */
export function contentDigest(
  body: HttpBody,
  algorithm: 'sha-256' | 'sha-512' = 'sha-256',
): string {
  const hash = createHash(algorithm.replace('-', '')).update(body).digest('base64');
  return `${algorithm}=:${hash}:`;
}
