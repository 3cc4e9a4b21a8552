import {
  type EventName,
  type HealthReport,
  type KayGraphEvents,
  type LeaseOwner,
  redactText,
  subscribe,
} from '@kaygraph/core';
import { Percentiles } from './percentiles.js';
import type { ProviderHealth, RunsSnapshot } from './snapshot.js';

/** Node names are user strings; past this many, new names share one row so memory stays bounded. */
export const MAX_NODES = 256;
/** Node row that collects the names past `MAX_NODES`. */
export const OTHER_NODES = '(other)';
const MAX_WARNINGS = 5;

/** What the events of one provider added up to. */
export class ProviderRecord {
  created = 0;
  destroyed = 0;
  errors = 0;
  acquireTimeouts = 0;
  leaks = 0;
  leaksReturned = 0;
  acquired = 0;
  released = 0;
  readonly wait: Percentiles;
  readonly hold: Percentiles;
  readonly warnings: string[] = [];
  readonly health: ProviderHealth = {
    ok: null,
    latencyMs: null,
    checkedAt: null,
    checks: 0,
    failures: 0,
  };

  constructor(window: number) {
    this.wait = new Percentiles(window);
    this.hold = new Percentiles(window);
  }

  warn(message: string): void {
    const text = redactText(message);
    if (this.warnings.includes(text)) return;
    this.warnings.push(text);
    if (this.warnings.length > MAX_WARNINGS) this.warnings.shift();
  }
}

/** What the events of one graph node added up to. */
export class NodeRecord {
  runs = 0;
  errors = 0;
  leases = 0;
  readonly hold: Percentiles;

  constructor(window: number) {
    this.hold = new Percentiles(window);
  }
}

export interface EventRecorderOptions {
  percentileWindow: number;
  /** Only events of providers this says yes to are kept (the monitored resource pool's). */
  isMonitored(provider: string): boolean;
  /** Told about every wait and hold time, for the Prometheus histograms. */
  onDuration?(what: 'wait' | 'hold', provider: string, ms: number): void;
  /** Told when a provider opens, so its health can be checked at once. */
  onProviderOpen?(provider: string): void;
  /**
   * True while the monitor's own check of this provider runs: a `provider:health` event the
   * check publishes then is skipped, since the check's result is recorded when it returns.
   */
  isChecking?(provider: string): boolean;
}

/**
 * Listens to core's events and keeps the counts. Every handler checks the payload before using
 * it: the events arrive synchronously inside the pools' own code paths, so nothing here may throw
 * or turn a malformed payload into NaN.
 */
export class EventRecorder {
  readonly providers = new Map<string, ProviderRecord>();
  readonly nodes = new Map<string, NodeRecord>();
  readonly runs: RunsSnapshot = { started: 0, ok: 0, failed: 0 };

  readonly #options: EventRecorderOptions;
  #stops: Array<() => void> = [];
  #closed = false;

