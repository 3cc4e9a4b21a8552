import {
  ConfigInvalidError,
  type Provider,
  type ProviderStats,
  type ResourcePool,
  checkInteger,
  checkObject,
  checkString,
  describe,
  redactText,
  rejectUnknownKeys,
} from '@kaygraph/core';
import type { Registry } from 'prom-client';
import { MonitorClosedError } from './errors.js';
import { EventRecorder, type ProviderRecord } from './event-recorder.js';
import { HealthChecker } from './health-checker.js';
import { type LiveStream, type LiveViewOptions, startLiveView } from './live-view.js';
import { PrometheusExporter } from './prometheus.js';
import { configWarnings, describeProvider } from './provider-config.js';
import { type ProviderSource, listProviders, providerName } from './provider-source.js';
import { renderLines, renderTable } from './render-table.js';
import { type MonitorServer, type ServeOptions, startServer } from './serve.js';
import type { MonitorSnapshot, NodeSnapshot, ProviderSnapshot } from './snapshot.js';

/** Options of `createMonitor()`. */
export interface MonitorOptions {
  /** The providers to watch: a core `ResourcePool`, or any object with a `list()` of providers. */
  resources: ResourcePool | ProviderSource;
  /**
   * Milliseconds between health checks of every open provider; the first round runs at once and
   * a provider that opens later is checked when it opens. 0 turns automatic checks off
   * (`checkHealth()` still runs one on demand). Default 5000.
   */
  healthIntervalMs?: number;
  /**
   * How many recent samples the wait and hold time percentiles are computed over, per provider
   * and per node. Memory stays fixed at this many numbers each. Default 1024.
   */
  percentileWindow?: number;
}

/** Watches a resource pool's providers and the graph runs that use them. */
export interface Monitor extends AsyncDisposable {
  /** Everything the monitor knows now, as a plain JSON-safe object. Never throws. */
  snapshot(): MonitorSnapshot;
  /** The snapshot as a fixed-width text table, at most 100 columns wide. */
  table(): string;
  /** Prometheus exposition text, read fresh at each call. */
  prometheus(): Promise<string>;
  /** Content-Type to serve `prometheus()` text with. */
  readonly contentType: string;
  /** The monitor's own prom-client registry (never the global one), e.g. to merge with yours. */
  readonly registry: Registry;
  /**
   * Serve `/metrics`, `/snapshot` and `/` over HTTP. Closed by `close()` too.
   *
   * @example
   * const server = await monitor.serve({ port: 9464 });
   * console.log(`scrape ${server.url}/metrics`);
   */
  serve(options?: ServeOptions): Promise<MonitorServer>;
  /**
   * Draw the table on a terminal every `intervalMs` (default 500), or append plain lines when
   * the stream is not a terminal. Returns a function that stops it; `close()` stops it too.
   */
  live(stream: LiveStream, options?: LiveViewOptions): () => void;
  /** Run a health check of every open provider now; resolves when they have all reported. */
  checkHealth(): Promise<void>;
  /** Unsubscribe from every event, clear every timer, stop live views and servers. Idempotent. */
  close(): Promise<void>;
}

const WHERE = 'createMonitor';
const GAUGES = ['size', 'inUse', 'idle', 'waiting', 'pending'] as const;
const COUNTERS = [
  'created',
  'destroyed',
  'errors',
  'acquireTimeouts',
  'leaks',
  'acquired',
  'released',
] as const;
const STANDARD_STATS: ReadonlySet<string> = new Set([...GAUGES, ...COUNTERS]);

/**
 * Start watching the providers of a resource pool: counts from core's events, gauges from each
 * provider's `stats()`, health from `check()` on an interval.
 *
 * @example
 * const monitor = createMonitor({ resources });
 * const server = await monitor.serve({ port: 9464 });
 * // ... runs ...
 * console.log(monitor.table());
 * await monitor.close();
 */
