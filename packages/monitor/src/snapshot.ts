import type { DurationSummary } from './percentiles.js';

/** The last health check of a provider. */
export interface ProviderHealth {
  /** Result of the last check; `null` until a check has finished. */
  ok: boolean | null;
  /** How long the last check took, in milliseconds; `null` until a check has finished. */
  latencyMs: number | null;
  /** What the last failing check reported, free of secrets. */
  error?: string;
  /** Milliseconds since the epoch when the last check finished; `null` until then. */
  checkedAt: number | null;
  /** Checks finished since the monitor started. */
  checks: number;
  /** Checks that reported a failure since the monitor started. */
  failures: number;
}

/** One provider as the monitor sees it. */
export interface ProviderSnapshot {
  /** What kind of resource it lends (e.g. `postgres`). */
  kind: string;
  /** Lifecycle state: `new`, `open`, `closing` or `closed`. */
  state: string;
  /** Gauges, read from the provider's `stats()` when the snapshot is taken. */
  size: number;
  inUse: number;
  idle: number;
  waiting: number;
  pending: number;
  /** Counters: the provider's own where it reports them, otherwise counted from events. */
  created: number;
  destroyed: number;
  errors: number;
  acquireTimeouts: number;
  leaks: number;
  /** Leaked leases that were returned later. Counted from events. */
  leaksReturned: number;
  acquired: number;
  released: number;
  /** Time acquires waited for a resource. */
  acquireWaitMs: DurationSummary;
  /** Time leases were held before they were returned. */
  holdMs: DurationSummary;
  health: ProviderHealth;
  /** Non-secret configuration facts from the provider's `describe()`, strings redacted. */
  config: Record<string, unknown>;
  /** Extra numeric fields the provider's `stats()` reports (e.g. `bytesInUse`). */
  extra: Record<string, number>;
  /** Things worth a look: TLS verification off, a failing `stats()`, `provider:warning` events. */
  warnings: string[];
}

/** One graph node, from `node:*` events and the `owner.node` of the leases it took. */
export interface NodeSnapshot {
  /** Times the node started. */
  runs: number;
  /** Times the node failed. */
  errors: number;
  /** Leases taken on its behalf. */
  leases: number;
  /** Time its leases were held (`total` is the sum). */
  holdMs: DurationSummary;
}

/** Graph runs, from `run:*` events. */
export interface RunsSnapshot {
  started: number;
  /** Runs that ended with status `ok`. */
  ok: number;
  /** Runs that ended with status `error`, `timeout` or `aborted`. */
  failed: number;
}

/** Everything the monitor knows, as a plain JSON-safe object. */
export interface MonitorSnapshot {
  /** Milliseconds since the epoch when the snapshot was taken. */
  time: number;
  providers: Record<string, ProviderSnapshot>;
  nodes: Record<string, NodeSnapshot>;
  runs: RunsSnapshot;
}
