import type { FileHandle } from 'node:fs/promises';
import type { NodeContext } from '@kaygraph/core';
import type { HttpProvider } from '@kaygraph/provider-http';
import { contentDigest } from './content-digest.js';
import { ExportError } from './demo-errors.js';
import { MAX_CHUNK_BYTES } from './export-resources.js';
import type { ChunkFile, ExportShared } from './export-shared.js';

/** Headers of every chunk upload, besides the digest, the key and the provider's auth header. */
const CHUNK_HEADERS = {
  'content-type': 'application/x-ndjson',
  'content-encoding': 'gzip',
};

/**
 * Upload one chunk file: read it into a buffer from the memory provider (so the bytes in flight
 * are bounded by its budget), then `PUT {prefix}/{run-id}/{chunk}` with a digest of exactly those
 * bytes and an idempotency key that stays the same across the provider's retries, so the receiver
 * stores it once however many times it arrives.
 */
export async function uploadChunk(
  chunk: ChunkFile,
  ctx: NodeContext<ExportShared>,
  signal: AbortSignal,
): Promise<void> {
  const http = ctx.resources.get<HttpProvider>('http');
  const { uploadPath } = ctx.shared.settings;
  if (chunk.bytes > MAX_CHUNK_BYTES) {
    throw new ExportError(
      `${chunk.name} is ${chunk.bytes} bytes, more than the ${MAX_CHUNK_BYTES} an upload buffer ` +
        'holds; use a smaller --chunk-rows',
    );
  }
  const buffer = await ctx.acquire<Buffer>('memory', { size: chunk.bytes, signal });
  try {
    const body = buffer.resource.subarray(0, chunk.bytes);
    await readWhole(ctx, chunk, body, signal);
    await http.request({
      method: 'PUT',
      path: `${uploadPath}/${encodeURIComponent(ctx.runId)}/${encodeURIComponent(chunk.name)}`,
      headers: { ...CHUNK_HEADERS, 'content-digest': contentDigest(body) },
      body,
      idempotencyKey: `${ctx.runId}:${chunk.name}`,
      signal,
      owner: ctx.owner,
    });
  } finally {
    await buffer.release();
  }
}

async function readWhole(
  ctx: NodeContext<ExportShared>,
  chunk: ChunkFile,
  into: Buffer,
  signal: AbortSignal,
): Promise<void> {
  const file = await ctx.acquire<FileHandle>('fs', {
    path: chunk.path,
    flags: 'r',
    signal,
  });
  try {
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
  } finally {
    await file.release();
  }
}
