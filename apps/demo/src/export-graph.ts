import { Graph, type NodeContext } from '@kaygraph/core';
import type { ExportShared } from './export-shared.js';
import { ApiUploaderNode } from './nodes/api-uploader-node.js';
import { DatabaseReaderNode } from './nodes/database-reader-node.js';
import { FileProcessorNode } from './nodes/file-processor-node.js';
import { NotificationNode } from './nodes/notification-node.js';

/**
 * `DatabaseReaderNode → FileProcessorNode → ApiUploaderNode → NotificationNode`.
 *
 * The first three stages overlap: the reader opens a row stream, the file processor starts a
 * writer on it, and the uploader sends chunks while later ones are still being read and written.
 * What outlives one node (the row cursor, the temp directory, the writer) lives in the graph's own
 * scope, which the runtime closes after the last node however the run ends, so nothing they hold
 * can outlast the export.
 */
export class ExportGraph extends Graph<ExportShared> {
  constructor() {
    const reader = new DatabaseReaderNode();
    reader.next(new FileProcessorNode()).next(new ApiUploaderNode()).next(new NotificationNode());
    super(reader, { name: 'export' });
  }

  override setupResources(ctx: NodeContext<ExportShared>): void {
    const stopper = new AbortController();
    ctx.shared.pipeline = {
      scope: ctx.scope,
      signal: AbortSignal.any([ctx.signal, stopper.signal]),
      owner: ctx.owner,
      stop: (reason) => stopper.abort(reason),
    };
  }
}