export function createMonitor(options: MonitorOptions): Monitor {
  const opts = checkObject(WHERE, options);
  rejectUnknownKeys(WHERE, opts, ['resources', 'healthIntervalMs', 'percentileWindow']);
  const resources = checkSource(opts.resources);
  const healthIntervalMs = checkInteger(WHERE, 'healthIntervalMs', opts.healthIntervalMs, 5000, {
    min: 0,
  });
  const percentileWindow = checkInteger(WHERE, 'percentileWindow', opts.percentileWindow, 1024, {
    min: 1,
    max: 1_000_000,
  });
  return new ResourceMonitor(resources, healthIntervalMs, percentileWindow);
}

function checkSource(value: unknown): ProviderSource {
  if (typeof value !== 'object' || value === null) {
    throw new ConfigInvalidError(`${WHERE}: option "resources" is required (a ResourcePool)`);
  }
  if (typeof (value as { list?: unknown }).list !== 'function') {
    throw new ConfigInvalidError(
      `${WHERE}: option "resources" must be a ResourcePool or an object with a list() method`,
    );
  }
  return value as ProviderSource;
}

class ResourceMonitor implements Monitor {
  readonly #source: ProviderSource;
  readonly #recorder: EventRecorder;
  readonly #health: HealthChecker;
  readonly #exporter: PrometheusExporter;
  readonly #liveViews = new Set<() => void>();
  readonly #servers = new Set<MonitorServer>();
  #names = new Set<string>();
  #closing: Promise<void> | undefined;

