import { DbConnectError } from '@kaygraph/provider-db';
import { pause } from './pause.js';

/** Socket errors that mean nothing answers at that address: trying again will not help. */
const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/**
 * True for a database failure worth another try: the connection dropped under a statement (the
 * server restarted, an admin terminated the backend). A server that refuses connections, a wrong
 * password or an unknown database is reported at once instead.
 */
export function isTransientDbError(error: unknown): boolean {
  if (!DbConnectError.isInstance(error)) return false;
  const state = error.sqlState ?? '';
  if (state.startsWith('28') || state === '3D000') return false;
  const cause = (error as { cause?: { code?: unknown } }).cause;
  return !(typeof cause?.code === 'string' && UNREACHABLE.has(cause.code));
}

/** Run `work`, trying again (with backoff) after transient database failures, up to `attempts`. */
export async function retryTransient<T>(
  work: () => Promise<T>,
  signal: AbortSignal,
  attempts = 5,
): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await work();
    } catch (error) {
      if (signal.aborted || attempt >= attempts || !isTransientDbError(error)) throw error;
    }
    await pause(Math.min(100 * 2 ** attempt, 2000), signal, 'database retry wait');
  }
}
