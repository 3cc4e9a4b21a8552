import { Readable, pipeline } from 'node:stream';
import { createGzip } from 'node:zlib';

/** Lines are handed to gzip in pieces of about this size: fewer, larger writes, bounded memory. */
const PIECE_BYTES = 64 * 1024;

/** pg returns int8 as strings already; a BigInt from elsewhere is kept exact as a string. */
function bigintAsString(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}

/**
 * One JSON text per row. A replacer takes JSON.stringify off V8's fast path (measured: about a
 * second more per million rows), so it is used only for the rare row that holds a BigInt.
 */
function toJsonLine(row: unknown): string {
  try {
    return `${JSON.stringify(row)}\n`;
  } catch (error) {
    if (!(error instanceof TypeError)) throw error;
    return `${JSON.stringify(row, bigintAsString)}\n`;
  }
}

/** The lines of each batch, serialised in a plain loop: async steps are per batch and per piece. */
async function* ndjsonPieces(
  batches: AsyncIterable<readonly unknown[]>,
  onRows: (count: number) => void,
) {
  let piece = '';
  for await (const rows of batches) {
    for (let i = 0; i < rows.length; i += 1) {
      piece += toJsonLine(rows[i]);
      if (piece.length >= PIECE_BYTES) {
        yield Buffer.from(piece);
        piece = '';
      }
    }
    onRows(rows.length);
  }
  if (piece.length > 0) yield Buffer.from(piece);
}

/**
 * A readable stream of the rows, given in batches, as gzip-compressed NDJSON, produced as it is
 * read (node:zlib streaming with backpressure). `onRows` is called with the size of each batch
 * once it is serialised. Destroying the returned stream stops the source.
 */
export function gzipNdjson(
  batches: AsyncIterable<readonly unknown[]>,
  onRows: (count: number) => void = () => {},
): Readable {
  return gzipOf(ndjsonPieces(batches, onRows));
}

/**
 * A readable stream of COPY text lines as gzip, produced as it is read: the bytes go to gzip as
 * they came from the database. `onRows` is called with the lines of each piece.
 */
export function gzipLines(
  pieces: AsyncIterable<{ bytes: Buffer; rows: number }>,
  onRows: (count: number) => void = () => {},
): Readable {
  return gzipOf(linePieces(pieces, onRows));
}

/** `source` piped through gzip; destroying the returned stream stops the source. */
function gzipOf(source: AsyncIterable<Buffer>): Readable {
  const gzip = createGzip();
  pipeline(Readable.from(source), gzip, () => {
    // Failures reach the consumer through the gzip stream, which pipeline destroys with them.
  });
  return gzip;
}

async function* linePieces(
  pieces: AsyncIterable<{ bytes: Buffer; rows: number }>,
  onRows: (count: number) => void,
) {
  for await (const piece of pieces) {
    yield piece.bytes;
    onRows(piece.rows);
  }
}
