import type { NodeContext } from '@kaygraph/core';
import { CONTENT_TYPES } from './chunk-encodings.js';
import type { FsProvider } from '@kaygraph/provider-fs';
import type { HttpProvider } from '@kaygraph/provider-http';
import type { MemoryProvider } from '@kaygraph/provider-memory';
import { contentDigest } from './content-digest.js';
import { ExportError } from './demo-errors.js';
import { MAX_CHUNK_BYTES } from './export-resources.js';
import type { ChunkFile, ExportShared } from './export-shared.js';

/**
 * Upload one chunk file: read it into a buffer from the memory provider (so the bytes in flight
 * are bounded by its budget), then `PUT {prefix}/{run-id}/{chunk}` with a digest of exactly those
 * bytes and an idempotency key that stays the same across the provider's retries, so the receiver
 * stores it once however many times it arrives.
 *
 * The buffer and the file are borrowed from the providers themselves, not through the node's
 * scope: uploads run on after the node's exec has been cut short by an abort, and a scope that
 * closes under a borrower has to take the lease back from it, which is a leak. Here every lease
 * goes back when the upload unwinds, and the uploader waits for that before the run ends.
 */
export async function uploadChunk(
  chunk: ChunkFile,
  ctx: NodeContext<ExportShared>,
  signal: AbortSignal,
): Promise<void> {
  const http = ctx.resources.get<HttpProvider>('http');
  const { uploadPath, format } = ctx.shared.settings;
  if (chunk.bytes > MAX_CHUNK_BYTES) {
    throw new ExportError(
      `${chunk.name} is ${chunk.bytes} bytes, more than the ${MAX_CHUNK_BYTES} an upload buffer ` +
        'holds; use a smaller --chunk-rows',
    );
  }
  const memory = ctx.resources.get<MemoryProvider>('memory');
  await using buffer = await memory.acquire({ size: chunk.bytes, signal, owner: ctx.owner });
  const body = buffer.resource.subarray(0, chunk.bytes);
  await readWhole(ctx, chunk, body, signal);
  const response = await http.request({
    method: 'PUT',
    path: `${uploadPath}/${encodeURIComponent(ctx.runId)}/${encodeURIComponent(chunk.name)}`,
    headers: {
      'content-type': CONTENT_TYPES[format],
      'content-encoding': 'gzip',
      'content-digest': contentDigest(body),
    },
    body,
    idempotencyKey: `${ctx.runId}:${chunk.name}`,
    signal,
    owner: ctx.owner,
  });
  // The provider hands back every answer below 400, redirects included. The upload contract
  // counts only a 2xx: a redirect is not followed (the body and its digest were meant for this
  // endpoint, and a Location must not receive the token), so it fails the run like a refusal.
  if (response.statusCode < 200 || response.statusCode > 299) {
    // The uploader names the chunk when it wraps this; the Location is left out, as it may
    // carry credentials.
    const redirect = response.statusCode >= 300 ? ' (redirects are not followed)' : '';
    throw new ExportError(
      `the endpoint answered ${response.statusCode} instead of a 2xx${redirect}`,
    );
  }
}

async function readWhole(
  ctx: NodeContext<ExportShared>,
  chunk: ChunkFile,
  into: Buffer,
  signal: AbortSignal,
): Promise<void> {
  const fs = ctx.resources.get<FsProvider>('fs');
  await using file = await fs.acquire({ path: chunk.path, flags: 'r', signal, owner: ctx.owner });
  let offset = 0;
  while (offset < into.length) {
    const { bytesRead } = await file.resource.read(into, offset, into.length - offset, offset);
    if (bytesRead === 0) break;
    offset += bytesRead;
  }
  if (offset !== into.length) {
    throw new ExportError(
      `${chunk.name} is shorter than written (${offset} of ${into.length} bytes)`,
    );
  }
}
