import { describe, expect, it } from 'vitest';
import { UsageError } from '../src/demo-errors.js';
import { type DemoOptions, parseOptions } from '../src/options.js';
import { parseSqlName } from '../src/sql-name.js';

function parse(args: string[]): DemoOptions {
  const parsed = parseOptions(args);
  if ('exit' in parsed) throw new Error('expected options');
  return parsed;
}

function usageError(args: string[]): UsageError {
  try {
    parseOptions(args);
  } catch (error) {
    if (UsageError.isInstance(error)) return error;
    throw error;
  }
  throw new Error('expected a usage error');
}

describe('command line', () => {
  it('defaults to the embedded sample table', () => {
    const options = parse([]);
    expect(options.source).toMatchObject({ kind: 'table', quoted: '"sample_orders"' });
    expect(options).toMatchObject({ batchSize: 1000, chunkRows: 10000, concurrency: 4 });
    expect(options.format).toBe('ndjson');
    expect(options.dbUrl).toBeUndefined();
  });

  it('takes --format ndjson or tsv and refuses anything else', () => {
    expect(parse(['--format', 'tsv']).format).toBe('tsv');
    expect(parse(['--format', 'ndjson']).format).toBe('ndjson');
    expect(usageError(['--format', 'TSV']).message).toContain('--format must be ndjson or tsv');
  });

  it('drops the literal -- that pnpm passes first', () => {
    expect(parse(['--', '--batch-size', '500']).batchSize).toBe(500);
  });

  it('masks the password of a malformed URL', () => {
    const error = usageError(['--db-url', 'postgres://me:pa55word@[bad']);
    expect(error.message).toContain('--db-url');
    expect(error.message).not.toContain('pa55word');
  });

  it('names an argument given without a flag, its password masked', () => {
    const error = usageError(['--quiet', 'postgres://me:pa55word@db.example/orders']);
    expect(error.message).toContain('unexpected argument "postgres://me:***@db.example/orders"');
    expect(error.message).not.toContain('pa55word');
  });

  it('refuses --table with --query, and --db-url without either', () => {
    expect(usageError(['--table', 't', '--query', 'select 1']).message).toContain('not both');
    expect(usageError(['--db-url', 'postgres://h/db']).message).toContain('--table');
  });
});

describe('table names', () => {
  it('quotes plain and schema-qualified names, folding case like PostgreSQL', () => {
    expect(parseSqlName('Orders')?.quoted).toBe('"orders"');
    expect(parseSqlName('shop.orders')?.quoted).toBe('"shop"."orders"');
    expect(parseSqlName('"My ""Table"""')?.parts).toEqual(['My "Table"']);
  });

  it('refuses what is not a name', () => {
    for (const bad of ['', 'a.b.c', 'orders; drop table x', '1abc', 'a.', '"open', 'a b']) {
      expect(parseSqlName(bad), bad).toBeUndefined();
    }
  });
});
