import { ConfigInvalidError } from '../errors.js';
import {
  checkBoolean,
  checkFunction,
  checkInteger,
  checkObject,
  checkString,
  rejectUnknownKeys,
} from '../validate.js';

/** Options of `Pool`, each checked in the constructor; unknown keys are rejected. */
export interface PoolOptions<T> {
  /** Name on every lease, event and error; unique within a resource pool. Default `'pool'`. */
  name?: string;
  /** What kind of resource the pool lends, shown by the monitor. Default `'generic'`. */
  kind?: string;
  /**
   * Make a resource. Required. `signal` aborts when the create takes longer than
   * `createTimeoutMs` or the pool shuts down; a create that resolves anyway is destroyed.
   */
  create: (signal: AbortSignal) => T | Promise<T>;
  /** Dispose of a resource. Bounded by `destroyTimeoutMs`. Default: do nothing. */
  destroy?: (resource: T) => void | Promise<void>;
  /**
   * Tell whether a resource is still usable; `false` or a throw gets it destroyed. Used on borrow
   * when `validateOnBorrow` is set, by `use()` after the callback threw, and by `check()`.
   * Default: none (every resource is taken as valid).
   */
  validate?: (resource: T) => boolean | Promise<boolean>;
  /** Resources kept even when idle; the pool creates them on `open()`. Default `0`. */
  min?: number;
  /** Most resources that exist at once, counting those being created. Default `10`. */
  max?: number;
  /**
   * How long `acquire()` waits for a resource before it rejects with `AcquireTimeoutError`.
   * `Infinity` waits forever. Default `30000`.
   */
  acquireTimeoutMs?: number;
  /**
   * How long a create may take; after it the create's signal aborts and its slot is free again.
   * `Infinity` turns the limit off. Default `30000`.
   */
  createTimeoutMs?: number;
  /**
   * How long a destroy may take; after it the resource is abandoned and a `DestroyTimeoutError`
   * is reported. `Infinity` turns the limit off. Default `5000`.
   */
  destroyTimeoutMs?: number;
  /**
   * Idle resources above `min` are destroyed after this long unused. `0` keeps them.
   * Default `30000`.
   */
  idleTimeoutMs?: number;
  /**
   * Retire a resource this long after it was created, on return or while idle, never while
   * borrowed. Each resource's lifetime is shortened by up to 10% at random so a pool filled at
   * once does not retire all at once. `0` means no limit. Default `0`.
   */
  maxLifetimeMs?: number;
  /** Retire a resource after it has been lent this many times. `0` means no limit. Default `0`. */
  maxUses?: number;
  /** Run `validate` before lending an idle resource. Default `false`. */
  validateOnBorrow?: boolean;
  /**
   * With `validateOnBorrow`, skip validation of a resource returned or validated less than this
   * many ms ago: it was just seen working. Default `500`.
   */
  validateBypassMs?: number;
  /**
   * Report a lease held longer than this many ms, once, with its borrower's stack. `0` is off.
   * Default `0`.
   */
  leakDetectionMs?: number;
  /** First wait before retrying after a failed create; doubles per failure. Default `100`. */
  createRetryMs?: number;
  /** Longest wait between create retries. Default `10000`. */
  createRetryMaxMs?: number;
}

/** Options after defaults and checks. @internal */
export interface ResolvedPoolOptions<T> {
  name: string;
  kind: string;
  create: (signal: AbortSignal) => T | Promise<T>;
  destroy: (resource: T) => void | Promise<void>;
  validate: ((resource: T) => boolean | Promise<boolean>) | undefined;
  min: number;
  max: number;
  acquireTimeoutMs: number;
  createTimeoutMs: number;
  destroyTimeoutMs: number;
  idleTimeoutMs: number;
  maxLifetimeMs: number;
  maxUses: number;
  validateOnBorrow: boolean;
  validateBypassMs: number;
  leakDetectionMs: number;
  createRetryMs: number;
  createRetryMaxMs: number;
}

const knownOptions = [
  'name',
  'kind',
  'create',
  'destroy',
  'validate',
  'min',
  'max',
  'acquireTimeoutMs',
  'createTimeoutMs',
  'destroyTimeoutMs',
  'idleTimeoutMs',
  'maxLifetimeMs',
  'maxUses',
  'validateOnBorrow',
  'validateBypassMs',
  'leakDetectionMs',
  'createRetryMs',
  'createRetryMaxMs',
] as const;

const noDestroy = () => {};
const positiveOrInfinite = { min: 1, allowInfinity: true };

/** Check every option, fill in defaults. Throws `ConfigInvalidError` naming the bad option. */
export function resolvePoolOptions<T>(input: unknown): ResolvedPoolOptions<T> {
  const options = checkObject('Pool', input);
  const name = checkString('Pool', 'name', options.name, 'pool');
  const where = `Pool "${name}"`;
  rejectUnknownKeys(where, options, knownOptions);

  const int = (key: string, fallback: number, range: Parameters<typeof checkInteger>[4]) =>
    checkInteger(where, key, options[key], fallback, range);
  const max = int('max', 10, { min: 1 });
  const resolved: ResolvedPoolOptions<T> = {
    name,
    kind: checkString(where, 'kind', options.kind, 'generic'),
    create: checkFunction(where, 'create', options.create),
    destroy: checkFunction(where, 'destroy', options.destroy, noDestroy),
    validate:
      options.validate === undefined
        ? undefined
        : checkFunction<(resource: T) => boolean | Promise<boolean>>(
            where,
            'validate',
            options.validate,
          ),
    min: int('min', 0, { min: 0, max }),
    max,
    acquireTimeoutMs: int('acquireTimeoutMs', 30_000, positiveOrInfinite),
    createTimeoutMs: int('createTimeoutMs', 30_000, positiveOrInfinite),
    destroyTimeoutMs: int('destroyTimeoutMs', 5_000, positiveOrInfinite),
    idleTimeoutMs: int('idleTimeoutMs', 30_000, { min: 0 }),
    maxLifetimeMs: int('maxLifetimeMs', 0, { min: 0 }),
    maxUses: int('maxUses', 0, { min: 0 }),
    validateOnBorrow: checkBoolean(where, 'validateOnBorrow', options.validateOnBorrow, false),
    validateBypassMs: int('validateBypassMs', 500, { min: 0 }),
    leakDetectionMs: int('leakDetectionMs', 0, { min: 0 }),
    createRetryMs: int('createRetryMs', 100, { min: 1 }),
    createRetryMaxMs: int('createRetryMaxMs', 10_000, { min: 1 }),
  };

  if (resolved.validateOnBorrow && resolved.validate === undefined) {
    throw new ConfigInvalidError(`${where}: option "validateOnBorrow" needs a "validate" function`);
  }
  if (resolved.createRetryMaxMs < resolved.createRetryMs) {
    throw new ConfigInvalidError(
      `${where}: option "createRetryMaxMs" must be >= createRetryMs ` +
        `(${resolved.createRetryMs}), got ${resolved.createRetryMaxMs}`,
    );
  }
  return resolved;
}
