import { KayGraphError, type KayGraphErrorOptions } from '@kaygraph/core';

/** Options of the file provider's errors: the path they are about. */
export interface FsErrorOptions extends KayGraphErrorOptions {
  /** The path as the caller gave it. */
  path?: string;
}

/**
 * A path was refused because it leaves the provider's root: a `..` that climbs out, an absolute
 * path elsewhere, a symlink whose target lies outside, or a name that is not a plain path.
 */
export class FsPathError extends KayGraphError {
  static override readonly code = 'KG_FS_PATH';

  /** The path as the caller gave it. */
  readonly path: string;

  // The constructor keeps the base class's shape so `FsPathError.isInstance` type-checks.
  constructor(message: string, options: FsErrorOptions = {}) {
    super(message, options);
    this.path = options.path ?? '';
  }
}

/** A file system call failed (open, write, fsync, rename, remove); `cause` is Node's error. */
export class FsError extends KayGraphError {
  static override readonly code = 'KG_FS';

  /** The path the failed call was about. */
  readonly path: string;
  /** Node's error code (`ENOENT`, `ENOSPC`, ...), when there is one. */
  readonly fsCode: string | undefined;

  constructor(message: string, options: FsErrorOptions = {}) {
    super(message, options);
    this.path = options.path ?? '';
    this.fsCode = errnoCode(options.cause);
  }
}

/** An `FsPathError` for `path`, saying why it was refused. */
export function pathRefused(path: string, reason: string, cause?: unknown): FsPathError {
  const options = cause === undefined ? { path } : { path, cause };
  return new FsPathError(`path ${JSON.stringify(path)} refused: ${reason}`, options);
}

/** An `FsError` for a failed call: "<what> <path> failed (<code>)". */
export function fsFailed(what: string, path: string, cause: unknown): FsError {
  const code = errnoCode(cause);
  const message = `${what} ${JSON.stringify(path)} failed${code ? ` (${code})` : ''}`;
  return new FsError(message, { path, cause });
}

/** Node's `code` on a system error (`ENOENT`...), or undefined. */
export function errnoCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}
