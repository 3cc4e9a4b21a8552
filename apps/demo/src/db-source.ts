import type { LeaseOwner } from '@kaygraph/core';
import { DbError, type DbProvider } from '@kaygraph/provider-db';
import pg from 'pg';
import { copyTextFields } from './copy-text.js';
import { ExportError } from './demo-errors.js';
import type { ExportSource } from './options.js';
import { quoteIdentifier } from './sql-name.js';

/** The part of the db provider the reader uses. */
export type DbSource = Pick<DbProvider, 'query' | 'stream' | 'copyOut'>;

/** A row as pg returns it. */
export type Row = Record<string, unknown>;

/** How the rows will be read. */
export interface ReadPlan {
  /** `table "public"."orders"` or `query`, for messages and the report. */
  label: string;
  /** Rows in the table per the planner's statistics; undefined when unknown. */
  estimate?: number;
  /** The first statement. */
  sql: string;
  /** The quoted table name, for a table source. */
  table?: string;
  /**
   * Primary key columns and their types, when the table has one whose values survive a round trip
   * through JavaScript exactly. Only then can a read broken off by a dropped connection resume
   * after the last row it delivered, without skipping or repeating any. `position` is the
   * column's place (from 0) in the table's `SELECT *`, where a COPY line has its value.
   */
  key?: Array<{ column: string; type: string; position: number }>;
}

/** Key types whose pg values (number or exact string) can be sent back as parameters unchanged. */
const EXACT_KEY_TYPES = new Set([
  'smallint',
  'integer',
  'bigint',
  'numeric',
  'text',
  'uuid',
  'character varying',
]);

/**
 * Check the source exists and decide how to read it: a table in primary-key order (so a broken
 * read can resume), a table without a usable key as it comes, or the user's query as written.
 */
export async function planRead(
  db: DbSource,
  source: ExportSource,
  options: { signal: AbortSignal; owner?: LeaseOwner; where: string },
): Promise<ReadPlan> {
  if (source.kind === 'query') return { label: 'query', sql: source.sql };

  const found = await db.query<{ oid: string | null; estimate: string | null }>(
    `SELECT to_regclass($1)::oid::text AS oid,
            (SELECT reltuples::bigint::text FROM pg_class WHERE oid = to_regclass($1)) AS estimate`,
    [source.quoted],
    { signal: options.signal, ...(options.owner ? { owner: options.owner } : {}) },
  );
  const row = found.rows[0];
  if (row?.oid == null) {
    throw new ExportError(
      `table ${JSON.stringify(source.name)} does not exist in ${options.where}`,
    );
  }
  const label = `table ${source.quoted}`;
  const estimate = Number(row.estimate ?? -1);
  const key = await primaryKey(db, row.oid, {
    signal: options.signal,
    ...(options.owner ? { owner: options.owner } : {}),
  });
  const plan: ReadPlan = { label, table: source.quoted, sql: `SELECT * FROM ${source.quoted}` };
  if (estimate > 0) plan.estimate = estimate;
  if (key !== undefined) {
    plan.key = key;
    plan.sql += ` ORDER BY ${key.map((k) => quoteIdentifier(k.column)).join(', ')}`;
  }
  return plan;
}

async function primaryKey(
  db: DbSource,
  oid: string,
  options: { signal: AbortSignal; owner?: LeaseOwner },
): Promise<ReadPlan['key']> {
  const result = await db.query<{ column: string; type: string; position: number }>(
    `SELECT a.attname AS column, format_type(a.atttypid, NULL) AS type,
            (SELECT count(*)::int FROM pg_attribute b
              WHERE b.attrelid = a.attrelid AND b.attnum > 0 AND NOT b.attisdropped
                AND b.attnum < a.attnum) AS position
     FROM pg_index i
     JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
     WHERE i.indrelid = $1::oid AND i.indisprimary
     ORDER BY array_position(i.indkey::int2[], a.attnum)`,
    [oid],
    options,
  );
  if (result.rows.length === 0) return undefined;
  if (!result.rows.every((k) => EXACT_KEY_TYPES.has(k.type))) return undefined;
  return result.rows;
}

/** The statement that continues a keyed read after the row whose key is `last`. */
export function resumeStatement(
  plan: ReadPlan,
  last: unknown[],
): { sql: string; params: unknown[] } {
  const key = plan.key!;
  const table = plan.table!;
  const columns = key.map((k) => quoteIdentifier(k.column)).join(', ');
  const params = key.map((k, i) => `$${i + 1}::${k.type}`).join(', ');
  return {
    sql: `SELECT * FROM ${table} WHERE (${columns}) > (${params}) ORDER BY ${columns}`,
    params: last,
  };
}

/**
 * The statement that continues a keyed COPY after the row whose COPY text line is `lastLine`
 * (without its newline). COPY takes no parameters, so the key values, taken back out of the line
 * and undone from COPY's escaping, are inlined as quoted literals cast to the key's types: the
 * same text PostgreSQL wrote, read back by the same type.
 */
export function resumeCopyStatement(plan: ReadPlan, lastLine: Buffer): string {
  const key = plan.key!;
  const values = copyTextFields(
    lastLine,
    key.map((k) => k.position),
  );
  const literals = key.map((k, i) => {
    const value = values[i];
    if (value == null) throw new Error(`primary key column ${k.column} is NULL in a COPY line`);
    return `${pg.escapeLiteral(value)}::${k.type}`;
  });
  const columns = key.map((k) => quoteIdentifier(k.column)).join(', ');
  return `SELECT * FROM ${plan.table!} WHERE (${columns}) > (${literals.join(', ')}) ORDER BY ${columns}`;
}

/** SQLSTATE `read_only_sql_transaction`: the statement tried to write in a read-only transaction. */
const READ_ONLY_VIOLATION = '25006';

/**
 * The error a failed read is reported with. The db provider streams inside a read-only
 * transaction, so a `--query` that writes (`DELETE … RETURNING`, say) is refused by PostgreSQL
 * before it changes anything; that refusal is said in the export's terms. Any other error is
 * returned as it is.
 */
export function readFailure(error: unknown, plan: ReadPlan): unknown {
  if (!DbError.isInstance(error) || error.sqlState !== READ_ONLY_VIOLATION) return error;
  const what = plan.table === undefined ? '--query' : plan.label;
  return new ExportError(
    `${what} tried to change data; an export only reads, so it ran read-only and nothing was ` +
      `changed: ${error.message}`,
    { cause: error },
  );
}
