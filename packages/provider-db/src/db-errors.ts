import { inspect } from 'node:util';
import { KayGraphError, type KayGraphErrorOptions, redactText } from '@kaygraph/core';
import pg from 'pg';

/** Where a database error happened: facts safe to show, never a password. */
export interface DbTarget {
  /** Server host name or address (or socket directory). */
  host: string;
  /** Server port. */
  port: number;
  /** Database name. */
  database: string;
}

/** What every database error carries besides its message. */
export interface DbErrorOptions extends KayGraphErrorOptions, DbTarget {
  /** PostgreSQL's SQLSTATE code, e.g. `42P01`, when the server sent one. */
  sqlState?: string;
  /** The table the error is about, when PostgreSQL or its message names one. */
  table?: string;
}

/**
 * A statement failed on the server. The message names `host:port/database` and, where PostgreSQL
 * says which, the table; it never contains a password. The driver's error is the `cause`.
 */
export class DbError extends KayGraphError {
  static override readonly code: string = 'KG_DB';

  /** Server host the statement ran on. */
  readonly host: string;
  /** Server port. */
  readonly port: number;
  /** Database the statement ran in. */
  readonly database: string;
  /** PostgreSQL's SQLSTATE code (e.g. `42P01` for an unknown table), when there is one. */
  readonly sqlState: string | undefined;
  /** The table named by the error, when known. */
  readonly table: string | undefined;

  constructor(message: string, options: DbErrorOptions) {
    super(message, options);
    this.host = options.host;
    this.port = options.port;
    this.database = options.database;
    this.sqlState = options.sqlState;
    this.table = options.table;
  }
}

/**
 * A connection could not be made, or broke while in use (server gone, backend terminated,
 * network reset). The connection it happened on is destroyed, never lent again.
 */
export class DbConnectError extends DbError {
  static override readonly code = 'KG_DB_CONNECT';
}

/** `host:port/database`, the way every message names the server. */
export function targetLabel(target: DbTarget): string {
  return `${target.host}:${target.port}/${target.database}`;
}

/** Does this failure mean the connection itself is unusable (not just the statement)? */
export function isConnectionFailure(error: unknown): boolean {
  if (!(error instanceof pg.DatabaseError)) return true;
  if (error.severity === 'FATAL' || error.severity === 'PANIC') return true;
  // Class 08 is "connection exception"; 57P0x are shutdown / termination of the backend.
  const code = error.code ?? '';
  return code.startsWith('08') || code.startsWith('57P');
}

/** The failure of a connection attempt, as the caller sees it. */
export function connectError(error: unknown, target: DbTarget, secrets: readonly string[]) {
  const reason = reasonOf(error, secrets);
  const message = `cannot connect to PostgreSQL at ${targetLabel(target)}: ${reason}`;
  return new DbConnectError(redactText(message, secrets), {
    ...target,
    cause: safeCause(error, secrets),
    ...sqlFacts(error),
  });
}

/**
 * The failure of a statement, as the caller sees it: `DbConnectError` when the connection broke,
 * `DbError` when the server refused the statement. KayGraph errors pass through unchanged.
 */
export function statementError(error: unknown, target: DbTarget, secrets: readonly string[]) {
  if (KayGraphError.isInstance(error)) return error;
  const reason = reasonOf(error, secrets);
  if (isConnectionFailure(error)) {
    const message = `lost the connection to PostgreSQL at ${targetLabel(target)}: ${reason}`;
    return new DbConnectError(redactText(message, secrets), {
      ...target,
      cause: safeCause(error, secrets),
      ...sqlFacts(error),
    });
  }
  const message = `query failed on PostgreSQL at ${targetLabel(target)}: ${reason}`;
  return new DbError(redactText(message, secrets), {
    ...target,
    cause: safeCause(error, secrets),
    ...sqlFacts(error),
  });
}

/**
 * The driver's error, to keep as the `cause`. A server may repeat what it was sent (a password
 * in a failed login), so an error that shows a secret anywhere is replaced by a copy whose text
 * fields have it masked; the rest are kept as they are.
 */
function safeCause(error: unknown, secrets: readonly string[]): unknown {
  if (!(error instanceof Error)) return error;
  const shown = inspect(error, { depth: 4 });
  if (!secrets.some((secret) => secret.length >= 3 && shown.includes(secret))) return error;

  const copy = new Error(redactText(error.message, secrets));
  copy.name = error.name;
  copy.stack = redactText(error.stack ?? '', secrets);
  for (const [key, value] of Object.entries(error)) {
    const kept = typeof value === 'string' ? redactText(value, secrets) : value;
    if (typeof kept === 'object' || typeof kept === 'function') continue;
    Object.assign(copy, { [key]: kept });
  }
  return copy;
}

function reasonOf(error: unknown, secrets: readonly string[]): string {
  const text = error instanceof Error ? error.message || error.name : String(error);
  const sqlState = error instanceof pg.DatabaseError ? error.code : undefined;
  return redactText(sqlState === undefined ? text : `${text} (SQLSTATE ${sqlState})`, secrets);
}

function sqlFacts(error: unknown): { sqlState?: string; table?: string } {
  if (!(error instanceof pg.DatabaseError)) return {};
  const table = error.table ?? tableFromMessage(error.message);
  return {
    ...(error.code === undefined ? {} : { sqlState: error.code }),
    ...(table === undefined ? {} : { table }),
  };
}

// PostgreSQL sends no table field for "relation does not exist" (42P01); its message names it.
function tableFromMessage(message: string): string | undefined {
  return /relation "([^"]+)" does not exist/.exec(message)?.[1];
}
