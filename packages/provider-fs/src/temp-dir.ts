import path from 'node:path';
import type { LeaseOwner } from '@kaygraph/core';
import { isInside } from './confine-path.js';
import { pathRefused } from './fs-errors.js';
import type { TempTracker } from './temp-tracker.js';

/**
 * Anything that can run a cleanup when it ends — a KayGraph `Scope`, or your own. Only `defer`
 * is used, so the provider does not depend on how the scope is implemented.
 */
export interface ScopeLike {
  /** Run `cleanup` when the scope ends, however it ends. */
  defer(cleanup: () => Promise<void> | void): void;
}

/** Options of `FsProvider.tempDir`. */
export interface TempDirOptions {
  /** The directory is removed when this scope ends (success, throw or abort). */
  scope?: ScopeLike;
  /** Start of the directory's name; a random suffix follows. @default the `tempPrefix` option */
  prefix?: string;
  /** Cancels the creation. */
  signal?: AbortSignal;
  /** Who asked, for symmetry with the other calls; a temp dir holds no lease. */
  owner?: LeaseOwner;
}

/** A private (mode 0700) directory this provider created and will remove. */
export interface TempDir extends AsyncDisposable {
  /** Absolute path of the directory. */
  readonly path: string;
  /** A path inside the directory; names that would leave it throw `FsPathError`. */
  join(...names: string[]): string;
  /** Remove the directory and everything in it. Idempotent. */
  remove(): Promise<void>;
}

/** @internal the provider's implementation of `TempDir`. */
export class ScopedTempDir implements TempDir {
  #removal: Promise<void> | undefined;

  constructor(
    readonly path: string,
    private readonly tracker: TempTracker,
  ) {}

  join(...names: string[]): string {
    const joined = path.join(this.path, ...names);
    if (joined === this.path || !isInside(joined, this.path)) {
      throw pathRefused(names.join('/'), `leaves the temp directory ${this.path}`);
    }
    return joined;
  }

  remove(): Promise<void> {
    this.#removal ??= this.tracker.remove(this.path).catch((error: unknown) => {
      this.#removal = undefined; // a failed removal may be retried
      throw error;
    });
    return this.#removal;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.remove();
  }
}
