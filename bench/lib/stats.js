/** Small statistics helpers for the benchmark tables. */

export function median(values) {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function percentile(values, p) {
  if (values.length === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, rank)];
}

/** Fisher–Yates, so contenders run in a different order every round. */
export function shuffle(items) {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

export function fmt(value, digits = 2) {
  if (!Number.isFinite(value)) return 'n/a';
  if (Math.abs(value) >= 1e6) return `${(value / 1e6).toFixed(digits)}M`;
  if (Math.abs(value) >= 1e4) return `${(value / 1e3).toFixed(1)}k`;
  return value.toFixed(digits);
}

/**
 * Median over rounds of ours[i] / theirs[i]. Each round's two figures were taken minutes apart at
 * most, so a machine that gets busier or quieter during the run moves both alike and the ratio
 * of the pair stays put, where a ratio of the two overall medians would pick the drift up.
 */
export function pairedRatio(ours, theirs) {
  return median(ours.map((value, i) => value / theirs[i]));
}
