import { realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import {
  ConfigInvalidError,
  checkInteger,
  checkObject,
  checkString,
  rejectUnknownKeys,
} from '@kaygraph/core';

/** Options of `createFsProvider`. */
export interface FsProviderOptions {
  /** Name in the resource pool. @default 'fs' */
  name?: string;
  /**
   * Directory every path is resolved in and confined to (no `..` and no symlink leads out).
   * Must exist. Required.
   */
  root: string;
  /** Most file handles open at once; acquires beyond it wait in line. @default 64 */
  maxOpenFiles?: number;
  /**
   * How long an acquire waits for a free handle slot, in ms. `0` fails at once when none is free;
   * `Infinity` waits for ever. @default 30000
   */
  acquireTimeoutMs?: number;
  /** How long `close()` waits for leases to come back before closing them. @default 30000 */
  closeTimeoutMs?: number;
  /** Start of the names of temp directories and temp files. @default 'kaygraph-' */
  tempPrefix?: string;
  /**
   * Directory that holds the temp directories; created (mode 0700) on first use. Paths under it
   * are accepted like paths under `root`. Relative values are taken from `root`.
   * @default `<root>/.kaygraph-tmp`
   */
  tempRoot?: string;
  /** Report a lease held longer than this many ms as a leak, once. `0` turns it off. @default 0 */
  leakDetectionMs?: number;
}

/** @internal options after validation, with defaults filled in. */
export interface FsSettings {
  name: string;
  root: string;
  rootReal: string;
  maxOpenFiles: number;
  acquireTimeoutMs: number;
  closeTimeoutMs: number;
  tempPrefix: string;
  tempRoot: string;
  leakDetectionMs: number;
}

const where = 'createFsProvider';
const known = [
  'name',
  'root',
  'maxOpenFiles',
  'acquireTimeoutMs',
  'closeTimeoutMs',
  'tempPrefix',
  'tempRoot',
  'leakDetectionMs',
] as const;

/** Validate `createFsProvider` options, one check per option, and fill in the defaults. */
export function resolveFsOptions(input: unknown): FsSettings {
  const options = checkObject(where, input);
  rejectUnknownKeys(where, options, known);
  const root = path.resolve(checkString(where, 'root', options.root));
  const tempRoot = checkString(where, 'tempRoot', options.tempRoot, '.kaygraph-tmp');
  const timeout = { min: 0, allowInfinity: true };
  return {
    name: checkString(where, 'name', options.name, 'fs'),
    root,
    rootReal: realDirectory(root),
    maxOpenFiles: checkInteger(where, 'maxOpenFiles', options.maxOpenFiles, 64, { min: 1 }),
    acquireTimeoutMs: checkInteger(
      where,
      'acquireTimeoutMs',
      options.acquireTimeoutMs,
      30_000,
      timeout,
    ),
    closeTimeoutMs: checkInteger(where, 'closeTimeoutMs', options.closeTimeoutMs, 30_000, timeout),
    tempPrefix: checkPrefix(where, 'tempPrefix', options.tempPrefix, 'kaygraph-'),
    tempRoot: path.resolve(root, tempRoot),
    leakDetectionMs: checkInteger(where, 'leakDetectionMs', options.leakDetectionMs, 0, { min: 0 }),
  };
}

/** A name prefix must stay a plain name: no separators, no NUL, not `.` or `..`. */
export function checkPrefix(at: string, name: string, value: unknown, fallback: string): string {
  if (value === '') return '';
  const prefix = checkString(at, name, value, fallback);
  if (/[/\\\0]/.test(prefix) || prefix === '.' || prefix === '..') {
    throw new ConfigInvalidError(
      `${at}: option "${name}" must be a plain name without separators, ` +
        `got ${JSON.stringify(prefix)}`,
    );
  }
  return prefix;
}

function realDirectory(root: string): string {
  const problem = `${where}: option "root" must be an existing directory, got "${root}"`;
  try {
    const real = realpathSync(root);
    if (statSync(real).isDirectory()) return real;
  } catch (error) {
    throw new ConfigInvalidError(problem, { cause: error });
  }
  throw new ConfigInvalidError(problem);
}
