import { ConfigInvalidError } from './errors.js';
import { hasAtAfterAuthority, maskUserinfo } from './secrets.js';

/**
 * Option checks shared by every constructor and factory: each names the option and the bad value,
 * and throws `ConfigInvalidError`. Values that might be secrets are never echoed; callers pass
 * only non-secret options through `describeValue`.
 */

export function rejectUnknownKeys(where: string, options: object, allowed: readonly string[]) {
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) {
      throw new ConfigInvalidError(
        `${where}: unknown option "${key}" (known: ${allowed.join(', ')})`,
      );
    }
  }
}

export function checkObject(where: string, value: unknown): Record<string, unknown> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigInvalidError(`${where}: options must be an object, got ${describeValue(value)}`);
  }
  return value as Record<string, unknown>;
}

export interface IntegerRange {
  min?: number;
  max?: number;
}

/** An integer option; `Infinity` is accepted only when `max` is not set and `allowInfinity`. */
export function checkInteger(
  where: string,
  name: string,
  value: unknown,
  fallback: number,
  range: IntegerRange & { allowInfinity?: boolean } = {},
): number {
  if (value === undefined) return fallback;
  const isInfinite = value === Number.POSITIVE_INFINITY && range.allowInfinity === true;
  if (typeof value !== 'number' || (!Number.isInteger(value) && !isInfinite)) {
    throw new ConfigInvalidError(
      `${where}: option "${name}" must be an integer, got ${describeValue(value)}`,
    );
  }
  const min = range.min ?? Number.NEGATIVE_INFINITY;
  const max = range.max ?? Number.POSITIVE_INFINITY;
  if (value < min || value > max) {
    const bounds = range.max === undefined ? `>= ${min}` : `between ${min} and ${max}`;
    throw new ConfigInvalidError(`${where}: option "${name}" must be ${bounds}, got ${value}`);
  }
  return value;
}

export function checkNumber(
  where: string,
  name: string,
  value: unknown,
  fallback: number,
  range: IntegerRange = {},
): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new ConfigInvalidError(
      `${where}: option "${name}" must be a number, got ${describeValue(value)}`,
    );
  }
  if ((range.min !== undefined && value < range.min) || (range.max !== undefined && value > range.max)) {
    throw new ConfigInvalidError(
      `${where}: option "${name}" must be between ${range.min ?? '-Infinity'} and ${range.max ?? 'Infinity'}, got ${value}`,
    );
  }
  return value;
}

export function checkBoolean(where: string, name: string, value: unknown, fallback: boolean) {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') {
    throw new ConfigInvalidError(
      `${where}: option "${name}" must be a boolean, got ${describeValue(value)}`,
    );
  }
  return value;
}

export function checkString(where: string, name: string, value: unknown, fallback?: string) {
  if (value === undefined) {
    if (fallback === undefined) {
      throw new ConfigInvalidError(`${where}: option "${name}" is required`);
    }
    return fallback;
  }
  if (typeof value !== 'string' || value.length === 0) {
    throw new ConfigInvalidError(
      `${where}: option "${name}" must be a non-empty string, got ${describeValue(value)}`,
    );
  }
  return value;
}

/**
 * Why the text of a URL option cannot be used, or `undefined` when it can: it does not parse, or
 * it has an `@` after its authority, which is how a user name or password with an unencoded `/`,
 * `?`, `#` or `@` reads to the URL parser (part of the password becomes the port, path, query or
 * fragment, and requests may go to the wrong host). Both are refused rather than guessed at.
 */
export function urlTextProblem(text: string): string | undefined {
  if (hasAtAfterAuthority(text)) {
    return (
      'has an "@" after the host, so its user name or password holds a reserved character; ' +
      'percent-encode "/", "?", "#", "@" and ":" there (e.g. "/" as %2F)'
    );
  }
  if (!URL.canParse(text)) {
    return (
      'is not a URL (if it has a user name or password, percent-encode the reserved ' +
      'characters in them, e.g. "/" as %2F)'
    );
  }
  return undefined;
}

/**
 * A required URL option, parsed. Text that does not parse, or that the parser would read with a
 * password split into the port and path (see `urlTextProblem`), is refused; the message shows it
 * with everything between `scheme://` and the last `@` masked. The caller checks scheme and shape.
 */
export function checkUrl(where: string, name: string, value: unknown): URL {
  const text = checkString(where, name, value);
  const problem = urlTextProblem(text);
  if (problem !== undefined) {
    throw new ConfigInvalidError(
      `${where}: option "${name}" ${problem}: ${JSON.stringify(maskUserinfo(text))}`,
    );
  }
  return new URL(text);
}

export function checkFunction<F extends (...args: never[]) => unknown>(
  where: string,
  name: string,
  value: unknown,
  fallback?: F,
): F {
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value !== 'function') {
    throw new ConfigInvalidError(
      `${where}: option "${name}" must be a function, got ${describeValue(value)}`,
    );
  }
  return value as F;
}

/** A short, safe rendering of a value for an error message. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value);
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}