  constructor(source: ProviderSource, healthIntervalMs: number, percentileWindow: number) {
    this.#source = source;
    this.#exporter = new PrometheusExporter(() => this.snapshot());
    this.#health = new HealthChecker({
      source,
      intervalMs: healthIntervalMs,
      record: (name, report) => this.#recorder.recordHealth(name, report),
    });
    this.#recorder = new EventRecorder({
      percentileWindow,
      isMonitored: (name) => this.#isMonitored(name),
      onDuration: (what, provider, ms) => this.#exporter.observe(what, provider, ms),
      onProviderOpen: (name) => this.#health.checkSoon(name),
      isChecking: (name) => this.#health.isChecking(name),
    });
    this.#refreshNames();
    this.#health.start();
  }

  get contentType(): string {
    return this.#exporter.contentType;
  }

  get registry(): Registry {
    return this.#exporter.registry;
  }

  snapshot(): MonitorSnapshot {
    const providers: Record<string, ProviderSnapshot> = {};
    for (const provider of this.#refreshNames()) {
      const name = providerName(provider);
      if (name === undefined) continue;
      providers[name] = providerSnapshot(provider, this.#recorder.provider(name));
    }

    const nodes: Record<string, NodeSnapshot> = {};
    for (const [name, node] of this.#recorder.nodes) {
      const { runs, errors, leases } = node;
      nodes[name] = { runs, errors, leases, holdMs: node.hold.summary() };
    }
    return {
      time: Date.now(),
      providers,
      nodes,
      runs: { ...this.#recorder.runs },
    };
  }

  table(): string {
    return renderTable(this.snapshot());
  }

  prometheus(): Promise<string> {
    return this.#exporter.metrics();
  }

  async serve(options: ServeOptions = {}): Promise<MonitorServer> {
    const where = 'monitor.serve';
    const opts = checkObject(where, options);
    rejectUnknownKeys(where, opts, ['port', 'host']);
    const port = checkInteger(where, 'port', opts.port, 0, {
      min: 0,
      max: 65535,
    });
    const host = checkString(where, 'host', opts.host, '127.0.0.1');
    this.#assertOpen('serve');

    const server = await startServer(this, port, host);
    const tracked: MonitorServer = {
      url: server.url,
      close: () => {
        this.#servers.delete(tracked);
        return server.close();
      },
    };
    this.#servers.add(tracked);
    // close() may have run while the server was starting; it must not outlive the monitor.
    if (this.#closing !== undefined) {
      await tracked.close();
      this.#assertOpen('serve');
    }
    return tracked;
  }

  live(stream: LiveStream, options: LiveViewOptions = {}): () => void {
    const where = 'monitor.live';
    const opts = checkObject(where, options);
    rejectUnknownKeys(where, opts, ['intervalMs']);
    const intervalMs = checkInteger(where, 'intervalMs', opts.intervalMs, 500, {
      min: 1,
    });
    if (typeof stream !== 'object' || stream === null || typeof stream.write !== 'function') {
      throw new ConfigInvalidError(`${where}: stream must be a writable stream`);
    }
    this.#assertOpen('live');

    const source = {
      table: () => this.table(),
      lines: () => renderLines(this.snapshot()),
    };
    const stopView = startLiveView(stream, source, intervalMs);
    const stop = () => {
      this.#liveViews.delete(stop);
      stopView();
    };
    this.#liveViews.add(stop);
    return stop;
  }

  checkHealth(): Promise<void> {
    return this.#health.checkAll();
  }

  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #shutdown(): Promise<void> {
    this.#recorder.close();
    this.#health.close();
    for (const stop of [...this.#liveViews]) stop();
    await Promise.all([...this.#servers].map((server) => server.close()));
  }

  #assertOpen(what: string): void {
    if (this.#closing !== undefined) {
      throw new MonitorClosedError(`monitor.${what}: the monitor is closed`);
    }
  }

  /** Events of providers outside the watched pool are not kept; the names are re-read on a miss. */
  #isMonitored(name: string): boolean {
    if (this.#names.has(name)) return true;
    this.#refreshNames();
    return this.#names.has(name);
  }

  #refreshNames(): readonly Provider[] {
    const providers = listProviders(this.#source);
    const names = new Set<string>();
    for (const provider of providers) {
      const name = providerName(provider);
      if (name !== undefined) names.add(name);
    }
    this.#names = names;
    return providers;
  }
}

function providerSnapshot(provider: Provider, record: ProviderRecord): ProviderSnapshot {
  const { stats, error } = readStats(provider);
  // The provider's counters run from its open and usually cover more than the events seen since
  // the monitor started; the events cover what the provider does not count itself (a leak that
  // a scope reported on its behalf). The larger of the two is the better total.
  const own = (key: keyof ProviderStats, counted: number) =>
    Math.max(finiteOr(stats[key], 0), counted);
  const config = describeProvider(provider);
  const warnings = [...configWarnings(config), ...record.warnings];
  if (error !== undefined) warnings.push(`stats() failed: ${error}`);

  return {
    kind: textOr(() => provider.kind, 'unknown'),
    state: textOr(() => provider.state, 'unknown'),
    size: finiteOr(stats.size, 0),
    inUse: finiteOr(stats.inUse, 0),
    idle: finiteOr(stats.idle, 0),
    waiting: finiteOr(stats.waiting, 0),
    pending: finiteOr(stats.pending, 0),
    created: own('created', record.created),
    destroyed: own('destroyed', record.destroyed),
    errors: own('errors', record.errors),
    acquireTimeouts: own('acquireTimeouts', record.acquireTimeouts),
    leaks: own('leaks', record.leaks),
    leaksReturned: record.leaksReturned,
    acquired: own('acquired', record.acquired),
    released: own('released', record.released),
    acquireWaitMs: record.wait.summary(),
    holdMs: record.hold.summary(),
    health: { ...record.health },
    config,
    extra: extraStats(stats),
    warnings,
  };
}

/** The provider's stats, or none and the reason when `stats()` throws. */
function readStats(provider: Provider): {
  stats: Record<string, unknown>;
  error?: string;
} {
  try {
    const stats: unknown = provider.stats();
    return {
      stats: typeof stats === 'object' && stats !== null ? (stats as Record<string, unknown>) : {},
    };
  } catch (error) {
    return { stats: {}, error: redactText(describe(error)) };
  }
}

function extraStats(stats: Record<string, unknown>): Record<string, number> {
  const extra: Record<string, number> = {};
  for (const [key, value] of Object.entries(stats)) {
    if (!STANDARD_STATS.has(key) && typeof value === 'number' && Number.isFinite(value)) {
      extra[key] = value;
    }
  }
  return extra;
}

function finiteOr(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : fallback;
}

/** A provider's text field; a getter that throws must not break the snapshot. */
function textOr(read: () => unknown, fallback: string): string {
  try {
    const value = read();
    return typeof value === 'string' && value.length > 0 ? redactText(value) : fallback;
  } catch {
    return fallback;
  }
}
