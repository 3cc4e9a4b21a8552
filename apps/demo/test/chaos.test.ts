import { describe, expect, it } from 'vitest';
import { formatChaosSummary } from '../src/chaos/chaos-summary.js';
import { runChaos } from '../src/chaos/run-chaos.js';

const serverUrl = process.env.KAYGRAPH_TEST_PG_URL;
if (serverUrl === undefined) {
  console.log('chaos: skipped, KAYGRAPH_TEST_PG_URL is not set (no real PostgreSQL)');
}

describe.skipIf(serverUrl === undefined)('the whole export under faults', () => {
  const title =
    'exports 100,000 pgbench rows exactly once through killed backends, 503s, resets ' +
    'and a mail server that is down';

  it(title, async () => {
    const result = await runChaos({ scale: 1, serverUrl: serverUrl!, seed: 1 });
    const summary = formatChaosSummary(result);
    console.log(summary);

    for (const check of result.checks) {
      expect(check.ok, `${check.name}: ${check.detail}\n${summary}`).toBe(true);
    }
    expect(result.checks.map((check) => check.name)).toEqual([
      'exit 0, on its own',
      'report ok',
      'every row uploaded exactly once',
      'every pool at zero in use',
      'no leaks',
      'no temp files',
      'no connection left in pg_stat_activity',
      'summary mail delivered after the refusals',
      'faults were injected',
    ]);
    expect(result.ok).toBe(true);

    // The same facts the checks judged, stated directly.
    expect(result.tableRows).toBe(100_000);
    expect(result.ledger).toEqual({
      rows: 100_000,
      distinct: 100_000,
      missing: 0,
      repeated: 0,
      unexpected: 0,
    });
    expect(result.receiver.rowsReceived).toBe(100_000);
    expect(result.exit).toMatchObject({ code: 0, signal: null, endedOnItsOwn: true });
    expect(result.killer.killed).toBeGreaterThan(0);
    expect(result.receiver.faultsInjected).toBeGreaterThan(0);
    expect(result.smtp).toMatchObject({ delivered: 1 });
    expect(result.smtp.refused).toBeGreaterThan(0);
    expect(result.backendsLeft).toBe(0);
    expect(result.tempLeft).toEqual([]);
    for (const [name, stats] of Object.entries(result.report!.resources)) {
      expect(stats.inUse, `${name} in use`).toBe(0);
      expect(stats.leaks, `${name} leaks`).toBe(0);
    }
  }, 300_000);
});
