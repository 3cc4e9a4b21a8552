import { beforeEach, describe, expect, it } from 'vitest';
import { PoolClosedError } from '../src/errors.js';
import {
  Factory,
  type Thing,
  advance,
  collect,
  makePool,
  track,
  useFakeClock,
} from './support/pool-factory.js';

beforeEach(() => {
  useFakeClock();
});

/** A validate that answers later, when the test says so. */
function laterValidate() {
  const pending: { thing: Thing; answer: (ok: boolean) => void }[] = [];
  const validate = (thing: Thing) =>
    new Promise<boolean>((resolve) => pending.push({ thing, answer: resolve }));
  return { validate, pending };
}

describe('Pool validate on borrow', () => {
  it('destroys an idle resource that fails validation and lends a new one', async () => {
    const factory = new Factory();
    const destroys = collect('resource:destroy');
    const pool = makePool(factory, { validate: factory.validate, validateOnBorrow: true });
    const first = await pool.acquire();
    await first.release();
    await advance(1_000);
    factory.valid = false;

    const next = await pool.acquire();

    expect(factory.validateCalls).toBe(1);
    expect(first.resource.destroyed).toBe(1);
    expect(destroys).toMatchObject([{ reason: 'invalid' }]);
    expect(next.resource).not.toBe(first.resource);
    expect(pool.stats()).toMatchObject({ created: 2, destroyed: 1, inUse: 1 });
  });

  it('skips validation for a resource returned within validateBypassMs', async () => {
    const factory = new Factory();
    const pool = makePool(factory, {
      validate: factory.validate,
      validateOnBorrow: true,
      validateBypassMs: 500,
    });
    const first = await pool.acquire();
    await first.release();
    await advance(100);

    const again = await pool.acquire();
    expect(factory.validateCalls).toBe(0);
    expect(again.resource).toBe(first.resource);
    await again.release();

    await advance(600);
    const later = await pool.acquire();
    expect(factory.validateCalls).toBe(1);
    expect(later.resource).toBe(first.resource);
  });

  it('validates every borrow with validateBypassMs 0', async () => {
    const factory = new Factory();
    const pool = makePool(factory, {
      validate: factory.validate,
      validateOnBorrow: true,
      validateBypassMs: 0,
    });
    for (let i = 0; i < 3; i++) await (await pool.acquire()).release();

    expect(factory.validateCalls).toBe(3);
  });

  it('waits for an async validation and serves waiters in order', async () => {
    const factory = new Factory();
    const { validate, pending } = laterValidate();
    const pool = makePool(factory, { validate, validateOnBorrow: true, max: 1 });
    const first = await pool.acquire();
    await first.release();
    await advance(1_000);

    const a = track(pool.acquire());
    const b = track(pool.acquire());
    await advance(0);
    expect(pending).toHaveLength(1);
    expect(pool.stats()).toMatchObject({ inUse: 1, idle: 0, waiting: 2 });

    pending[0]!.answer(false);
    await advance(0);
    expect(first.resource.destroyed).toBe(1);
    expect(a.value()?.resource.id).toBe(2);
    expect(b.settled()).toBe(false);

    await a.value()!.release();
    await advance(0);
    expect(b.value()?.resource.id).toBe(2);
  });

  it('treats a throwing validate as invalid and reports the error', async () => {
    const factory = new Factory();
    const errors = collect('resource:error');
    const pool = makePool(factory, {
      validate: () => {
        throw new Error('ping failed');
      },
      validateOnBorrow: true,
    });
    const first = await pool.acquire();
    await first.release();
    await advance(1_000);

    const next = await pool.acquire();

    expect(next.resource).not.toBe(first.resource);
    expect(errors).toMatchObject([{ resourceId: 1, error: { message: 'ping failed' } }]);
    expect(pool.stats().errors).toBe(1);
  });

  it('treats a rejecting async validate as invalid', async () => {
    const factory = new Factory();
    const pool = makePool(factory, {
      validate: async () => Promise.reject(new Error('timeout')),
      validateOnBorrow: true,
    });
    const first = await pool.acquire();
    await first.release();
    await advance(1_000);

    const next = track(pool.acquire());
    await advance(0);

    expect(next.value()?.resource.id).toBe(2);
    expect(first.resource.destroyed).toBe(1);
  });

  it('keeps a validated resource idle when its waiter aborted meanwhile', async () => {
    const factory = new Factory();
    const { validate, pending } = laterValidate();
    const pool = makePool(factory, { validate, validateOnBorrow: true });
    const first = await pool.acquire();
    await first.release();
    await advance(1_000);
    const controller = new AbortController();

    const gone = track(pool.acquire({ signal: controller.signal }));
    await advance(0);
    controller.abort();
    pending[0]!.answer(true);
    await advance(0);

    expect(gone.error()).toBeDefined();
    expect(pool.stats()).toMatchObject({ idle: 1, inUse: 0, waiting: 0 });
  });

  it('destroys a resource whose validation finishes after close began', async () => {
    const factory = new Factory();
    const { validate, pending } = laterValidate();
    const pool = makePool(factory, { validate, validateOnBorrow: true });
    const first = await pool.acquire();
    await first.release();
    await advance(1_000);

    const waiting = track(pool.acquire());
    await advance(0);
    const closed = track(pool.close());
    await advance(0);
    expect(PoolClosedError.isInstance(waiting.error())).toBe(true);
    expect(closed.settled()).toBe(false);

    pending[0]!.answer(true);
    await advance(0);

    expect(closed.settled()).toBe(true);
    expect(first.resource.destroyed).toBe(1);
  });
});
