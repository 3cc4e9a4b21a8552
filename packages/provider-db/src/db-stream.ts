import { abortError, KayGraphError, type Lease } from '@kaygraph/core';
import type pg from 'pg';
import Cursor from 'pg-cursor';
import { isConnectionFailure } from './db-errors.js';
import { untilAborted } from './races.js';

/** One streamed statement and how to read it. */
export interface CursorRead {
  sql: string;
  params: readonly unknown[] | undefined;
  batchSize: number;
  /** Open the cursor's transaction `READ ONLY`, so the statement cannot change data. */
  readOnly: boolean;
  /** Type parsers for this cursor's rows; pg's global ones when undefined. */
  types: pg.CustomTypesConfig | undefined;
  signal: AbortSignal | undefined;
  /** Turns a driver failure into the error the caller sees. */
  mapError(error: unknown): unknown;
  /** Marks the connection broken so its lease destroys it. */
  markBroken(error: unknown): void;
}

/**
 * Read a statement's rows in batches through a cursor on a leased connection, and return the
 * lease however iteration ends. The cursor runs inside BEGIN/COMMIT: on a real server this is
 * what the implicit transaction of an open portal already is, and the embedded server's
 * multiplexer keeps a transaction's connection to itself, so other connections cannot
 * interleave with the portal. A read-only transaction makes "read" a promise the server keeps:
 * a `DELETE … RETURNING` handed to a reader fails instead of emptying the table.
 */
export async function* readCursor<T extends pg.QueryResultRow>(
  lease: Lease<pg.PoolClient>,
  read: CursorRead,
): AsyncGenerator<T[], void, undefined> {
  const client = lease.resource;
  const lost = connectionLost(client);
  let cursor: Cursor<T> | undefined;
  let state: CursorState = 'open';
  try {
    await client.query(read.readOnly ? 'BEGIN READ ONLY' : 'BEGIN');
    const config = read.types === undefined ? undefined : { types: read.types };
    cursor = client.query(new Cursor<T>(read.sql, read.params, config));
    for (;;) {
      if (read.signal?.aborted) throw abortError(read.signal, 'stream');
      const batch = await readBatch(cursor, read, lost, (failure) => {
        state = failure;
      });
      if (batch.length === 0) break;
      yield batch;
    }
    await lost.race(cursor.close());
    await client.query('COMMIT');
    await lease.release();
  } catch (error) {
    if (state === 'open' && !KayGraphError.isInstance(error) && isConnectionFailure(error)) {
      state = 'broken';
    }
    await giveBack(lease, cursor, state, 'ROLLBACK', error, read);
    throw read.mapError(error);
  } finally {
    // Reached with the lease still out only when the consumer stopped early (break, throw,
    // return): the rows read so far were wanted, so the transaction commits like the implicit
    // one of a plain portal would.
    if (!lease.returned) await giveBack(lease, cursor, 'open', 'COMMIT', undefined, read);
    lost.dispose();
  }
}

/**
 * Watches the connection for failure or end. pg-cursor forgets a pending read when its connection
 * dies after the portal completed (CommandComplete arrived, ReadyForQuery did not), and `close()`
 * waits for a ReadyForQuery that may never come; racing both through `race` keeps them settling.
 * Each race removes its own handler when it settles: a race against one long-lived promise would
 * keep every batch it ever returned reachable until the connection ended.
 */
function connectionLost(client: pg.PoolClient) {
  let failure: Error | undefined;
  const waiters = new Set<(error: Error) => void>();
  const fail = (error: Error) => {
    failure ??= error;
    for (const waiter of waiters) waiter(failure);
    waiters.clear();
  };
  const onError = (error: Error) => fail(error);
  const onEnd = () => fail(new Error('Connection terminated unexpectedly'));
  client.on('error', onError);
  client.once('end', onEnd);

  return {
    race<T>(work: Promise<T>): Promise<T> {
      if (failure !== undefined) {
        work.catch(() => {});
        return Promise.reject(failure);
      }
      return new Promise<T>((resolve, reject) => {
        waiters.add(reject);
        work.then(
          (value) => {
            waiters.delete(reject);
            resolve(value);
          },
          (error: unknown) => {
            waiters.delete(reject);
            reject(error);
          },
        );
      });
    },
    dispose() {
      client.off('error', onError);
      client.off('end', onEnd);
      waiters.clear();
    },
  };
}

type ConnectionWatch = ReturnType<typeof connectionLost>;

/** Where a failed read left the connection. */
type CursorState = 'open' | 'read-failed' | 'aborted' | 'broken';

async function readBatch<T extends pg.QueryResultRow>(
  cursor: Cursor<T>,
  read: CursorRead,
  lost: ConnectionWatch,
  failed: (state: CursorState) => void,
): Promise<T[]> {
  try {
    const batch = lost.race(cursor.read(read.batchSize));
    return await untilAborted(batch, read.signal, 'stream');
  } catch (error) {
    if (read.signal?.aborted) failed('aborted');
    else failed(isConnectionFailure(error) ? 'broken' : 'read-failed');
    throw error;
  }
}

/** End the cursor and its transaction and return the lease, or destroy the connection. */
async function giveBack<T extends pg.QueryResultRow>(
  lease: Lease<pg.PoolClient>,
  cursor: Cursor<T> | undefined,
  state: CursorState,
  end: 'COMMIT' | 'ROLLBACK',
  error: unknown,
  read: CursorRead,
): Promise<void> {
  if (lease.returned) return;
  // An abort mid-read leaves the portal mid-protocol: closing the connection is the only
  // prompt way out. A broken connection is marked so its release destroys it.
  if (state === 'aborted') return lease.destroy(error).catch(() => {});
  if (state === 'broken') read.markBroken(error);
  if (state === 'broken') return lease.release().catch(() => {});
  try {
    // After a failed read pg-cursor has already re-synced the connection; closing the cursor
    // again would wait for a ReadyForQuery that never comes.
    if (cursor !== undefined && state === 'open') await cursor.close();
    await lease.resource.query(end);
  } catch (endError) {
    read.markBroken(endError);
  }
  await lease.release().catch(() => {});
}
