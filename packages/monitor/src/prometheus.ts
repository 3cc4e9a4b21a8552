import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { MonitorSnapshot, ProviderSnapshot } from './snapshot.js';

/** Histogram buckets for acquire wait and hold time, in seconds: 1 ms to 1 minute. */
const DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

type Sample = [labels: Record<string, string>, value: number];

interface ProviderMetric {
  name: string;
  help: string;
  type: 'gauge' | 'counter';
  value(provider: ProviderSnapshot): number;
}

const providerMetrics: ProviderMetric[] = [
  gauge('kaygraph_resources_size', 'Resources that exist now (idle and in use).', (p) => p.size),
  gauge('kaygraph_resources_in_use', 'Resources lent out now.', (p) => p.inUse),
  gauge('kaygraph_resources_idle', 'Resources ready to lend now.', (p) => p.idle),
  gauge('kaygraph_resources_waiting', 'Acquires waiting for a resource now.', (p) => p.waiting),
  gauge('kaygraph_resources_pending', 'Resources being created now.', (p) => p.pending),
  counter('kaygraph_resources_created_total', 'Resources created.', (p) => p.created),
  counter('kaygraph_resources_destroyed_total', 'Resources destroyed.', (p) => p.destroyed),
  counter('kaygraph_resources_errors_total', 'Failed creates, broken resources.', (p) => p.errors),
  counter(
    'kaygraph_resources_acquire_timeouts_total',
    'Acquires that gave up at their deadline.',
    (p) => p.acquireTimeouts,
  ),
  counter('kaygraph_resources_leaks_total', 'Leases reported as leaked.', (p) => p.leaks),
  counter('kaygraph_resources_acquired_total', 'Leases taken.', (p) => p.acquired),
  counter('kaygraph_resources_released_total', 'Leases returned.', (p) => p.released),
];

/**
 * The monitor's metrics in a prom-client `Registry` of its own, never the global default, so two
 * monitors (or a host application's own metrics) never collide. Gauges and counters are filled
 * by `collect()` callbacks from one snapshot per scrape, so a scrape always reads fresh values;
 * wait and hold times are histograms fed as the events arrive.
 */
export class PrometheusExporter {
  readonly registry = new Registry();
  readonly #take: () => MonitorSnapshot;
  readonly #wait: Histogram<'provider'>;
  readonly #hold: Histogram<'provider'>;
  #current: MonitorSnapshot | undefined;

