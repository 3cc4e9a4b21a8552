import type { LeaseOwner } from '@kaygraph/core';
import type { FsProvider, TempDir } from '@kaygraph/provider-fs';
import type { BoundedQueue } from './bounded-queue.js';
import type { Row } from './db-source.js';
import type { ExportCounters } from './export-counters.js';
import type { ChunkFile } from './export-shared.js';
import { gzipNdjson } from './ndjson-gzip.js';
import type { RowCursor } from './row-cursor.js';

export interface ChunkWriterOptions {
  rows: RowCursor<Row>;
  chunkRows: number;
  fs: FsProvider;
  dir: TempDir;
  /** Where finished chunks go; `push` waits while the uploads are behind. Ended when done. */
  queue: BoundedQueue<ChunkFile>;
  counters: ExportCounters;
  signal: AbortSignal;
  owner: LeaseOwner;
}

/** `chunk-000042.ndjson.gz`: sorts in export order, one name per chunk of the run. */
export function chunkName(index: number): string {
  return `chunk-${String(index).padStart(6, '0')}.ndjson.gz`;
}

/**
 * Cut the rows into chunk files of `chunkRows` rows each, gzip-compressed NDJSON written
 * atomically into the temp directory, and queue each finished one for upload. Rows stream from
 * the cursor through gzip to the file, so a chunk is never whole in memory. The queue is ended
 * however this ends, so the uploader never waits for a chunk that will not come.
 */
export async function writeChunks(options: ChunkWriterOptions): Promise<void> {
  const { rows, counters, queue, signal } = options;
  try {
    for (let index = 1; await rows.hasMore(); index += 1) {
      const chunk = await writeChunk(options, index);
      counters.chunksWritten += 1;
      await queue.push(chunk, signal);
    }
  } finally {
    queue.end();
  }
}

async function writeChunk(options: ChunkWriterOptions, index: number): Promise<ChunkFile> {
  const { rows, counters } = options;
  const name = chunkName(index);
  let count = 0;
  const body = gzipNdjson(rows.take(options.chunkRows), (written) => {
    count += written;
    counters.rowsWritten += written;
  });
  try {
    const written = await options.fs.writeAtomic(options.dir.join(name), body, {
      // A chunk file lives only until its upload, and nothing reads the files of a run that
      // crashed: waiting for the disk (two fsyncs per chunk, on the writer's path) buys nothing.
      // The rename still means a chunk is never queued half-written.
      durable: false,
      signal: options.signal,
      owner: options.owner,
    });
    return { index, name, path: written.path, rows: count, bytes: written.bytes };
  } finally {
    // Ends the row source too if the write stopped before it had read everything.
    body.destroy();
  }
}
