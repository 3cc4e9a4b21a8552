import { Readable } from 'node:stream';
import { abortError, type AcquireOptions, KayGraphError, type Lease } from '@kaygraph/core';
import type pg from 'pg';
import { type CopyToStreamQuery, to as copyTo } from 'pg-copy-streams';
import { isConnectionFailure } from './db-errors.js';

/** The formats `COPY … TO STDOUT` writes. */
export type CopyFormat = 'text' | 'csv' | 'binary';

/** One `COPY (query) TO STDOUT` and how to run it. */
export interface CopyOutRun {
  /** The complete COPY statement. */
  statement: string;
  /** Open the transaction `READ ONLY`, so the query cannot change data. */
  readOnly: boolean;
  /** Bytes buffered ahead of the consumer, in this stream and in the one it reads from. */
  highWaterMark: number;
  signal: AbortSignal | undefined;
  /** Borrows the connection the COPY runs on. */
  acquire(options: AcquireOptions): Promise<Lease<pg.PoolClient>>;
  acquireOptions: AcquireOptions;
  /** Turns a driver failure into the error the caller sees. */
  mapError(error: unknown): unknown;
  /** Marks the connection broken so its lease destroys it without a cancel request. */
  markBroken(client: pg.PoolClient, error: unknown): void;
}

/** The statement for a query, its format and whether CSV output starts with a header line. */
export function copyStatement(query: string, format: CopyFormat, header: boolean): string {
  if (format === 'text') return `COPY (${query}) TO STDOUT`;
  const options = header ? `FORMAT ${format}, HEADER true` : `FORMAT ${format}`;
  return `COPY (${query}) TO STDOUT WITH (${options})`;
}

/**
 * The bytes of a `COPY … TO STDOUT`, as a Readable that owns the connection they come from.
 *
 * The lease is taken when the stream is constructed and held until the stream is done with it:
 *
 * - the COPY finished and its transaction committed: released, and only then does the stream
 *   end, so a consumer that saw `end` knows the connection is back;
 * - anything else (the COPY failed, the connection broke, the consumer destroyed the stream
 *   early, the signal aborted): destroyed, never lent again. A COPY cut short leaves the
 *   connection in the middle of the protocol, and closing its socket does not stop the server,
 *   which may be blocked writing to a client that stopped reading; the provider sends a cancel
 *   request as it destroys the connection.
 *
 * The COPY runs inside `BEGIN` / `COMMIT`, `READ ONLY` unless asked otherwise, for the same
 * reason the cursor stream does: "read" is then a promise the server keeps.
 */
export class CopyOutStream extends Readable {
  /** Rows the server reported copying; undefined until the stream has ended. */
  rowCount: number | undefined;

  readonly #run: CopyOutRun;
  #lease: Lease<pg.PoolClient> | undefined;
  #copy: CopyToStreamQuery | undefined;
  #onAbort: (() => void) | undefined;

  constructor(run: CopyOutRun) {
    super({ highWaterMark: run.highWaterMark });
    this.#run = run;
    const { signal } = run;
    if (signal !== undefined) {
      this.#onAbort = () => this.destroy(abortError(signal, 'copyOut') as Error);
      signal.addEventListener('abort', this.#onAbort, { once: true });
    }
  }

  override async _construct(callback: (error?: Error | null) => void): Promise<void> {
    const run = this.#run;
    try {
      if (run.signal?.aborted) throw abortError(run.signal, 'copyOut');
      this.#lease = await run.acquire(run.acquireOptions);
      const client = this.#lease.resource;
      await client.query(run.readOnly ? 'BEGIN READ ONLY' : 'BEGIN');
      if (run.signal?.aborted) throw abortError(run.signal, 'copyOut');
      // Destroyed while the connection was on its way: _destroy runs next and gives it back.
      if (!this.destroyed) this.#copy = this.#start(client);
      callback();
    } catch (error) {
      callback(this.#failure(error));
    }
  }

  override _read(): void {
    this.#copy?.resume();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (this.#onAbort !== undefined) this.#run.signal?.removeEventListener('abort', this.#onAbort);
    this.#copy?.destroy();
    const lease = this.#lease;
    if (lease === undefined || lease.returned) {
      callback(error);
      return;
    }
    const reason = error ?? new Error('the consumer closed the COPY stream before its end');
    lease.destroy(reason).then(
      () => callback(error),
      () => callback(error),
    );
  }

  #start(client: pg.PoolClient): CopyToStreamQuery {
    const copy = client.query(
      copyTo(this.#run.statement, { highWaterMark: this.#run.highWaterMark }),
    );
    // Kept for the stream's whole life: pg reports a connection that ends after the consumer
    // destroyed this stream to the COPY query too, and an 'error' nobody hears would throw.
    copy.on('error', (error: Error) => {
      if (!this.destroyed) this.destroy(this.#failure(error));
    });
    copy.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) copy.pause();
    });
    copy.once('end', () => {
      this.#finish(client, copy);
    });
    return copy;
  }

  /** The COPY sent its last byte: commit, give the connection back, then end. */
  #finish(client: pg.PoolClient, copy: CopyToStreamQuery): void {
    // Queued behind the COPY, so it runs once the server has said the COPY is complete (and
    // pg-copy-streams has read the row count from that message).
    client
      .query('COMMIT')
      .then(async () => {
        // Destroyed by the consumer meanwhile: _destroy has already dealt with the lease.
        if (this.destroyed || this.#lease === undefined) return;
        this.rowCount = copy.rowCount;
        await this.#lease.release();
        this.push(null);
      })
      .catch((error: unknown) => {
        if (!this.destroyed) this.destroy(this.#failure(error));
      });
  }

  /** The error the consumer sees; a broken connection is marked so no cancel is sent for it. */
  #failure(error: unknown): Error {
    const driverError = !KayGraphError.isInstance(error);
    if (driverError && this.#lease !== undefined && isConnectionFailure(error)) {
      this.#run.markBroken(this.#lease.resource, error);
    }
    return (driverError ? this.#run.mapError(error) : error) as Error;
  }
}
