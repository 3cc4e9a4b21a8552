import { type NodeContext, Node } from '@kaygraph/core';
import type { FsProvider } from '@kaygraph/provider-fs';
import { BoundedQueue } from '../bounded-queue.js';
import { ndjsonChunks, tsvChunks } from '../chunk-encodings.js';
import { type ChunkWriterOptions, writeChunks } from '../chunk-writer.js';
import type { CopyLines } from '../copy-lines.js';
import type { Row } from '../db-source.js';
import type { ChunkFile, ExportShared, Pipeline } from '../export-shared.js';
import type { RowCursor } from '../row-cursor.js';

interface FileProcessorInput {
  /** Row batches for NDJSON chunks, or a COPY's lines for TSV chunks. */
  source: { rows: RowCursor<Row> } | { lines: CopyLines };
  pipeline: Pipeline;
}

interface FileProcessorOutput {
  chunks: BoundedQueue<ChunkFile>;
  writing: Promise<void>;
}

/**
 * Second stage: starts the writer that turns the row stream into gzip NDJSON (or TSV) chunk files in a
 * private temp directory. The writer runs on while the uploader sends the chunks it has finished,
 * at most `concurrency` chunks ahead of it, so disk use and memory stay flat. The temp directory
 * belongs to the pipeline's scope: it is removed when the export ends, however it ends.
 */
export class FileProcessorNode extends Node<ExportShared, FileProcessorInput, FileProcessorOutput> {
  constructor() {
    super({ name: 'FileProcessorNode' });
  }

  override prep(ctx: NodeContext<ExportShared>): FileProcessorInput {
    const { rows, lines, pipeline } = ctx.shared;
    if ((rows === undefined && lines === undefined) || pipeline === undefined) {
      throw new Error('FileProcessorNode needs the rows from DatabaseReaderNode');
    }
    return { source: lines === undefined ? { rows: rows! } : { lines }, pipeline };
  }

  override async exec(
    input: FileProcessorInput,
    ctx: NodeContext<ExportShared>,
  ): Promise<FileProcessorOutput> {
    const { settings, counters } = ctx.shared;
    const { pipeline } = input;
    const fs = ctx.resources.get<FsProvider>('fs');
    const dir = await fs.tempDir({ scope: pipeline.scope, signal: ctx.signal });
    const chunks = new BoundedQueue<ChunkFile>(settings.concurrency);

    const common = {
      chunkRows: settings.chunkRows,
      fs,
      dir,
      queue: chunks,
      counters,
      signal: pipeline.signal,
      owner: ctx.owner,
    } satisfies Partial<ChunkWriterOptions<unknown>>;
    const { source } = input;
    const writing =
      'lines' in source
        ? writeChunks({ ...common, rows: source.lines, encoding: tsvChunks })
        : writeChunks({ ...common, rows: source.rows, encoding: ndjsonChunks });
    // A failed writer stops the other stages; the uploader reports its error.
    writing.catch((error: unknown) => pipeline.stop(error));
    // Registered after the temp directory, so it runs first: the writer has stopped before its
    // directory is removed.
    pipeline.scope.defer(async () => {
      pipeline.stop(new Error('export finished'));
      await writing.catch(() => {});
    });
    return { chunks, writing };
  }

  override post(
    ctx: NodeContext<ExportShared>,
    _input: FileProcessorInput,
    output: FileProcessorOutput,
  ): void {
    ctx.shared.chunks = output.chunks;
    ctx.shared.writing = output.writing;
  }
}
