import type { LeaseOwner, Scope } from '@kaygraph/core';
import type { BoundedQueue } from './bounded-queue.js';
import type { ChunkFormat } from './chunk-encodings.js';
import type { CopyLines } from './copy-lines.js';
import type { ReadPlan, Row } from './db-source.js';
import type { ExportCounters } from './export-counters.js';
import type { ExportSource } from './options.js';
import type { RowCursor } from './row-cursor.js';

/** What the run was asked to do; read by every node, never written. */
export interface ExportSettings {
  source: ExportSource;
  batchSize: number;
  chunkRows: number;
  /** `ndjson`: rows through a cursor as JSON; `tsv`: the bytes of a COPY as they come. */
  format: ChunkFormat;
  /** Uploads in flight, and how many written chunks may wait for an upload. */
  concurrency: number;
  /** Path prefix on the upload origin (`/upload`), chunks go to `{prefix}/{run-id}/{chunk}`. */
  uploadPath: string;
  /** Upload URL with credentials masked, for the summary. */
  uploadLabel: string;
  mailFrom: string;
  mailTo: string;
}

/** A chunk file written and waiting to be uploaded. */
export interface ChunkFile {
  /** 1-based position in the export. */
  index: number;
  /** `chunk-000001.ndjson.gz`; also the last path segment of the upload. */
  name: string;
  path: string;
  rows: number;
  bytes: number;
}

/**
 * The stages of the export run at the same time: the reader's rows flow through the file
 * processor into chunk files while the uploader sends earlier chunks. The pipeline is what they
 * share beyond one node: the graph's scope (alive until the last node has finished, so temp files
 * and the cursor outlive the node that made them) and a signal that stops every stage at once.
 */
export interface Pipeline {
  readonly scope: Scope;
  readonly signal: AbortSignal;
  readonly owner: LeaseOwner;
  /** Stop every stage: the first failure, or a cancelled run. */
  stop(reason: unknown): void;
}

/** The run's shared store. */
export interface ExportShared {
  settings: ExportSettings;
  counters: ExportCounters;
  /** `performance.now()` when the export started. */
  startedAt: number;
  /** Set by the graph when it starts. */
  pipeline?: Pipeline;
  /** Set by the reader: how the rows are read, and the rows themselves (pulled lazily). */
  plan?: ReadPlan;
  rows?: RowCursor<Row>;
  /** With `--format tsv`, instead of `rows`: the COPY's lines. */
  lines?: CopyLines;
  /** Set by the file processor: chunk files as they are written, and the writer's outcome. */
  chunks?: BoundedQueue<ChunkFile>;
  writing?: Promise<void>;
  /** Set by the notifier. */
  notification?: { sent: boolean; messageId?: string; error?: unknown };
}
