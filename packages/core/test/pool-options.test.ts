import { describe, expect, it } from 'vitest';
import { ConfigInvalidError } from '../src/errors.js';
import { Pool } from '../src/pool/pool.js';
import { Factory, makePool } from './support/pool-factory.js';

const create = async () => ({});

function rejects(options: unknown): ConfigInvalidError {
  try {
    new Pool(options as never);
  } catch (error) {
    expect(ConfigInvalidError.isInstance(error)).toBe(true);
    expect((error as ConfigInvalidError).code).toBe('KG_CONFIG_INVALID');
    return error as ConfigInvalidError;
  }
  throw new Error('the constructor accepted the options');
}

describe('Pool options', () => {
  it('fills in the documented defaults', () => {
    const pool = new Pool({ create });

    expect(pool.name).toBe('pool');
    expect(pool.kind).toBe('generic');
    expect(pool.state).toBe('new');
    expect(pool.describe()).toEqual({
      kind: 'generic',
      min: 0,
      max: 10,
      acquireTimeoutMs: 30_000,
      createTimeoutMs: 30_000,
      destroyTimeoutMs: 5_000,
      idleTimeoutMs: 30_000,
      maxLifetimeMs: 0,
      maxUses: 0,
      validateOnBorrow: false,
    });
  });

  it.each([
    ['name', ''],
    ['kind', 42],
    ['create', 'not a function'],
    ['destroy', {}],
    ['validate', true],
    ['min', -1],
    ['min', 1.5],
    ['max', 0],
    ['max', Number.POSITIVE_INFINITY],
    ['acquireTimeoutMs', 0],
    ['acquireTimeoutMs', '100'],
    ['createTimeoutMs', -5],
    ['destroyTimeoutMs', Number.NaN],
    ['idleTimeoutMs', -1],
    ['maxLifetimeMs', 0.5],
    ['maxUses', -1],
    ['validateOnBorrow', 'yes'],
    ['validateBypassMs', -1],
    ['leakDetectionMs', null],
    ['createRetryMs', 0],
    ['createRetryMaxMs', 0],
  ])('rejects a bad %s (%s), naming it', (option, value) => {
    const error = rejects({ create, [option]: value });

    expect(error.message).toContain(`"${option}"`);
  });

  it('requires create', () => {
    expect(rejects({ max: 2 }).message).toContain('"create"');
  });

  it('rejects an unknown option by name', () => {
    expect(rejects({ create, maxSize: 4 }).message).toContain('"maxSize"');
  });

  it('rejects options that are not an object', () => {
    rejects('max=4');
    rejects([create]);
  });

  it('rejects min above max, naming min', () => {
    expect(rejects({ create, min: 5, max: 4 }).message).toContain('"min"');
  });

  it('rejects validateOnBorrow without a validate function', () => {
    expect(rejects({ create, validateOnBorrow: true }).message).toContain('"validateOnBorrow"');
  });

  it('rejects a retry ceiling below the first retry', () => {
    const error = rejects({ create, createRetryMs: 500, createRetryMaxMs: 100 });
    expect(error.message).toContain('"createRetryMaxMs"');
  });

  it('accepts Infinity for the timeouts that allow it', () => {
    const pool = new Pool({
      create,
      acquireTimeoutMs: Number.POSITIVE_INFINITY,
      createTimeoutMs: Number.POSITIVE_INFINITY,
      destroyTimeoutMs: Number.POSITIVE_INFINITY,
    });
    expect(pool.describe().acquireTimeoutMs).toBe(Number.POSITIVE_INFINITY);
  });

  it('rejects a bad per-call timeoutMs without lending anything', async () => {
    const pool = makePool(new Factory());

    const error = await pool.acquire({ timeoutMs: -1 }).catch((e: unknown) => e);

    expect(ConfigInvalidError.isInstance(error)).toBe(true);
    expect(pool.stats().acquired).toBe(0);
  });

  it('rejects a bad close timeoutMs and stays open', async () => {
    const pool = makePool(new Factory());

    const error = await pool.close({ timeoutMs: -1 }).catch((e: unknown) => e);

    expect(ConfigInvalidError.isInstance(error)).toBe(true);
    expect(pool.state).toBe('new');
  });
});
