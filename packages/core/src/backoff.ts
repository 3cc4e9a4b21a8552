/**
 * How long to wait before retrying after `failures` failures in a row: `baseMs` doubled per
 * failure, capped at `maxMs`, then half of it fixed and half random. The random half spreads
 * the retries of many pools that failed together; the fixed half keeps the wait from coming near
 * zero. Core's `Pool` paces its creates with it, and so does every provider that backs off.
 */
export function backoffDelay(failures: number, baseMs: number, maxMs: number): number {
  const doublings = Math.min(Math.max(failures - 1, 0), 30);
  const ceiling = Math.min(maxMs, baseMs * 2 ** doublings);
  return Math.ceil(ceiling / 2 + (Math.random() * ceiling) / 2);
}