  constructor(take: () => MonitorSnapshot) {
    this.#take = take;
    this.#wait = this.#histogram(
      'kaygraph_resources_acquire_wait_seconds',
      'Time acquires waited for a resource.',
    );
    this.#hold = this.#histogram(
      'kaygraph_resources_hold_seconds',
      'Time leases were held before they were returned.',
    );
    for (const metric of providerMetrics) {
      this.#define(metric.type, metric.name, metric.help, ['provider'], (snap) =>
        Object.entries(snap.providers).map(([provider, p]) => [{ provider }, metric.value(p)]),
      );
    }
    this.#defineHealth();
    this.#defineNodes();
    this.#defineRuns();
  }

  /** Content-Type of the text `metrics()` returns. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** Feed one wait or hold time, in milliseconds, into its histogram. */
  observe(what: 'wait' | 'hold', provider: string, ms: number): void {
    const histogram = what === 'wait' ? this.#wait : this.#hold;
    histogram.observe({ provider }, ms / 1000);
  }

  /** The Prometheus exposition text. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  /**
   * One snapshot for every collect() of a scrape. prom-client runs all of them in the same
   * synchronous pass, so the snapshot is dropped at the next microtask and the next scrape
   * takes a new one.
   */
  #snapshot(): MonitorSnapshot {
    if (this.#current === undefined) {
      this.#current = this.#take();
      queueMicrotask(() => {
        this.#current = undefined;
      });
    }
    return this.#current;
  }

  #histogram(name: string, help: string): Histogram<'provider'> {
    return new Histogram({
      name,
      help,
      labelNames: ['provider'],
      buckets: DURATION_BUCKETS,
      registers: [this.registry],
    });
  }

  #define(
    type: 'gauge' | 'counter',
    name: string,
    help: string,
    labelNames: string[],
    samples: (snapshot: MonitorSnapshot) => Sample[],
  ): void {
    const read = () => samples(this.#snapshot());
    if (type === 'gauge') {
      new Gauge({
        name,
        help,
        labelNames,
        registers: [this.registry],
        collect() {
          this.reset();
          for (const [labels, value] of read()) this.set(labels, value);
        },
      });
      return;
    }
    // Counters mirror totals kept elsewhere (the provider's or the event recorder's), so each
    // scrape sets them rather than adding to them.
    new Counter({
      name,
      help,
      labelNames,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [labels, value] of read()) this.inc(labels, Math.max(0, value));
      },
    });
  }

  #defineHealth(): void {
    this.#define(
      'gauge',
      'kaygraph_provider_up',
      'Last health check passed (1) or failed (0).',
      ['provider'],
      (snap) =>
        Object.entries(snap.providers)
          .filter(([, p]) => p.health.ok !== null)
          .map(([provider, p]) => [{ provider }, p.health.ok ? 1 : 0]),
    );
    this.#define(
      'gauge',
      'kaygraph_provider_health_latency_seconds',
      'How long the last health check took.',
      ['provider'],
      (snap) =>
        Object.entries(snap.providers)
          .filter(([, p]) => p.health.latencyMs !== null)
          .map(([provider, p]) => [{ provider }, (p.health.latencyMs ?? 0) / 1000]),
    );
    this.#define(
      'gauge',
      'kaygraph_provider_info',
      'Always 1; the labels say what kind of provider it is and its state.',
      ['provider', 'kind', 'state'],
      (snap) =>
        Object.entries(snap.providers).map(([provider, p]) => [
          { provider, kind: p.kind, state: p.state },
          1,
        ]),
    );
    this.#define(
      'gauge',
      'kaygraph_provider_stat',
      'Extra numeric stats a provider reports (e.g. bytesInUse).',
      ['provider', 'stat'],
      (snap) =>
        Object.entries(snap.providers).flatMap(([provider, p]) =>
          Object.entries(p.extra).map(([stat, value]): Sample => [{ provider, stat }, value]),
        ),
    );
  }

  #defineNodes(): void {
    const perNode =
      (value: (n: MonitorSnapshot['nodes'][string]) => number) => (snap: MonitorSnapshot) =>
        Object.entries(snap.nodes).map(([node, n]): Sample => [{ node }, value(n)]);
    this.#define(
      'counter',
      'kaygraph_node_runs_total',
      'Times a node started.',
      ['node'],
      perNode((n) => n.runs),
    );
    this.#define(
      'counter',
      'kaygraph_node_errors_total',
      'Times a node failed.',
      ['node'],
      perNode((n) => n.errors),
    );
    this.#define(
      'counter',
      'kaygraph_node_leases_total',
      'Leases taken on behalf of a node.',
      ['node'],
      perNode((n) => n.leases),
    );
    this.#define(
      'counter',
      'kaygraph_node_lease_hold_seconds_total',
      'Total time leases taken on behalf of a node were held.',
      ['node'],
      perNode((n) => n.holdMs.total / 1000),
    );
  }

  #defineRuns(): void {
    this.#define('counter', 'kaygraph_runs_started_total', 'Graph runs started.', [], (snap) => [
      [{}, snap.runs.started],
    ]);
    this.#define(
      'counter',
      'kaygraph_runs_ended_total',
      'Graph runs ended, by outcome (ok, or failed: error, timeout, aborted).',
      ['outcome'],
      (snap) => [
        [{ outcome: 'ok' }, snap.runs.ok],
        [{ outcome: 'failed' }, snap.runs.failed],
      ],
    );
  }
}

function gauge(name: string, help: string, value: ProviderMetric['value']): ProviderMetric {
  return { name, help, type: 'gauge', value };
}

function counter(name: string, help: string, value: ProviderMetric['value']): ProviderMetric {
  return { name, help, type: 'counter', value };
}
