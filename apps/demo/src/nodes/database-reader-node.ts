import { type NodeContext, Node } from '@kaygraph/core';
import type { DbProvider } from '@kaygraph/provider-db';
import { CopyLines } from '../copy-lines.js';
import { type ReadPlan, planRead } from '../db-source.js';
import { isTransientDbError, retryTransient } from '../db-retry.js';
import type { ExportShared, Pipeline } from '../export-shared.js';
import { NDJSON_TYPES } from '../ndjson-types.js';
import type { ExportSource } from '../options.js';
import { readRows } from '../resumable-read.js';
import { RowCursor } from '../row-cursor.js';

interface ReaderInput {
  source: ExportSource;
}

/**
 * First stage: checks that the table exists (or takes the query as given), decides how to read it,
 * and opens the row stream. The rows are pulled later, batch by batch through the db provider's
 * cursor (or, with `--format tsv`, as the bytes of a COPY), as the file processor asks for them;
 * the stream holds one connection while it runs.
 */
export class DatabaseReaderNode extends Node<ExportShared, ReaderInput, ReadPlan> {
  constructor() {
    super({ name: 'DatabaseReaderNode' });
  }

  override prep(ctx: NodeContext<ExportShared>): ReaderInput {
    return { source: ctx.shared.settings.source };
  }

  override exec(input: ReaderInput, ctx: NodeContext<ExportShared>): Promise<ReadPlan> {
    const db = ctx.resources.get<DbProvider>('db');
    const { host, port, database } = db.describe();
    const where = `${host}:${port}/${database}`;
    return retryTransient(
      () => planRead(db, input.source, { signal: ctx.signal, owner: ctx.owner, where }),
      ctx.signal,
    );
  }

  override post(ctx: NodeContext<ExportShared>, _input: ReaderInput, plan: ReadPlan): void {
    const { shared } = ctx;
    const pipeline = shared.pipeline as Pipeline;
    const db = ctx.resources.get<DbProvider>('db');
    shared.plan = plan;
    if (plan.estimate !== undefined) shared.counters.expectedRows = plan.estimate;
    if (shared.settings.format === 'tsv') {
      const lines = new CopyLines(db, plan, {
        signal: pipeline.signal,
        owner: ctx.owner,
        isTransient: isTransientDbError,
        onRows: (count) => {
          shared.counters.rowsRead += count;
        },
      });
      pipeline.scope.defer(() => lines.close());
      shared.lines = lines;
      return;
    }
    const batches = readRows(db, plan, {
      batchSize: shared.settings.batchSize,
      // The rows are read while later nodes run, so the stream follows the pipeline, not this node.
      signal: pipeline.signal,
      owner: ctx.owner,
      isTransient: isTransientDbError,
      // Values JSON would turn into null or a Buffer object come as PostgreSQL's text instead.
      types: NDJSON_TYPES,
    });
    const rows = new RowCursor(batches, (count) => {
      shared.counters.rowsRead += count;
    });
    pipeline.scope.defer(() => rows.close());
    shared.rows = rows;
  }
}
