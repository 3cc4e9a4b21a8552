import { lstat, realpath } from 'node:fs/promises';
import path from 'node:path';
import { errnoCode, pathRefused } from './fs-errors.js';

/** A directory paths may live under: as configured (absolute) and as the file system sees it. */
export interface ConfineBase {
  /** Absolute path as configured; absolute inputs written against it are accepted too. */
  given: string;
  /** Its realpath; every confined path ends up under one of these. Unset while it doesn't exist. */
  real: string | undefined;
}

/**
 * Resolve `input` to an absolute path that stays under one of `bases` (relative inputs are taken
 * from the first), following symlinks: the realpath of the nearest existing ancestor must stay
 * inside, so neither `..` nor a symlink can lead out. Returns the path with symlinks resolved.
 *
 * Known shortcoming: a symlink swapped in between this check and the `open` that follows is not
 * caught. Closing that race needs an `openat2(RESOLVE_BENEATH)`-style call, which Node lacks.
 */
export async function confinePath(input: unknown, bases: readonly ConfineBase[]): Promise<string> {
  return confineReal(input as string, confineLexically(input, bases), bases);
}

/**
 * The first, synchronous half of `confinePath`: check the string, resolve `..` and refuse what
 * leaves every base without looking at the disk. Returns the absolute path under a base's
 * realpath.
 */
export function confineLexically(input: unknown, bases: readonly ConfineBase[]): string {
  return placeUnderBase(checkPathString(input), bases);
}

/** The second half of `confinePath`: follow symlinks in `lexical` and refuse ones leading out. */
export async function confineReal(
  given: string,
  lexical: string,
  bases: readonly ConfineBase[],
): Promise<string> {
  const { real, tail } = await realAncestor(given, lexical);
  const resolved = tail.length === 0 ? real : path.join(real, ...tail);
  if (!bases.some((base) => base.real !== undefined && isInside(resolved, base.real))) {
    throw pathRefused(given, `a symlink leads outside the root (to ${resolved})`);
  }
  return resolved;
}

/** True when `candidate` is `base` or lies below it. Both must be absolute and normalised. */
export function isInside(candidate: string, base: string): boolean {
  if (candidate === base) return true;
  const prefix = base.endsWith(path.sep) ? base : base + path.sep;
  return candidate.startsWith(prefix);
}

function checkPathString(input: unknown): string {
  if (typeof input !== 'string' || input.length === 0) {
    throw pathRefused(String(input), 'a path must be a non-empty string');
  }
  if (input.includes('\0')) throw pathRefused(input, 'a path must not contain NUL bytes');
  return input;
}

/** The lexical step: resolve `..` and rewrite an absolute path onto the base's realpath. */
function placeUnderBase(given: string, bases: readonly ConfineBase[]): string {
  const first = bases[0] as ConfineBase;
  const absolute = path.resolve(first.real ?? first.given, given);
  for (const base of bases) {
    if (base.real !== undefined && isInside(absolute, base.real)) return absolute;
    if (isInside(absolute, base.given)) {
      return path.join(base.real ?? base.given, path.relative(base.given, absolute));
    }
  }
  const reason = path.isAbsolute(given)
    ? 'an absolute path outside the root'
    : '".." climbs out of the root';
  throw pathRefused(given, reason);
}

/** Walk up from `start` to the nearest ancestor that exists and return its realpath. */
async function realAncestor(given: string, start: string) {
  const tail: string[] = [];
  let candidate = start;
  for (let hop = 0; hop < 4096; hop++) {
    try {
      return { real: await realpath(candidate), tail };
    } catch (error) {
      await refuseUnlessMissing(given, candidate, error);
    }
    const parent = path.dirname(candidate);
    if (parent === candidate) break;
    tail.unshift(path.basename(candidate));
    candidate = parent;
  }
  throw pathRefused(given, 'no part of the path exists');
}

/** A missing component is fine (it will be created); a dangling symlink or a loop is not. */
async function refuseUnlessMissing(given: string, candidate: string, error: unknown) {
  const code = errnoCode(error);
  if (code === 'ELOOP') {
    throw pathRefused(given, 'too many levels of symlinks (a loop?)', error);
  }
  if (code !== 'ENOENT' && code !== 'ENOTDIR') {
    throw pathRefused(given, `cannot be resolved (${code ?? 'unknown error'})`, error);
  }
  const link = await lstat(candidate).catch(() => undefined);
  // realpath said "missing" but the name is there: a symlink to nowhere. Writing through it
  // would create its target wherever it points, so it is refused rather than followed.
  if (link?.isSymbolicLink()) throw pathRefused(given, 'a dangling symlink');
}