  constructor(options: EventRecorderOptions) {
    this.#options = options;
    this.#stops = [
      ...this.#subscribeResources(),
      ...this.#subscribeProviders(),
      ...this.#subscribeGraph(),
    ];
  }

  /** The record of a provider, made on first use. */
  provider(name: string): ProviderRecord {
    let record = this.providers.get(name);
    if (record === undefined) {
      record = new ProviderRecord(this.#options.percentileWindow);
      this.providers.set(name, record);
    }
    return record;
  }

  /** The record an event about this provider goes to: none once closed or for other providers. */
  #watched(name: unknown): ProviderRecord | undefined {
    if (typeof name !== 'string' || this.#closed) return undefined;
    if (!this.providers.has(name) && !this.#options.isMonitored(name)) return undefined;
    return this.provider(name);
  }

  /** Record a health report, from the monitor's own check or a `provider:health` event. */
  recordHealth(name: string, report: HealthReport, time = Date.now()): void {
    const record = this.#watched(name);
    if (record === undefined) return;
    const health = record.health;
    health.ok = report.ok === true;
    health.latencyMs = finite(report.latencyMs) ?? 0;
    health.checkedAt = time;
    health.checks++;
    if (health.ok) {
      health.error = undefined;
      return;
    }
    health.failures++;
    health.error = redactText(typeof report.error === 'string' ? report.error : 'check failed');
  }

  /** Stop listening. Idempotent. */
  close(): void {
    this.#closed = true;
    const stops = this.#stops;
    this.#stops = [];
    for (const stop of stops) stop();
  }

  #node(owner: LeaseOwner | undefined): NodeRecord | undefined {
    const name = typeof owner === 'object' && owner !== null ? owner.node : undefined;
    return this.#nodeNamed(name);
  }

  #nodeNamed(name: unknown): NodeRecord | undefined {
    if (typeof name !== 'string' || name.length === 0 || this.#closed) return undefined;
    const key = this.nodes.has(name) || this.nodes.size < MAX_NODES ? name : OTHER_NODES;
    let record = this.nodes.get(key);
    if (record === undefined) {
      record = new NodeRecord(this.#options.percentileWindow);
      this.nodes.set(key, record);
    }
    return record;
  }

  #duration(what: 'wait' | 'hold', provider: string, ms: number): void {
    try {
      this.#options.onDuration?.(what, provider, ms);
    } catch {
      // A metrics sink that fails loses one sample; the counts above it are already kept.
    }
  }

  #subscribeResources(): Array<() => void> {
    return [
      on('resource:create', (e) => {
        const record = this.#watched(e.provider);
        if (record) record.created++;
      }),
      on('resource:create-error', (e) => {
        const record = this.#watched(e.provider);
        if (record) record.errors++;
      }),
      on('resource:destroy', (e) => {
        const record = this.#watched(e.provider);
        if (record) record.destroyed++;
      }),
      on('resource:error', (e) => {
        const record = this.#watched(e.provider);
        if (record) record.errors++;
      }),
      on('resource:acquire-timeout', (e) => {
        const record = this.#watched(e.provider);
        if (record) record.acquireTimeouts++;
      }),
      on('resource:acquire', (e) => {
        const record = this.#watched(e.provider);
        if (record === undefined) return;
        const waitMs = finite(e.waitMs) ?? 0;
        record.acquired++;
        record.wait.record(waitMs);
        this.#duration('wait', e.provider, waitMs);
        const node = this.#node(e.owner);
        if (node) node.leases++;
      }),
      on('resource:release', (e) => {
        const record = this.#watched(e.provider);
        if (record === undefined) return;
        record.released++;
        // A lease taken before anyone listened carries no acquire time (heldMs NaN): counted as
        // returned, left out of the hold-time figures rather than recorded as 0.
        const heldMs = finite(e.heldMs);
        if (heldMs === undefined) return;
        record.hold.record(heldMs);
        this.#duration('hold', e.provider, heldMs);
        this.#node(e.owner)?.hold.record(heldMs);
      }),
      on('resource:leak', (e) => {
        const record = this.#watched(e.provider);
        if (record) record.leaks++;
      }),
      on('resource:leak-returned', (e) => {
        const record = this.#watched(e.provider);
        if (record) record.leaksReturned++;
      }),
    ];
  }

  #subscribeProviders(): Array<() => void> {
    return [
      on('provider:open', (e) => {
        if (this.#watched(e.provider) === undefined) return;
        this.#options.onProviderOpen?.(e.provider);
      }),
      on('provider:health', (e) => {
        if (typeof e.provider !== 'string' || this.#options.isChecking?.(e.provider)) return;
        const error = typeof e.error === 'object' && e.error !== null ? e.error.message : undefined;
        this.recordHealth(e.provider, {
          ok: e.ok === true,
          latencyMs: e.latencyMs,
          error,
        });
      }),
      on('provider:warning', (e) => {
        if (typeof e.message === 'string') this.#watched(e.provider)?.warn(e.message);
      }),
    ];
  }

  #subscribeGraph(): Array<() => void> {
    return [
      on('run:start', () => {
        this.runs.started++;
      }),
      on('run:end', (e) => {
        if (e.status === 'ok') this.runs.ok++;
        else this.runs.failed++;
      }),
      on('node:start', (e) => {
        const node = this.#nodeNamed(e.node);
        if (node) node.runs++;
      }),
      on('node:error', (e) => {
        const node = this.#nodeNamed(e.node);
        if (node) node.errors++;
      }),
    ];
  }
}

/**
 * Subscribe so that a payload that is not an object never reaches the handler and a handler that
 * fails never reaches the publisher: events arrive inside the pools' own code paths.
 */
function on<N extends EventName>(name: N, handler: (payload: KayGraphEvents[N]) => void) {
  return subscribe(name, (payload) => {
    if (typeof payload !== 'object' || payload === null) return;
    try {
      handler(payload);
    } catch {
      // A malformed payload costs that one event, nothing more.
    }
  });
}

function finite(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}
