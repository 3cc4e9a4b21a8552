import { ConfigInvalidError } from '@kaygraph/core';
import { describe, expect, it } from 'vitest';
import { createMemoryProvider, defaultSizeClasses } from '../src/index.js';
import { KiB, MiB, useProviders } from './helpers.js';

const make = useProviders();

function expectConfigError(build: () => unknown, mentions: string) {
  let caught: unknown;
  try {
    build();
  } catch (error) {
    caught = error;
  }
  expect(ConfigInvalidError.isInstance(caught)).toBe(true);
  expect((caught as ConfigInvalidError).code).toBe('KG_CONFIG_INVALID');
  expect((caught as Error).message).toContain(mentions);
}

describe('createMemoryProvider options', () => {
  it('fills in the defaults and describes them', async () => {
    const memory = createMemoryProvider();
    expect(memory.name).toBe('memory');
    expect(memory.kind).toBe('buffer');
    expect(memory.describe()).toEqual({
      budgetBytes: 64 * MiB,
      sizeClasses: [4 * KiB, 64 * KiB, 1 * MiB, 8 * MiB],
      maxIdleBytes: 16 * MiB,
      acquireTimeoutMs: 30_000,
      zeroOnRelease: false,
    });
    expect(defaultSizeClasses).toEqual([4 * KiB, 64 * KiB, 1 * MiB, 8 * MiB]);
    expect(memory.stats()).toMatchObject({
      size: 0,
      bytesInUse: 0,
      bytesIdle: 0,
      budgetBytes: 64 * MiB,
      peakBytes: 0,
    });
    await memory.destroy();
  });

  it('keeps the default classes that fit a small budget', () => {
    const memory = make({ budgetBytes: 2 * MiB });
    expect(memory.describe().sizeClasses).toEqual([4 * KiB, 64 * KiB, 1 * MiB]);
    expect(memory.describe().maxIdleBytes).toBe(512 * KiB);
    const tiny = make({ budgetBytes: 1000 });
    expect(tiny.describe().sizeClasses).toEqual([1000]);
  });

  it('takes its own classes, idle limit and zeroing', () => {
    const memory = make({
      budgetBytes: 1 * MiB,
      sizeClasses: [1 * KiB, 16 * KiB],
      maxIdleBytes: 0,
      zeroOnRelease: true,
      acquireTimeoutMs: 5,
    });
    expect(memory.describe()).toMatchObject({
      sizeClasses: [1 * KiB, 16 * KiB],
      maxIdleBytes: 0,
      zeroOnRelease: true,
      acquireTimeoutMs: 5,
    });
  });

  it('rejects unknown keys and bad values, naming the option', () => {
    expectConfigError(() => createMemoryProvider({ budget: 1 } as never), 'budget');
    expectConfigError(() => createMemoryProvider({ budgetBytes: 0 }), 'budgetBytes');
    expectConfigError(() => createMemoryProvider({ budgetBytes: 1.5 }), 'budgetBytes');
    expectConfigError(() => createMemoryProvider({ acquireTimeoutMs: -1 }), 'acquireTimeoutMs');
    expectConfigError(() => createMemoryProvider({ closeTimeoutMs: -1 }), 'closeTimeoutMs');
    expectConfigError(() => createMemoryProvider({ maxIdleBytes: 128 * MiB }), 'maxIdleBytes');
    const zero = 'yes' as unknown as boolean;
    expectConfigError(() => createMemoryProvider({ zeroOnRelease: zero }), 'zeroOnRelease');
    expectConfigError(() => createMemoryProvider({ name: '' }), 'name');
    expectConfigError(() => createMemoryProvider(7 as never), 'options must be an object');
  });

  it('checks size classes: non-empty, positive integers, ascending, within the budget', () => {
    expectConfigError(() => createMemoryProvider({ sizeClasses: [] }), 'sizeClasses');
    expectConfigError(() => createMemoryProvider({ sizeClasses: [0, 4] }), 'sizeClasses');
    expectConfigError(() => createMemoryProvider({ sizeClasses: [1.5] }), 'sizeClasses');
    expectConfigError(() => createMemoryProvider({ sizeClasses: [8, 4] }), 'ascending');
    expectConfigError(() => createMemoryProvider({ sizeClasses: [4, 4] }), 'ascending');
    expectConfigError(
      () => createMemoryProvider({ budgetBytes: 1 * MiB, sizeClasses: [4 * KiB, 2 * MiB] }),
      'budgetBytes',
    );
    expectConfigError(() => createMemoryProvider({ sizeClasses: 'big' as never }), 'sizeClasses');
  });

  it('checks acquire and cache options', async () => {
    const memory = make();
    await expect(memory.acquire({} as never)).rejects.toThrow('"size" is required');
    await expect(memory.acquire({ size: -1 })).rejects.toThrow('"size"');
    await expect(memory.acquire({ size: 1.5 })).rejects.toSatisfy((e) =>
      ConfigInvalidError.isInstance(e),
    );
    expectConfigError(() => memory.createCache({} as never), '"maxBytes" is required');
    expectConfigError(() => memory.createCache({ maxBytes: 0 }), 'maxBytes');
    expectConfigError(() => memory.createCache({ maxBytes: 10, ttlMs: 0 }), 'ttlMs');
    expectConfigError(() => memory.createCache({ maxBytes: 10, max: 3 } as never), 'max');
  });

  it('reports health with the budget, and not healthy once closed', async () => {
    const memory = make();
    expect(await memory.check()).toMatchObject({ ok: true, details: { budgetBytes: 64 * MiB } });
    await memory.close();
    expect((await memory.check()).ok).toBe(false);
  });
});
