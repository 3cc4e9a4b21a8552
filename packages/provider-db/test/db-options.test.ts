import { ConfigInvalidError } from '@kaygraph/core';
import { describe, expect, it } from 'vitest';
import { createDbProvider, type DbProviderOptions } from '../src/index.js';

const url = 'postgres://alice:s3cret-pw@db.example:6543/orders';

function rejection(options: unknown): ConfigInvalidError {
  try {
    createDbProvider(options as DbProviderOptions);
  } catch (error) {
    expect(ConfigInvalidError.isInstance(error)).toBe(true);
    expect((error as ConfigInvalidError).code).toBe('KG_CONFIG_INVALID');
    return error as ConfigInvalidError;
  }
  throw new Error('expected createDbProvider to throw');
}

describe('createDbProvider options', () => {
  it('rejects unknown keys, naming the key', () => {
    expect(rejection({ connectionString: url, maxConnections: 3 }).message).toContain(
      '"maxConnections"',
    );
  });

  it('rejects a non-object', () => {
    expect(rejection('postgres://x').message).toContain('options must be an object');
  });

  it.each([
    ['max', { max: 0 }],
    ['max', { max: 2.5 }],
    ['idleTimeoutMs', { idleTimeoutMs: -1 }],
    ['acquireTimeoutMs', { acquireTimeoutMs: '10s' }],
    ['connectTimeoutMs', { connectTimeoutMs: Number.NaN }],
    ['applicationName', { applicationName: '' }],
    ['statementTimeoutMs', { statementTimeoutMs: -5 }],
    ['leakDetectionMs', { leakDetectionMs: true }],
    ['validateAfterIdleMs', { validateAfterIdleMs: -1 }],
    ['name', { name: 7 }],
    ['ssl', { ssl: 'require' }],
  ])('names the bad option "%s"', (name, bad) => {
    expect(rejection({ connectionString: url, ...bad }).message).toContain(`"${name}"`);
  });

  it.each([
    ['port', { host: 'localhost', port: 70_000 }],
    ['host', { host: '' }],
    ['password', { user: 'x', password: 12 }],
  ])('checks the separate connection field "%s"', (name, bad) => {
    expect(rejection(bad).message).toContain(`"${name}"`);
  });

  it('refuses connectionString together with a separate field', () => {
    const error = rejection({ connectionString: url, database: 'other' });
    expect(error.message).toContain('"database"');
    expect(error.message).toContain('connectionString');
  });

  it('rejects a connection string that is not a postgres URL, without echoing its password', () => {
    const error = rejection({ connectionString: 'mysql://bob:hunter2-pw@h/db' });
    expect(error.message).toContain('"connectionString"');
    expect(error.message).not.toContain('hunter2-pw');
  });

  it('fills in defaults and describes the target without the password', async () => {
    const db = createDbProvider({ connectionString: url });
    const description = db.describe();
    expect(description).toEqual({
      host: 'db.example',
      port: 6543,
      database: 'orders',
      user: 'alice',
      applicationName: 'kaygraph',
      max: 10,
      ssl: false,
    });
    expect(JSON.stringify(description)).not.toContain('s3cret-pw');
    expect(db.name).toBe('db');
    expect(db.kind).toBe('postgres');
    expect(db.state).toBe('new');
    await db.close();
  });

  it('accepts separate fields and Infinity for validateAfterIdleMs', async () => {
    const db = createDbProvider({
      name: 'warehouse',
      host: '10.0.0.5',
      port: 5433,
      user: 'etl',
      password: 'pw-not-shown',
      database: 'dw',
      max: 2,
      validateAfterIdleMs: Number.POSITIVE_INFINITY,
      ssl: { rejectUnauthorized: true },
    });
    expect(db.name).toBe('warehouse');
    expect(db.describe()).toMatchObject({
      host: '10.0.0.5',
      port: 5433,
      database: 'dw',
      ssl: true,
    });
    expect(JSON.stringify(db.describe())).not.toContain('pw-not-shown');
    await db.close();
  });

  it('makes no connection until asked, so closing an unused provider is immediate', async () => {
    const db = createDbProvider({ connectionString: url });
    expect(db.stats()).toMatchObject({ size: 0, created: 0, acquired: 0 });
    await db.close();
    expect(db.state).toBe('closed');
  });

  it('checks per-call options: acquire timeoutMs and stream batchSize', async () => {
    const db = createDbProvider({ connectionString: url });
    await expect(db.acquire({ timeoutMs: -1 })).rejects.toSatisfy((e) =>
      ConfigInvalidError.isInstance(e),
    );
    expect(() => db.stream('SELECT 1', [], { batchSize: 0 })).toThrow(/"batchSize"/);
    await db.close();
  });
});
