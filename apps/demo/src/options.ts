import { redactText, redactUrl, urlTextProblem } from '@kaygraph/core';
import { Command, CommanderError, Option } from 'commander';
import type { ChunkFormat } from './chunk-encodings.js';
import { UsageError } from './demo-errors.js';
import { parseSqlName } from './sql-name.js';

/** The sample table the embedded database is seeded with. */
export const SAMPLE_TABLE = 'sample_orders';

/** What to export: a whole table (quoted safely) or the rows of a query. */
export type ExportSource =
  | { kind: 'table'; name: string; quoted: string; parts: string[] }
  | { kind: 'query'; sql: string };

/** The validated command line. Services left undefined run embedded. */
export interface DemoOptions {
  dbUrl?: string;
  source: ExportSource;
  batchSize: number;
  chunkRows: number;
  format: ChunkFormat;
  apiUrl?: string;
  apiToken?: string;
  smtpUrl?: string;
  /** Longest wait for the SMTP server to accept the connection, and then to greet. */
  smtpTimeoutMs: number;
  mailFrom: string;
  mailTo: string;
  report?: string;
  concurrency: number;
  quiet: boolean;
  outbox: string;
}

/** Parsing ended without options: help or version was printed. */
export interface ParseExit {
  exit: number;
}

interface RawOptions {
  dbUrl?: string;
  table?: string;
  query?: string;
  /** Numbers as typed, or the default (a number, so `--help` shows it as one). */
  batchSize: string | number;
  chunkRows: string | number;
  format: string;
  apiUrl?: string;
  apiToken?: string;
  smtpUrl?: string;
  smtpTimeout: string | number;
  mailFrom: string;
  mailTo: string;
  report?: string;
  concurrency: string | number;
  quiet?: boolean;
  outbox: string;
}

function buildProgram(): Command {
  return new Command('kaygraph-demo')
    .description(
      'Export a PostgreSQL table or query as gzip NDJSON (or TSV) chunks, upload each chunk, mail a ' +
        'summary. With no flags everything runs embedded.',
    )
    .addOption(
      new Option('--db-url <url>', 'PostgreSQL URL (default: embedded)').env('KAYGRAPH_DB_URL'),
    )
    .option('--table <name>', `table to export, optionally schema.table (default: ${SAMPLE_TABLE})`)
    .option('--query <sql>', 'query to export instead of a table')
    .addOption(new Option('--batch-size <n>', 'rows per cursor read').default(1000))
    .addOption(new Option('--chunk-rows <n>', 'rows per chunk file').default(10_000))
    .option(
      '--format <format>',
      'chunk format: ndjson (rows as JSON objects) or tsv (PostgreSQL COPY text, passed through)',
      'ndjson',
    )
    .addOption(
      new Option('--api-url <url>', 'upload base URL (default: embedded receiver)').env(
        'KAYGRAPH_API_URL',
      ),
    )
    .addOption(new Option('--api-token <token>', 'bearer token').env('KAYGRAPH_API_TOKEN'))
    .addOption(
      new Option('--smtp-url <url>', 'SMTP URL (default: embedded capture)').env(
        'KAYGRAPH_SMTP_URL',
      ),
    )
    .addOption(
      new Option('--smtp-timeout <ms>', 'longest wait for the SMTP server to connect, then to greet')
        .env('KAYGRAPH_SMTP_TIMEOUT_MS')
        .default(10_000),
    )
    .option('--mail-from <address>', 'sender of the summary mail', 'kaygraph-demo@localhost')
    .option('--mail-to <address>', 'recipient of the summary mail', 'ops@localhost')
    .option('--report <file>', 'write a JSON report to this file')
    .addOption(new Option('--concurrency <n>', 'uploads in flight').default(4))
    .option('--outbox <dir>', 'folder the embedded SMTP capture writes to', '.kaygraph-outbox')
    .option('--quiet', 'no progress, no table')
    .allowExcessArguments(false)
    .exitOverride();
}

/**
 * Parse and validate the command line. Throws `UsageError` naming the bad flag and value (with any
 * password or token masked); returns `{ exit }` when help or the version was printed.
 */
export function parseOptions(argv: readonly string[]): DemoOptions | ParseExit {
  // `pnpm demo -- --flag` hands the script a literal `--` first; commander would take every
  // flag after it as an argument.
  const args = argv[0] === '--' ? argv.slice(1) : [...argv];
  const program = buildProgram();
  let commanderMessage = '';
  program.configureOutput({
    writeErr: (text) => {
      commanderMessage += text;
    },
  });
  try {
    program.parse(args, { from: 'user' });
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error;
    if (error.exitCode === 0) return { exit: 0 };
    if (error.code === 'commander.excessArguments') {
      // Named, masked: a URL typed without its flag may hold a password.
      const extra = program.args.map((arg) => JSON.stringify(redactText(arg))).join(', ');
      throw new UsageError(`unexpected argument ${extra}: every option is a --flag (see --help)`);
    }
    const text = commanderMessage.trim().replace(/^error: /, '') || error.message;
    throw new UsageError(`${text} (see --help)`);
  }
  return validate(program.opts<RawOptions>());
}

