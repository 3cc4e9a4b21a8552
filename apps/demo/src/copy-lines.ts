import type { LeaseOwner } from '@kaygraph/core';
import type { DbProvider } from '@kaygraph/provider-db';
import { ExportError } from './demo-errors.js';
import { type ReadPlan, readFailure, resumeCopyStatement } from './db-source.js';
import { pause } from './pause.js';

const NEWLINE = 0x0a;

/** Lines of a COPY, some of them, handed to the chunk writer as they arrived: no copy. */
export interface LinePiece {
  bytes: Buffer;
  /** Complete lines in `bytes` (it always ends with one). */
  rows: number;
}

export interface CopyLinesOptions {
  signal: AbortSignal;
  owner?: LeaseOwner;
  /** True for failures worth another try: a dropped connection, a terminated backend. */
  isTransient: (error: unknown) => boolean;
  /** Tries in a row that may fail without delivering a row before the read gives up. Default 8. */
  maxAttempts?: number;
  /** Called before each new try. */
  onRetry?: (error: unknown, attempt: number) => void;
  /** Called with the rows of each piece as it arrives (rows read). */
  onRows?: (rows: number) => void;
}

/**
 * The rows of a plan as PostgreSQL's COPY text format, one line per row (COPY escapes tabs,
 * newlines and backslashes inside values, so a newline byte always ends a row), cut into pieces
 * of whole lines without ever looking at a row on its own: the chunk writer only counts newline
 * bytes.
 *
 * When the connection under the COPY drops (the server restarted, an admin terminated the
 * backend), a table read in primary-key order starts a new COPY after the key of the last line it
 * handed out, taken back out of that line, so no row is repeated or skipped. A query, or a table
 * without such a key, is tried again only if it had handed out nothing yet; one that had fails
 * the export with an `ExportError` that says why: what was uploaded stays uploaded, and the run
 * does not claim to be complete.
 */
export class CopyLines {
  private readonly chunks: AsyncIterator<Buffer>;
  /** Bytes of complete lines not handed out yet, and how many lines they hold. */
  private held: Buffer | undefined;
  private heldRows = 0;
  private finished = false;

  constructor(
    db: Pick<DbProvider, 'copyOut'>,
    private readonly plan: ReadPlan,
    private readonly options: CopyLinesOptions,
  ) {
    this.chunks = this.read(db)[Symbol.asyncIterator]();
  }

  /** True while lines remain. */
  async hasMore(): Promise<boolean> {
    while (this.heldRows === 0) {
      if (this.finished) return false;
      const chunk = await this.pull();
      if (chunk === undefined) return false;
      this.hold(chunk);
    }
    return true;
  }

  /** Up to `limit` lines, in pieces as they arrived, the last one cut at the limit's newline. */
  async *take(limit: number): AsyncGenerator<LinePiece> {
    let left = limit;
    while (left > 0 && (await this.hasMore())) {
      const bytes = this.held as Buffer;
      if (this.heldRows <= left) {
        const rows = this.heldRows;
        this.held = undefined;
        this.heldRows = 0;
        left -= rows;
        yield { bytes, rows };
        continue;
      }
      const end = afterLine(bytes, left);
      this.held = bytes.subarray(end);
      this.heldRows -= left;
      const rows = left;
      left = 0;
      yield { bytes: bytes.subarray(0, end), rows };
    }
  }

  /** Stop early: ends the COPY, which gives its connection back (destroyed: it was mid-copy). */
  async close(): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    this.held = undefined;
    this.heldRows = 0;
    await this.chunks.return?.();
  }

  private async pull(): Promise<Buffer | undefined> {
    const next = await this.chunks.next();
    if (next.done) {
      this.finished = true;
      return undefined;
    }
    return next.value;
  }

  /** Count a chunk's lines and keep the part that ends with the last of them. */
  private hold(chunk: Buffer): void {
    const rows = countLines(chunk);
    if (rows === 0) return;
    this.held = this.held === undefined ? chunk : Buffer.concat([this.held, chunk]);
    this.heldRows += rows;
    this.options.onRows?.(rows);
  }

  /**
   * The COPY's bytes, re-cut so each piece ends with a newline: a row split across two network
   * reads is joined before anyone counts it. A keyed read that loses its connection starts a new
   * COPY after the key of the last line it handed out; a partial line it had is dropped, since
   * the new COPY starts with that row.
   */
  private async *read(db: Pick<DbProvider, 'copyOut'>): AsyncGenerator<Buffer> {
    const { signal, owner } = this.options;
    const maxAttempts = this.options.maxAttempts ?? 8;
    const plan = this.plan;
    let partial: Buffer | undefined;
    /** The last piece handed out, whose last line is the last row delivered. */
    let lastWhole: Buffer | undefined;
    let failures = 0;
    for (;;) {
      const sql =
        lastWhole === undefined ? plan.sql : resumeCopyStatement(plan, lastLineOf(lastWhole));
      const copy = db.copyOut(sql, { signal, ...(owner ? { owner } : {}) });
      try {
        for await (const chunk of copy as AsyncIterable<Buffer>) {
          const last = chunk.lastIndexOf(NEWLINE);
          if (last < 0) {
            partial = partial === undefined ? chunk : Buffer.concat([partial, chunk]);
            continue;
          }
          const head = chunk.subarray(0, last + 1);
          const whole = partial === undefined ? head : Buffer.concat([partial, head]);
          partial = last + 1 < chunk.length ? chunk.subarray(last + 1) : undefined;
          lastWhole = whole;
          failures = 0;
          yield whole;
        }
        if (partial !== undefined) {
          throw new ExportError(
            `the COPY of ${plan.label} ended in the middle of a row ` +
              `(${partial.length} bytes after the last newline)`,
          );
        }
        return;
      } catch (error) {
        copy.destroy();
        failures += 1;
        if (signal.aborted || !this.options.isTransient(error)) throw readFailure(error, plan);
        if (plan.key === undefined && lastWhole !== undefined) throw cannotResume(plan, error);
        if (failures >= maxAttempts) throw readFailure(error, plan);
        partial = undefined;
        this.options.onRetry?.(error, failures);
      }
      await pause(Math.min(100 * 2 ** failures, 3000), signal, 'copy retry wait');
    }
  }
}

function cannotResume(plan: ReadPlan, error: unknown): ExportError {
  const reason = error instanceof Error ? error.message : String(error);
  return new ExportError(
    `the connection to PostgreSQL was lost in the middle of a --format tsv export of ` +
      `${plan.label}; with no primary key to continue after, a COPY cannot be resumed where it ` +
      `stopped, so the export stops rather than repeat or skip rows (run it again): ${reason}`,
    { cause: error },
  );
}

/** The last line of a piece that ends with a newline, without the newline. */
function lastLineOf(piece: Buffer): Buffer {
  const start = piece.lastIndexOf(NEWLINE, piece.length - 2) + 1;
  return piece.subarray(start, piece.length - 1);
}

/** Newline bytes in a buffer. */
function countLines(bytes: Buffer): number {
  let rows = 0;
  for (let at = bytes.indexOf(NEWLINE); at >= 0; at = bytes.indexOf(NEWLINE, at + 1)) rows += 1;
  return rows;
}

/** The offset just past the `lines`-th newline of a buffer that holds more than that many. */
function afterLine(bytes: Buffer, lines: number): number {
  let at = -1;
  for (let seen = 0; seen < lines; seen += 1) at = bytes.indexOf(NEWLINE, at + 1);
  return at + 1;
}
