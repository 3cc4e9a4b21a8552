/** Count, total, max and percentiles of a series of durations, in milliseconds. */
export interface DurationSummary {
  /** Samples recorded since the monitor started. */
  count: number;
  /** Sum of every sample since the monitor started. */
  total: number;
  /** Largest sample since the monitor started. */
  max: number;
  /** Median of the most recent samples (the percentile window); 0 when there are none. */
  p50: number;
  /** 95th percentile of the most recent samples. */
  p95: number;
  /** 99th percentile of the most recent samples. */
  p99: number;
}

/**
 * Durations kept in a ring of the last `window` samples, so memory stays fixed however many
 * events arrive. Percentiles describe the recent window (what a pool is doing now); count, total
 * and max cover everything since the monitor started.
 */
export class Percentiles {
  readonly #window: number;
  readonly #samples: number[] = [];
  #next = 0;
  #count = 0;
  #total = 0;
  #max = 0;

  constructor(window: number) {
    this.#window = window;
  }

  record(ms: number): void {
    // Clock skew can make a difference of two Date.now() calls negative; a wait is never negative.
    const value = Number.isFinite(ms) && ms > 0 ? ms : 0;
    this.#count++;
    this.#total += value;
    if (value > this.#max) this.#max = value;

    if (this.#samples.length < this.#window) {
      this.#samples.push(value);
      return;
    }
    this.#samples[this.#next] = value;
    this.#next = (this.#next + 1) % this.#window;
  }

  summary(): DurationSummary {
    const sorted = [...this.#samples].sort((a, b) => a - b);
    return {
      count: this.#count,
      total: round(this.#total),
      max: round(this.#max),
      p50: round(nearestRank(sorted, 0.5)),
      p95: round(nearestRank(sorted, 0.95)),
      p99: round(nearestRank(sorted, 0.99)),
    };
  }
}

/** The smallest sample with at least `fraction` of the samples at or below it. */
function nearestRank(sorted: readonly number[], fraction: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil(fraction * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] ?? 0;
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
