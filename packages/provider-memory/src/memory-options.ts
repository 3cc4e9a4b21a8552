import {
  ConfigInvalidError,
  checkBoolean,
  checkInteger,
  checkObject,
  checkString,
  rejectUnknownKeys,
} from '@kaygraph/core';

const KiB = 1024;
const MiB = 1024 * KiB;

/** The size classes used when none are given. */
export const defaultSizeClasses: readonly number[] = [4 * KiB, 64 * KiB, 1 * MiB, 8 * MiB];

/** Options of `createMemoryProvider`. */
export interface MemoryProviderOptions {
  /** Name in the resource pool. @default 'memory' */
  name?: string;
  /**
   * Most bytes the pool holds at once, counting each buffer at its class size, lent or idle.
   * @default 67108864 (64 MiB)
   */
  budgetBytes?: number;
  /**
   * Buffer sizes the pool deals in, strictly ascending; an acquire gets the smallest class that
   * fits. None may exceed `budgetBytes`. When not given, the defaults that fit in the budget.
   * @default [4096, 65536, 1048576, 8388608] (4 KiB, 64 KiB, 1 MiB, 8 MiB)
   */
  sizeClasses?: readonly number[];
  /**
   * How long an acquire waits for budget, in ms, before failing with `MemoryBudgetError`.
   * `0` fails at once when it would have to wait; `Infinity` waits for ever. @default 30000
   */
  acquireTimeoutMs?: number;
  /** How long `close()` waits for leases to come back before dropping them. @default 30000 */
  closeTimeoutMs?: number;
  /** Most bytes kept idle for reuse; beyond it, returned buffers are freed. @default budget / 4 */
  maxIdleBytes?: number;
  /**
   * Zero a buffer when it comes back, so the next borrower never sees the last one's data.
   * Costs a memset of the whole class per release; without it a reused buffer holds stale bytes,
   * just as a fresh one holds whatever `Buffer.allocUnsafeSlow` found. Turn it on when buffers
   * carry secrets or borrowers read before they write. @default false
   */
  zeroOnRelease?: boolean;
  /** Report a lease held longer than this many ms as a leak, once. `0` turns it off. @default 0 */
  leakDetectionMs?: number;
}

/** @internal options after validation, with defaults filled in. */
export interface MemorySettings {
  name: string;
  budgetBytes: number;
  sizeClasses: readonly number[];
  acquireTimeoutMs: number;
  closeTimeoutMs: number;
  maxIdleBytes: number;
  zeroOnRelease: boolean;
  leakDetectionMs: number;
}

const where = 'createMemoryProvider';
const known = [
  'name',
  'budgetBytes',
  'sizeClasses',
  'acquireTimeoutMs',
  'closeTimeoutMs',
  'maxIdleBytes',
  'zeroOnRelease',
  'leakDetectionMs',
] as const;

/** Validate `createMemoryProvider` options, one check per option, and fill in the defaults. */
export function resolveMemoryOptions(input: unknown): MemorySettings {
  const options = checkObject(where, input);
  rejectUnknownKeys(where, options, known);
  const budgetBytes = checkInteger(where, 'budgetBytes', options.budgetBytes, 64 * MiB, { min: 1 });
  const timeout = { min: 0, allowInfinity: true };
  const idleDefault = Math.floor(budgetBytes / 4);
  return {
    name: checkString(where, 'name', options.name, 'memory'),
    budgetBytes,
    sizeClasses: checkSizeClasses(options.sizeClasses, budgetBytes),
    acquireTimeoutMs: checkInteger(
      where,
      'acquireTimeoutMs',
      options.acquireTimeoutMs,
      30_000,
      timeout,
    ),
    closeTimeoutMs: checkInteger(where, 'closeTimeoutMs', options.closeTimeoutMs, 30_000, timeout),
    maxIdleBytes: checkInteger(where, 'maxIdleBytes', options.maxIdleBytes, idleDefault, {
      min: 0,
      max: budgetBytes,
    }),
    zeroOnRelease: checkBoolean(where, 'zeroOnRelease', options.zeroOnRelease, false),
    leakDetectionMs: checkInteger(where, 'leakDetectionMs', options.leakDetectionMs, 0, { min: 0 }),
  };
}

function checkSizeClasses(value: unknown, budgetBytes: number): readonly number[] {
  if (value === undefined) {
    const fitting = defaultSizeClasses.filter((size) => size <= budgetBytes);
    // A budget below the smallest default class still gets one class: the whole budget.
    return fitting.length > 0 ? fitting : [budgetBytes];
  }
  if (!Array.isArray(value) || value.length === 0) {
    throw invalidClasses('must be a non-empty array of byte sizes');
  }
  value.forEach((size: unknown, index) => {
    if (typeof size !== 'number' || !Number.isInteger(size) || size < 1) {
      throw invalidClasses(`must hold positive integers; item ${index} is ${String(size)}`);
    }
    if (index > 0 && size <= (value[index - 1] as number)) {
      throw invalidClasses(`must be strictly ascending; item ${index} (${size}) is not`);
    }
    if (size > budgetBytes) {
      throw invalidClasses(`must not exceed budgetBytes (${budgetBytes}); ${size} does`);
    }
  });
  return Object.freeze([...value]);
}

function invalidClasses(problem: string): ConfigInvalidError {
  return new ConfigInvalidError(`${where}: option "sizeClasses" ${problem}`);
}
