import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LeaseReleasedError, LeaseRevokedError, PoolClosedError } from '../src/errors.js';
import { Pool } from '../src/pool/pool.js';
import type { Lease } from '../src/resource.js';
import { Factory, type Thing, flush } from './support/pool-factory.js';

/**
 * Random schedules of everything a pool goes through — acquires with and without deadlines and
 * signals, releases, broken returns, double returns, aborts, failing / slow / hanging creates,
 * hanging and failing destroys, time passing, close and destroy — checked after every step.
 */

type Command =
  | { t: 'acquire'; timeoutMs: number | undefined; withSignal: boolean }
  | { t: 'release'; pick: number }
  | { t: 'destroyLease'; pick: number }
  | { t: 'releaseAgain'; pick: number }
  | { t: 'abort'; pick: number }
  | { t: 'advance'; ms: number }
  | { t: 'createMode'; mode: 'ok' | 'fail' | 'slow' | 'hang' | 'deaf'; ms: number }
  | { t: 'destroyMode'; mode: 'ok' | 'hang' | 'fail' }
  | { t: 'validateMode'; mode: ValidateMode; ms: number };

type ValidateMode = 'yes' | 'no' | 'later-yes' | 'later-no' | 'throw';

const command: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      t: fc.constant('acquire' as const),
      timeoutMs: fc.option(fc.integer({ min: 1, max: 400 }), { nil: undefined }),
      withSignal: fc.boolean(),
    }),
  },
  { weight: 5, arbitrary: fc.record({ t: fc.constant('release' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('destroyLease' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('releaseAgain' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('abort' as const), pick: fc.nat() }) },
  {
    weight: 4,
    arbitrary: fc.record({
      t: fc.constant('advance' as const),
      ms: fc.integer({ min: 0, max: 300 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant('createMode' as const),
      mode: fc.constantFrom<'ok' | 'fail' | 'slow' | 'hang' | 'deaf'>(
        'ok',
        'ok',
        'fail',
        'slow',
        'hang',
        'deaf',
      ),
      ms: fc.integer({ min: 1, max: 400 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant('destroyMode' as const),
      mode: fc.constantFrom('ok' as const, 'ok' as const, 'hang' as const, 'fail' as const),
    }),
  },
);

const commands = fc.oneof(
  { weight: 12, arbitrary: command },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant('validateMode' as const),
      mode: fc.constantFrom<ValidateMode>('yes', 'yes', 'no', 'later-yes', 'later-no', 'throw'),
      ms: fc.integer({ min: 0, max: 100 }),
    }),
  },
);

/** A validate whose answer the schedule picks: at once or later, yes or no, or a throw. */
function scriptedValidate(run: { mode: ValidateMode; ms: number }) {
  return (_thing: Thing): boolean | Promise<boolean> => {
    switch (run.mode) {
      case 'yes':
        return true;
      case 'no':
        return false;
      case 'throw':
        throw new Error('ping failed');
      default:
        return new Promise((resolve) =>
          setTimeout(() => resolve(run.mode === 'later-yes'), run.ms),
        );
    }
  };
}

/** When and how the schedule shuts the pool down (after the last command if past the end). */
const shutdown = fc.record({
  at: fc.nat({ max: 100 }),
  forced: fc.boolean(),
  timeoutMs: fc.integer({ min: 0, max: 500 }),
});

const poolOptions = fc.record({
  max: fc.integer({ min: 1, max: 4 }),
  minShare: fc.double({ min: 0, max: 1, noNaN: true }),
  idleTimeoutMs: fc.constantFrom(0, 150),
  maxLifetimeMs: fc.constantFrom(0, 400),
  maxUses: fc.constantFrom(0, 2),
  validateOnBorrow: fc.boolean(),
});

interface AcquireRecord {
  seq: number;
  settled: boolean;
  lease: Lease<Thing> | undefined;
  error: unknown;
  controller: AbortController | undefined;
}

/** Everything the schedule did, and the checks run after every step. */
class Run {
  readonly acquires: AcquireRecord[] = [];
  readonly held: Lease<Thing>[] = [];
  readonly returned: Lease<Thing>[] = [];
  readonly returns: Promise<void>[] = [];
  readonly problems: string[] = [];
  shutdown: Promise<void> | undefined;

  constructor(
    readonly pool: Pool<Thing>,
    readonly factory: Factory,
    readonly max: number,
  ) {}

  acquire(timeoutMs: number | undefined, withSignal: boolean): void {
    const controller = withSignal ? new AbortController() : undefined;
    const record: AcquireRecord = {
      seq: this.acquires.length,
      settled: false,
      lease: undefined,
      error: undefined,
      controller,
    };
    this.acquires.push(record);
    const closedAlready = this.shutdown !== undefined;
    const options =
      timeoutMs === undefined && controller === undefined
        ? undefined
        : { timeoutMs, signal: controller?.signal };
    this.pool
      .acquire(options)
      .then(
        (lease) => {
          record.settled = true;
          record.lease = lease;
          this.#checkLent(record, closedAlready);
          this.held.push(lease);
        },
        (error: unknown) => {
          record.settled = true;
          record.error = error;
          if (closedAlready && !PoolClosedError.isInstance(error)) {
            this.problems.push(`acquire ${record.seq} after close failed with ${String(error)}`);
          }
        },
      );
  }

  #checkLent(record: AcquireRecord, closedAlready: boolean): void {
    const thing = record.lease!.resource;
    if (closedAlready) this.problems.push(`acquire ${record.seq} got a lease after close`);
    // (A forced shutdown may destroy it between the lend and this callback.)
    if (thing.destroyed > 0 && this.shutdown === undefined) {
      this.problems.push(`lent destroyed resource ${thing.id}`);
    }
    if (record.controller?.signal.aborted === true && record.controller.signal.reason === 'abort') {
      this.problems.push(`acquire ${record.seq} got a lease after its abort`);
    }
    // First come, first served: nobody who asked earlier is still waiting.
    for (const earlier of this.acquires.slice(0, record.seq)) {
      if (!earlier.settled) {
        this.problems.push(`acquire ${record.seq} served before waiting acquire ${earlier.seq}`);
      }
    }
  }

  /** Return a held lease. Not awaited: a broken return waits for a destroy that may hang. */
  release(pick: number, broken: boolean): void {
    if (this.held.length === 0) return;
    const [lease] = this.held.splice(pick % this.held.length, 1);
    this.returned.push(lease!);
    // Taken back by a forced shutdown or a close timeout: the return must be refused, uncounted.
    const revoked = lease!.returned;
    const before = this.pool.stats();
    const done = broken ? lease!.destroy(new Error('broken')) : lease!.release();
    if (revoked) expect(this.pool.stats()).toEqual(before);
    this.returns.push(done);
    done.then(
      () => {
        if (revoked) this.problems.push(`return of revoked lease ${lease!.id} accepted`);
      },
      (error: unknown) => {
        if (!(revoked && LeaseRevokedError.isInstance(error))) {
          this.problems.push(`return failed: ${String(error)}`);
        }
      },
    );
  }

  async releaseAgain(pick: number): Promise<void> {
    if (this.returned.length === 0) return;
    const lease = this.returned[pick % this.returned.length]!;
    const before = this.pool.stats();
    const error = await lease.release().catch((e: unknown) => e);
    if (!LeaseReleasedError.isInstance(error) && !LeaseRevokedError.isInstance(error)) {
      this.problems.push('second release accepted');
    }
    expect(this.pool.stats()).toEqual(before);
  }

  abort(pick: number): void {
    const waiting = this.acquires.filter((a) => !a.settled && a.controller !== undefined);
    if (waiting.length === 0) return;
    waiting[pick % waiting.length]!.controller!.abort('abort');
  }

  check(): void {
    const stats = this.pool.stats();
    expect(stats.inUse).toBeLessThanOrEqual(this.max);
    expect(stats.size).toBeLessThanOrEqual(this.max);
    expect(stats.created - stats.destroyed).toBe(stats.idle + stats.inUse);
    expect(this.factory.made.length).toBeGreaterThanOrEqual(stats.created);

    // No resource held by two borrowers at once.
    const live = this.held.filter((lease) => lease.resource.destroyed === 0);
    const ids = live.map((lease) => lease.resource.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(this.problems).toEqual([]);
  }
}

async function step(ms = 0): Promise<void> {
  await vi.advanceTimersByTimeAsync(ms);
  await flush(3);
}

type Shape<A> = A extends fc.Arbitrary<infer V> ? V : never;

async function play(
  options: Shape<typeof poolOptions>,
  commands: Command[],
  end: Shape<typeof shutdown>,
): Promise<void> {
  vi.useFakeTimers({
    toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'],
  });
  const factory = new Factory();
  const validation = { mode: 'yes' as ValidateMode, ms: 0 };
  const pool = new Pool<Thing>({
    validate: scriptedValidate(validation),
    validateOnBorrow: options.validateOnBorrow,
    validateBypassMs: 50,
    create: factory.create,
    destroy: factory.destroy,
    max: options.max,
    min: Math.floor(options.minShare * options.max),
    idleTimeoutMs: options.idleTimeoutMs,
    maxLifetimeMs: options.maxLifetimeMs,
    maxUses: options.maxUses,
    acquireTimeoutMs: 300,
    createTimeoutMs: 200,
    destroyTimeoutMs: 100,
    createRetryMs: 10,
    createRetryMaxMs: 80,
  });
  const run = new Run(pool, factory, options.max);
  await pool.open().catch(() => {});

  for (const [index, cmd] of commands.entries()) {
    switch (cmd.t) {
      case 'acquire':
        run.acquire(cmd.timeoutMs, cmd.withSignal);
        break;
      case 'release':
        run.release(cmd.pick, false);
        break;
      case 'destroyLease':
        run.release(cmd.pick, true);
        break;
      case 'releaseAgain':
        await run.releaseAgain(cmd.pick);
        break;
      case 'abort':
        run.abort(cmd.pick);
        break;
      case 'advance':
        await step(cmd.ms);
        break;
      case 'createMode':
        factory.mode =
          cmd.mode === 'slow' ? { kind: 'slow', ms: cmd.ms } : { kind: cmd.mode };
        break;
      case 'destroyMode':
        factory.destroyMode = cmd.mode;
        break;
      case 'validateMode':
        validation.mode = cmd.mode;
        validation.ms = cmd.ms;
        break;
    }
    if (index === end.at) {
      run.shutdown = end.forced
        ? pool.destroy(new Error('forced'))
        : pool.close({ timeoutMs: end.timeoutMs });
    }
    await step();
    run.check();
  }

  // The end: give back half of what is held, close, let every timer run out.
  for (let i = run.held.length - 1; i >= 0; i -= 2) run.release(i, false);
  const shutdown = run.shutdown ?? pool.close({ timeoutMs: 200 });
  let closed = false;
  void shutdown.then(() => {
    closed = true;
  });
  for (let i = 0; i < 50 && !closed; i++) await step(100);
  expect(closed).toBe(true);
  expect(pool.state).toBe('closed');

  // Late returns after close are refused and count nothing.
  while (run.held.length > 0) run.release(0, false);
  await step(1_000);
  run.check();

  expect(run.acquires.every((a) => a.settled)).toBe(true);
  let returnsSettled = false;
  void Promise.allSettled(run.returns).then(() => {
    returnsSettled = true;
  });
  await step();
  expect(returnsSettled).toBe(true);
  expect(pool.stats()).toMatchObject({ size: 0, inUse: 0, idle: 0, waiting: 0, pending: 0 });
  for (const thing of factory.made) expect(thing.destroyed).toBe(1);
  expect(vi.getTimerCount()).toBe(0);
  vi.useRealTimers();
}

afterEach(() => {
  vi.useRealTimers();
});

describe('Pool under random schedules', () => {
  it('keeps its invariants after every step and cleans up everything at the end', async () => {
    await fc.assert(
      fc.asyncProperty(
        poolOptions,
        fc.array(commands, { minLength: 5, maxLength: 80, size: 'max' }),
        shutdown,
        play,
      ),
      { numRuns: 200 },
    );
  }, 120_000);
});
