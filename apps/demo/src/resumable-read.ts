import type { LeaseOwner } from '@kaygraph/core';
import type pg from 'pg';
import { pause } from './pause.js';
import {
  type DbSource,
  type ReadPlan,
  type Row,
  readFailure,
  resumeStatement,
} from './db-source.js';

export interface ResumableReadOptions {
  /** Rows per cursor read. */
  batchSize: number;
  signal: AbortSignal;
  owner?: LeaseOwner;
  /** Type parsers for the rows; pg's global ones when undefined. */
  types?: pg.CustomTypesConfig;
  /** True for failures worth another try: a dropped connection, a terminated backend. */
  isTransient: (error: unknown) => boolean;
  /** Tries in a row that may fail without delivering a row before the read gives up. Default 8. */
  maxAttempts?: number;
  /** Called before each new try. */
  onRetry?: (error: unknown, attempt: number) => void;
}

/**
 * The plan's rows in batches through the db provider's cursor stream. When the connection under
 * the cursor drops (the server restarted, an admin terminated the backend), a keyed read starts a
 * new cursor after the last key it delivered, on a fresh connection; an unkeyed one resumes only
 * if it had delivered nothing yet, since it cannot know where it was.
 */
export async function* readRows(
  db: DbSource,
  plan: ReadPlan,
  options: ResumableReadOptions,
): AsyncGenerator<Row[]> {
  const maxAttempts = options.maxAttempts ?? 8;
  let last: unknown[] | undefined;
  let delivered = false;
  let failures = 0;

  for (;;) {
    const statement =
      last === undefined ? { sql: plan.sql, params: [] } : resumeStatement(plan, last);
    try {
      const batches = db.stream<Row>(statement.sql, statement.params, {
        batchSize: options.batchSize,
        // An export reads; a `--query` that would write is refused before it changes anything.
        readOnly: true,
        signal: options.signal,
        ...(options.owner ? { owner: options.owner } : {}),
        ...(options.types ? { types: options.types } : {}),
      });
      for await (const batch of batches) {
        if (batch.length === 0) continue;
        if (plan.key !== undefined) last = plan.key.map((k) => batch[batch.length - 1]![k.column]);
        delivered = true;
        failures = 0;
        yield batch;
      }
      return;
    } catch (error) {
      const resumable = plan.key !== undefined || !delivered;
      failures += 1;
      if (options.signal.aborted) throw error;
      if (!resumable || failures >= maxAttempts || !options.isTransient(error)) {
        throw readFailure(error, plan);
      }
      options.onRetry?.(error, failures);
      await pause(Math.min(100 * 2 ** failures, 3000), options.signal, 'read retry wait');
    }
  }
}
