import type { ChunkEncoding } from './chunk-writer.js';
import type { LinePiece } from './copy-lines.js';
import type { Row } from './db-source.js';
import { gzipLines, gzipNdjson } from './ndjson-gzip.js';

/** The formats `--format` offers. */
export type ChunkFormat = 'ndjson' | 'tsv';

/** One JSON object per row, from the cursor's row batches. */
export const ndjsonChunks: ChunkEncoding<readonly Row[]> = {
  extension: 'ndjson',
  encode: gzipNdjson,
};

/** PostgreSQL's COPY text format, the bytes as the database sent them. */
export const tsvChunks: ChunkEncoding<LinePiece> = {
  extension: 'tsv',
  encode: gzipLines,
};

/** The Content-Type a chunk of each format is uploaded with. */
export const CONTENT_TYPES: Record<ChunkFormat, string> = {
  ndjson: 'application/x-ndjson',
  tsv: 'text/tab-separated-values',
};
