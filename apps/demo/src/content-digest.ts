import { createHash } from 'node:crypto';

/**
 * The `Content-Digest` field value (RFC 9530) for `bytes`: `sha-256=:<base64>:`. The digest is of
 * the bytes on the wire, so for a gzip body it is the digest of the compressed bytes.
 */
export function contentDigest(bytes: Uint8Array): string {
  return `sha-256=:${createHash('sha256').update(bytes).digest('base64')}:`;
}

/**
 * The base64 sha-256 value in a `Content-Digest` field, or undefined when the field carries no
 * sha-256 member. Other algorithms in the same field are ignored.
 */
export function parseSha256Digest(field: string | undefined): string | undefined {
  if (field === undefined) return undefined;
  for (const member of field.split(',')) {
    const match = /^\s*sha-256\s*=\s*:([A-Za-z0-9+/=]+):\s*$/.exec(member);
    if (match) return match[1];
  }
  return undefined;
}
