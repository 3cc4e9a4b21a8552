import { performance } from 'node:perf_hooks';
import { type HealthReport, type Provider, describe } from '@kaygraph/core';
import { type ProviderSource, listProviders, providerName } from './provider-source.js';

export interface HealthCheckerOptions {
  source: ProviderSource;
  /** Milliseconds between rounds; 0 turns automatic checks off (`checkAll()` still works). */
  intervalMs: number;
  record(provider: string, report: HealthReport): void;
}

/**
 * Calls every open provider's `check()` on an interval. A provider is never checked twice at
 * once, so a slow backend costs one pending check, not a pile of them. Timers are unref'd: the
 * monitor never keeps a process alive.
 */
export class HealthChecker {
  readonly #options: HealthCheckerOptions;
  readonly #checking = new Set<string>();
  readonly #soon = new Set<NodeJS.Timeout>();
  readonly #abort = new AbortController();
  #interval: NodeJS.Timeout | undefined;

  constructor(options: HealthCheckerOptions) {
    this.#options = options;
  }

  /** Check everything now, then every `intervalMs`. */
  start(): void {
    if (this.#options.intervalMs <= 0 || this.#abort.signal.aborted) return;
    void this.checkAll();
    this.#interval = setInterval(() => void this.checkAll(), this.#options.intervalMs);
    this.#interval.unref();
  }

  /** True while a check of this provider is running. */
  isChecking(name: string): boolean {
    return this.#checking.has(name);
  }

  /** Check every open provider once; resolves when all those checks have finished. */
  async checkAll(): Promise<void> {
    const providers = listProviders(this.#options.source);
    await Promise.all(providers.map((provider) => this.#check(provider)));
  }

  /**
   * Check one provider on the next turn of the event loop. Used when a provider opens: the event
   * arrives inside its `open()`, before it is ready, and must not run the check there.
   */
  checkSoon(name: string): void {
    if (this.#options.intervalMs <= 0 || this.#abort.signal.aborted) return;
    const timer = setTimeout(() => {
      this.#soon.delete(timer);
      const provider = listProviders(this.#options.source).find((p) => providerName(p) === name);
      if (provider !== undefined) void this.#check(provider);
    }, 0);
    timer.unref();
    this.#soon.add(timer);
  }

  /** Clear every timer and abort the checks in flight; their results are dropped. Idempotent. */
  close(): void {
    if (this.#interval !== undefined) clearInterval(this.#interval);
    this.#interval = undefined;
    for (const timer of this.#soon) clearTimeout(timer);
    this.#soon.clear();
    this.#abort.abort();
  }

  async #check(provider: Provider): Promise<void> {
    const name = providerName(provider);
    if (name === undefined || this.#checking.has(name) || this.#abort.signal.aborted) return;
    // A provider that is not open has nothing to check yet, or nothing any more.
    if (provider.state !== undefined && provider.state !== 'open') return;

    this.#checking.add(name);
    const started = performance.now();
    let report: HealthReport;
    try {
      report = normalize(await provider.check({ signal: this.#abort.signal }), started);
    } catch (error) {
      // check() is documented never to throw; one that does is reported, not propagated.
      report = {
        ok: false,
        latencyMs: performance.now() - started,
        error: describe(error),
      };
    } finally {
      this.#checking.delete(name);
    }
    if (this.#abort.signal.aborted) return;
    this.#options.record(name, report);
  }
}

function normalize(report: unknown, started: number): HealthReport {
  if (typeof report !== 'object' || report === null) {
    return {
      ok: false,
      latencyMs: performance.now() - started,
      error: 'check() returned no report',
    };
  }
  const { ok, latencyMs, error } = report as Partial<HealthReport>;
  return {
    ok: ok === true,
    latencyMs:
      typeof latencyMs === 'number' && Number.isFinite(latencyMs)
        ? latencyMs
        : performance.now() - started,
    ...(typeof error === 'string' ? { error } : {}),
  };
}
