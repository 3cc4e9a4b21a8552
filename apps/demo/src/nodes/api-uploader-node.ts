import { rm } from 'node:fs/promises';
import { type NodeContext, Node, abortError, describe } from '@kaygraph/core';
import type { BoundedQueue } from '../bounded-queue.js';
import { uploadChunk } from '../chunk-upload.js';
import { ExportError } from '../demo-errors.js';
import type { ChunkFile, ExportShared, Pipeline } from '../export-shared.js';

interface UploaderInput {
  chunks: BoundedQueue<ChunkFile>;
  writing: Promise<void>;
  pipeline: Pipeline;
}

interface UploadTotals {
  chunks: number;
  rows: number;
}

/**
 * Third stage: `concurrency` workers take chunk files as the writer finishes them and upload
 * each one; a chunk's file is removed as soon as its upload succeeded. The first chunk that fails
 * for good (after the http provider's retries) stops the whole pipeline, the reader and writer
 * included, and fails the node once every upload in flight has settled. However the run ends,
 * it does not end before the uploads have returned what they borrowed.
 */
export class ApiUploaderNode extends Node<ExportShared, UploaderInput, UploadTotals> {
  constructor() {
    super({ name: 'ApiUploaderNode' });
  }

  override prep(ctx: NodeContext<ExportShared>): UploaderInput {
    const { chunks, writing, pipeline } = ctx.shared;
    if (chunks === undefined || writing === undefined || pipeline === undefined) {
      throw new Error('ApiUploaderNode needs the chunks from FileProcessorNode');
    }
    return { chunks, writing, pipeline };
  }

  override async exec(input: UploaderInput, ctx: NodeContext<ExportShared>): Promise<UploadTotals> {
    const { counters, settings } = ctx.shared;
    const { pipeline } = input;
    const signal = AbortSignal.any([ctx.signal, pipeline.signal]);
    const totals: UploadTotals = { chunks: 0, rows: 0 };
    const failure: { error?: unknown } = {};

    const worker = async () => {
      for (;;) {
        const next = await input.chunks.take();
        if (next.done) return;
        // After a failure the queue is still drained, so a writer waiting for room can finish;
        // the files left behind go with the temp directory.
        if (signal.aborted) continue;
        const chunk = next.value;
        try {
          await uploadChunk(chunk, ctx, signal);
        } catch (error) {
          if (signal.aborted) continue; // cancelled, not failed
          counters.chunksFailed += 1;
          failure.error = uploadError(chunk, error);
          pipeline.stop(failure.error);
          continue;
        }
        counters.chunksUploaded += 1;
        counters.rowsUploaded += chunk.rows;
        totals.chunks += 1;
        totals.rows += chunk.rows;
        // A file that cannot be removed now goes with its temp directory at the end.
        await rm(chunk.path, { force: true }).catch(() => {});
      }
    };
    const uploads = Promise.all(Array.from({ length: settings.concurrency }, worker));
    // An abort cuts this exec short while uploads still hold their buffers and files. The run's
    // scope waits for them to unwind before it closes, so every lease is back before anything
    // counts what is left; stopping the pipeline first ends the writer that feeds them.
    pipeline.scope.defer(async () => {
      pipeline.stop(new Error('export finished'));
      await uploads;
    });
    await uploads;

    const writerError = await input.writing.then(
      () => undefined,
      (error: unknown) => error,
    );
    if (failure.error !== undefined) throw failure.error;
    if (ctx.signal.aborted) throw abortError(ctx.signal, 'upload');
    if (writerError !== undefined) throw writerError;
    return totals;
  }
}

function uploadError(chunk: ChunkFile, error: unknown): ExportError {
  const reason = error instanceof Error ? error.message : describe(error);
  return new ExportError(`upload of ${chunk.name} failed: ${reason}`, { cause: error });
}
