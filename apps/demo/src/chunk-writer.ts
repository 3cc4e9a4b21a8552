import type { Readable } from 'node:stream';
import type { LeaseOwner } from '@kaygraph/core';
import type { FsProvider, TempDir } from '@kaygraph/provider-fs';
import type { BoundedQueue } from './bounded-queue.js';
import type { ExportCounters } from './export-counters.js';
import type { ChunkFile } from './export-shared.js';

/** Where a chunk's rows come from: a cursor's row batches, or a COPY's lines. */
export interface ChunkSource<Piece> {
  hasMore(): Promise<boolean>;
  /** Up to `limit` rows, in pieces. */
  take(limit: number): AsyncIterable<Piece>;
}

/** How a chunk's pieces become its file: the gzip body, and the file name's extension. */
export interface ChunkEncoding<Piece> {
  /** `ndjson` or `tsv`: chunk files are `chunk-000001.{extension}.gz`. */
  extension: string;
  /** The gzip body; calls `onRows` with the rows of each piece written into it. */
  encode(pieces: AsyncIterable<Piece>, onRows: (count: number) => void): Readable;
}

export interface ChunkWriterOptions<Piece> {
  rows: ChunkSource<Piece>;
  encoding: ChunkEncoding<Piece>;
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
export function chunkName(index: number, extension = 'ndjson'): string {
  return `chunk-${String(index).padStart(6, '0')}.${extension}.gz`;
}

/**
 * Cut the rows into chunk files of `chunkRows` rows each, gzip-compressed NDJSON or TSV written
 * atomically into the temp directory, and queue each finished one for upload. Rows stream from
 * the source through gzip to the file, so a chunk is never whole in memory.
 *
 * A chunk that has taken all its rows still has to be compressed to its end, written, closed and
 * renamed: a few milliseconds in other threads while this one would wait. The next chunk starts
 * reading rows meanwhile, and the finished one is queued once the next has taken its rows, so one
 * chunk more than the queue holds is on disk at a time. The queue is ended however this ends,
 * and only once no chunk is being written any more, so the uploader never waits for a chunk that
 * will not come and nothing is left writing into the temp directory.
 */
export async function writeChunks<Piece>(options: ChunkWriterOptions<Piece>): Promise<void> {
  const { rows, counters, queue, signal } = options;
  const writing = new Set<Promise<ChunkFile>>();
  const queueChunk = async (written: Promise<ChunkFile>) => {
    const chunk = await written;
    counters.chunksWritten += 1;
    await queue.push(chunk, signal);
  };
  let finishing: Promise<ChunkFile> | undefined;
  try {
    for (let index = 1; await rows.hasMore(); index += 1) {
      const chunk = startChunk(options, index);
      writing.add(chunk.written);
      chunk.written.then(
        () => writing.delete(chunk.written),
        () => writing.delete(chunk.written),
      );
      await chunk.rowsTaken;
      if (finishing !== undefined) await queueChunk(finishing);
      finishing = chunk.written;
    }
    if (finishing !== undefined) await queueChunk(finishing);
  } finally {
    // Whatever stopped the loop, a chunk still being written has its rows already, or is stopped
    // by the signal: it settles on its own.
    await Promise.allSettled([...writing]);
    queue.end();
  }
}

interface ChunkInProgress {
  /** Settles once the chunk has taken its last row from the source, or its write failed. */
  rowsTaken: Promise<unknown>;
  /** The chunk file, written and renamed into place. */
  written: Promise<ChunkFile>;
}

function startChunk<Piece>(options: ChunkWriterOptions<Piece>, index: number): ChunkInProgress {
  let tookAll!: () => void;
  const taken = new Promise<void>((resolve) => {
    tookAll = resolve;
  });
  const pieces = andThen(options.rows.take(options.chunkRows), tookAll);
  const written = writeChunk(options, index, pieces);
  // A failure is thrown where the chunk is awaited; until then it is not an unhandled rejection.
  written.catch(() => {});
  return { rowsTaken: Promise.race([taken, written]), written };
}

/** The items of `source`, then `onEnd()` once it has ended or was stopped. */
async function* andThen<T>(source: AsyncIterable<T>, onEnd: () => void): AsyncGenerator<T> {
  try {
    yield* source;
  } finally {
    onEnd();
  }
}

async function writeChunk<Piece>(
  options: ChunkWriterOptions<Piece>,
  index: number,
  pieces: AsyncIterable<Piece>,
): Promise<ChunkFile> {
  const { counters } = options;
  const name = chunkName(index, options.encoding.extension);
  let count = 0;
  const body = options.encoding.encode(pieces, (written) => {
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
