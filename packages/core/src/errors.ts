const errorMarker = Symbol.for('kaygraph.error');

/** Options every KayGraph error accepts. */
export interface KayGraphErrorOptions {
  /** The error that caused this one, kept as the standard `cause`. */
  cause?: unknown;
}

/**
 * Base class of every error KayGraph throws. `code` is stable across releases; match on it or on
 * `SomeError.isInstance(e)`, which also works when two copies of the package are loaded.
 */
export class KayGraphError extends Error {
  /** The stable code of errors of this class, e.g. `KG_POOL_CLOSED`. */
  static readonly code: string = 'KG_ERROR';

  readonly code: string;
  readonly [errorMarker] = true;

  constructor(message: string, options: KayGraphErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = (new.target as typeof KayGraphError).code;
    this.name = new.target.name;
  }

  /** True for an error of this class (by code), from this or any other copy of the package. */
  static isInstance<T extends abstract new (...args: never[]) => KayGraphError>(
    this: T & { readonly code: string },
    value: unknown,
  ): value is InstanceType<T> {
    if (typeof value !== 'object' || value === null) return false;
    if ((value as Record<symbol, unknown>)[errorMarker] !== true) return false;
    // biome-ignore lint/complexity/noThisInStatic: as above
    return this.code === KayGraphError.code || (value as KayGraphError).code === this.code;
  }
}

/** An option passed to a constructor or factory is missing, unknown or out of range. */
export class ConfigInvalidError extends KayGraphError {
  static override readonly code = 'KG_CONFIG_INVALID';
}

/** No resource became free before the acquire deadline. */
export class AcquireTimeoutError extends KayGraphError {
  static override readonly code = 'KG_ACQUIRE_TIMEOUT';
}

/** Creating a resource took longer than the create timeout. */
export class CreateTimeoutError extends KayGraphError {
  static override readonly code = 'KG_CREATE_TIMEOUT';
}

/** Destroying a resource took longer than the destroy timeout; the resource was abandoned. */
export class DestroyTimeoutError extends KayGraphError {
  static override readonly code = 'KG_DESTROY_TIMEOUT';
}

/** The pool or provider is closing or closed and takes no more acquires. */
export class PoolClosedError extends KayGraphError {
  static override readonly code = 'KG_POOL_CLOSED';
}

/** A lease was released or destroyed a second time. */
export class LeaseReleasedError extends KayGraphError {
  static override readonly code = 'KG_LEASE_RELEASED';
}

/**
 * A lease was released or destroyed after its provider took it back: a forced shutdown or a close
 * timeout destroyed the resource while it was still lent. Nothing is counted twice.
 */
export class LeaseRevokedError extends KayGraphError {
  static override readonly code = 'KG_LEASE_REVOKED';
}

/** Something that is not a lease of this pool was handed back to it. */
export class ForeignLeaseError extends KayGraphError {
  static override readonly code = 'KG_LEASE_FOREIGN';
}

/** The operation was cancelled through its AbortSignal. */
export class AbortedError extends KayGraphError {
  static override readonly code = 'KG_ABORTED';
}

/** A node returned an action that names no edge. */
export class RouteNotFoundError extends KayGraphError {
  static override readonly code = 'KG_ROUTE_NOT_FOUND';
}

/** A node ran past its timeout. */
export class NodeTimeoutError extends KayGraphError {
  static override readonly code = 'KG_NODE_TIMEOUT';
}

/**
 * Every `exec` attempt of a node failed, not all in the same way: `errors` holds each attempt's
 * error in order, and `cause` is the last. (When every attempt failed with the same kind of
 * error, the same class and `code`, the node fails with the last one as it is.)
 */
export class RetryExhaustedError extends KayGraphError {
  static override readonly code = 'KG_RETRY_EXHAUSTED';

  /** The error of each attempt, first attempt first. */
  readonly errors: readonly unknown[];

  constructor(message: string, errors: readonly unknown[]) {
    super(message, { cause: errors[errors.length - 1] });
    this.errors = errors;
  }
}

/** A named provider is not registered in the resource pool. */
export class ProviderNotFoundError extends KayGraphError {
  static override readonly code = 'KG_PROVIDER_NOT_FOUND';
}

/** A resource failed to be created, or failed validation; the cause says why. */
export class ResourceError extends KayGraphError {
  static override readonly code = 'KG_RESOURCE';
}

/** A cleanup failed after another error; both are kept. Mirrors the standard SuppressedError. */
export class CleanupError extends KayGraphError {
  static override readonly code = 'KG_CLEANUP';

  /** The error raised while cleaning up. */
  readonly error: unknown;
  /** The error that was already in flight, which the cleanup error must not hide. */
  readonly suppressed: unknown;

  constructor(error: unknown, suppressed: unknown, message = 'cleanup failed after an error') {
    super(`${message}: ${describe(error)} (while handling: ${describe(suppressed)})`, {
      cause: suppressed,
    });
    this.error = error;
    this.suppressed = suppressed;
  }
}

/** Turn an abort reason into the error a caller should see. */
export function abortError(signal: AbortSignal, what: string): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error && KayGraphError.isInstance(reason)) return reason;
  return new AbortedError(`${what} was aborted`, { cause: reason });
}

/** One line describing an unknown thrown value, for messages. */
export function describe(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

/**
 * Combine a list of failures into one error: nothing if empty, the error itself if one,
 * an AggregateError otherwise.
 */
export function combineErrors(errors: unknown[], message: string): unknown {
  if (errors.length === 0) return undefined;
  if (errors.length === 1) return errors[0];
  return new AggregateError(errors, `${message} (${errors.length} errors)`);
}
