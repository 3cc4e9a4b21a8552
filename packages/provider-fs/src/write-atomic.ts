import { randomBytes } from 'node:crypto';
import { type FileHandle, open, rename } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  ConfigInvalidError,
  KayGraphError,
  type Lease,
  type LeaseOwner,
  abortError,
} from '@kaygraph/core';
import { errnoCode, fsFailed } from './fs-errors.js';
import type { TempTracker } from './temp-tracker.js';

/** What `writeAtomic` can write: bytes, text, or a stream of chunks read with backpressure. */
export type AtomicWriteSource =
  | string
  | Uint8Array
  | AsyncIterable<Uint8Array | string>
  | Iterable<Uint8Array>
  | Readable;

/** Options of `FsProvider.writeAtomic`. */
export interface WriteAtomicOptions {
  /** Permissions of the new file. @default 0o600 (private to the user) */
  mode?: number;
  /** Cancels the write; the temp file is removed and nothing appears at the path. */
  signal?: AbortSignal;
  /** Who is writing, for the lease on the temp file's handle. */
  owner?: LeaseOwner;
  /**
   * Wait for the data and the rename to reach the disk (fsync of the file, then of its
   * directory) before resolving. `false` skips both fsyncs, for scratch files a crash may lose,
   * such as temp files that are read back and removed within the run: readers still never see a
   * partial file at the path, since the rename stays atomic, but after a power loss or an
   * operating system crash the file may be missing or hold only part of its data.
   * @default true
   */
  durable?: boolean;
}

/** What `writeAtomic` wrote. */
export interface AtomicWriteResult {
  /** Absolute, confined path of the file now in place. */
  path: string;
  /** Bytes written. */
  bytes: number;
}

/** @internal what the provider lends `writeAtomic`. */
export interface AtomicWriteDeps {
  /** Open `tempPath` exclusively, as a lease counted against the handle cap. */
  openTemp(tempPath: string, mode: number): Promise<Lease<FileHandle>>;
  tracker: TempTracker;
  tempPrefix: string;
}

/**
 * Write `source` to `target` so that readers see the old file or the whole new one, never a part:
 * write a temp file beside it, fsync, rename over, fsync the directory (no fsync at all unless
 * `durable`). On any failure the temp file is removed.
 */
export async function writeAtomic(
  given: string,
  target: string,
  source: AtomicWriteSource,
  options: WriteAtomicOptions & { mode: number; durable: boolean },
  deps: AtomicWriteDeps,
): Promise<AtomicWriteResult> {
  const chunks = toChunks(source);
  const { signal } = options;
  if (signal?.aborted) throw abortError(signal, `writeAtomic to ${JSON.stringify(given)}`);

  const directory = path.dirname(target);
  const suffix = randomBytes(6).toString('hex');
  const tempName = `.${path.basename(target)}.${deps.tempPrefix}${suffix}.tmp`;
  const tempPath = path.join(directory, tempName);
  deps.tracker.add(tempPath);

  let lease: Lease<FileHandle> | undefined;
  try {
    lease = await deps.openTemp(tempPath, options.mode);
    const bytes = await pour(chunks, lease.resource, signal, options.durable);
    if (signal?.aborted) throw signal.reason;
    await rename(tempPath, target);
    deps.tracker.forget(tempPath);
    if (options.durable) await syncDirectory(directory);
    await lease.release();
    return { path: target, bytes };
  } catch (error) {
    if (lease !== undefined && !lease.returned) await lease.destroy(error).catch(() => undefined);
    await deps.tracker.remove(tempPath).catch(() => undefined);
    throw explain(error, given, signal);
  }
}

type ChunkSource = Iterable<unknown> | AsyncIterable<unknown> | Readable;

/**
 * Write every chunk, pulling the next one only when the file has taken the last; then fsync when
 * `durable`.
 */
async function pour(
  source: ChunkSource,
  handle: FileHandle,
  signal: AbortSignal | undefined,
  durable: boolean,
): Promise<number> {
  // The stream fsyncs (`flush`) and closes the handle when it ends. It has to be the stream that
  // closes it: a FileHandle with a stream attached (autoClose off) never finishes its own close().
  // The lease's close afterwards finds it closed, and the handle's slot stays taken until then.
  const sink = handle.createWriteStream({ flush: durable });
  // An empty options object would be taken for one more stream, so pass one only with a signal.
  if (signal === undefined) await pipeline(source, sink);
  else await pipeline(source, sink, { signal });
  return sink.bytesWritten;
}

function toChunks(source: AtomicWriteSource): ChunkSource {
  if (typeof source === 'string') return [Buffer.from(source)];
  if (source instanceof Uint8Array) return [source];
  if (source instanceof Readable) return source;
  const iterable = source as Partial<AsyncIterable<unknown> & Iterable<unknown>> | null;
  if (typeof iterable?.[Symbol.asyncIterator] === 'function') return source;
  if (typeof iterable?.[Symbol.iterator] === 'function') return source;
  throw new ConfigInvalidError(
    'writeAtomic: data must be a string, a Uint8Array, an (async) iterable of chunks or a Readable',
  );
}

/** Make the rename itself durable. Best effort: some file systems refuse to fsync a directory. */
async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, 'r').catch(() => undefined);
  if (handle === undefined) return;
  await handle.sync().catch(() => undefined);
  await handle.close().catch(() => undefined);
}

function explain(error: unknown, given: string, signal: AbortSignal | undefined): unknown {
  if (signal?.aborted) return abortError(signal, `writeAtomic to ${JSON.stringify(given)}`);
  if (error instanceof Error && KayGraphError.isInstance(error)) return error;
  // A system error is the disk's; anything else came from the caller's source and passes as is.
  if (isSystemError(error)) return fsFailed('writeAtomic to', given, error);
  return error;
}

function isSystemError(error: unknown): boolean {
  const syscall = (error as { syscall?: unknown } | null)?.syscall;
  return errnoCode(error) !== undefined && typeof syscall === 'string';
}