function validate(raw: RawOptions): DemoOptions {
  const options: DemoOptions = {
    source: parseSource(raw),
    batchSize: positiveInteger('--batch-size', raw.batchSize, 1_000_000),
    chunkRows: positiveInteger('--chunk-rows', raw.chunkRows, 100_000_000),
    format: chunkFormat(raw.format),
    concurrency: positiveInteger('--concurrency', raw.concurrency, 256),
    smtpTimeoutMs: positiveInteger('--smtp-timeout', raw.smtpTimeout, 2_147_483_647),
    mailFrom: mailAddress('--mail-from', raw.mailFrom),
    mailTo: mailAddress('--mail-to', raw.mailTo),
    quiet: raw.quiet === true,
    outbox: nonEmpty('--outbox', raw.outbox),
  };
  if (raw.dbUrl !== undefined) options.dbUrl = serviceUrl('--db-url', raw.dbUrl, DB_PROTOCOLS);
  if (raw.apiUrl !== undefined) options.apiUrl = uploadUrl(raw.apiUrl);
  if (raw.smtpUrl !== undefined) {
    options.smtpUrl = serviceUrl('--smtp-url', raw.smtpUrl, SMTP_PROTOCOLS);
  }
  if (raw.apiToken !== undefined) options.apiToken = token(raw.apiToken);
  if (raw.report !== undefined) options.report = nonEmpty('--report', raw.report);
  if (options.dbUrl !== undefined && raw.table === undefined && raw.query === undefined) {
    throw new UsageError('--db-url needs --table NAME or --query SQL');
  }
  return options;
}

function parseSource(raw: RawOptions): ExportSource {
  if (raw.table !== undefined && raw.query !== undefined) {
    throw new UsageError('give --table or --query, not both');
  }
  if (raw.query !== undefined) {
    const sql = raw.query.trim().replace(/;\s*$/, '');
    if (sql.length === 0) throw new UsageError('--query is empty');
    return { kind: 'query', sql };
  }
  const name = raw.table ?? SAMPLE_TABLE;
  const parsed = parseSqlName(name);
  if (parsed === undefined) {
    throw new UsageError(
      `--table ${JSON.stringify(name)} is not a table name (expected table or schema.table)`,
    );
  }
  return { kind: 'table', name, ...parsed };
}

const FORMATS: readonly ChunkFormat[] = ['ndjson', 'tsv'];

function chunkFormat(value: string): ChunkFormat {
  if (FORMATS.includes(value as ChunkFormat)) return value as ChunkFormat;
  throw new UsageError(
    `--format must be ${FORMATS.join(' or ')}, got ${JSON.stringify(value)}`,
  );
}

function positiveInteger(flag: string, value: string | number, max: number): number {
  const text = String(value).trim();
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > max) {
    throw new UsageError(
      `${flag} must be a whole number from 1 to ${max}, got ${JSON.stringify(value)}`,
    );
  }
  return Number(text);
}

const DB_PROTOCOLS = ['postgres:', 'postgresql:'];
const API_PROTOCOLS = ['http:', 'https:'];
const SMTP_PROTOCOLS = ['smtp:', 'smtps:'];

/**
 * A service URL, checked before anything connects. Text that does not parse, or has an `@` after
 * its host (a user name or password with an unencoded `/`, `?` or `#`, which the parser would
 * split into port and path), is refused with its credentials masked and the fix named.
 */
function serviceUrl(flag: string, value: string, protocols: readonly string[]): string {
  const problem = urlTextProblem(value);
  if (problem !== undefined) {
    throw new UsageError(`${flag} ${problem}: ${JSON.stringify(maskUrl(value))}`);
  }
  const url = new URL(value);
  const wanted = protocols.map((p) => `${p}//`).join(' or ');
  if (!protocols.includes(url.protocol)) {
    throw new UsageError(
      `${flag} must start with ${wanted}, got ${JSON.stringify(maskUrl(value))}`,
    );
  }
  if (url.hostname === '') {
    throw new UsageError(`${flag} has no host: ${JSON.stringify(maskUrl(value))}`);
  }
  return value;
}

/** Chunks go to `{url}/{run-id}/{chunk}`, so a query or fragment would have nowhere to go. */
function uploadUrl(value: string): string {
  serviceUrl('--api-url', value, API_PROTOCOLS);
  const url = new URL(value);
  if (url.search !== '' || url.hash !== '') {
    throw new UsageError(
      `--api-url must not have a query or fragment, got ${JSON.stringify(maskUrl(value))}`,
    );
  }
  return value;
}

/**
 * A URL as it may be shown: the password masked. For text that does not parse or has an `@`
 * after its host, everything between `scheme://` and the last `@` is masked, since the password
 * could be anywhere in there; text that is no URL at all (a libpq `host=… password=…` string)
 * has its `password=` value masked.
 */
export function maskUrl(value: string): string {
  return redactUrl(value);
}

function token(value: string): string {
  if (value.length === 0 || /\s/.test(value)) {
    throw new UsageError('--api-token must be non-empty and contain no whitespace');
  }
  return value;
}

function mailAddress(flag: string, value: string): string {
  if (!/^[^\s@<>]+@[^\s@<>]+$/.test(value)) {
    throw new UsageError(`${flag} is not a mail address: ${JSON.stringify(value)}`);
  }
  return value;
}

function nonEmpty(flag: string, value: string): string {
  if (value.trim().length === 0) throw new UsageError(`${flag} is empty`);
  return value;
}
