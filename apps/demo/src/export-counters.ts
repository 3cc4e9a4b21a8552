/** What the export has done so far; the nodes add to it, progress and the report read it. */
export interface ExportCounters {
  /** Rows fetched from the database cursor. */
  rowsRead: number;
  /** Rows written into chunk files. */
  rowsWritten: number;
  /** Rows in chunks the upload endpoint accepted. */
  rowsUploaded: number;
  chunksWritten: number;
  chunksUploaded: number;
  chunksFailed: number;
  notificationsSent: number;
  notificationsFailed: number;
  /** Rows the source is expected to hold (a planner estimate), when known. */
  expectedRows?: number;
}

export function emptyCounters(): ExportCounters {
  return {
    rowsRead: 0,
    rowsWritten: 0,
    rowsUploaded: 0,
    chunksWritten: 0,
    chunksUploaded: 0,
    chunksFailed: 0,
    notificationsSent: 0,
    notificationsFailed: 0,
  };
}
