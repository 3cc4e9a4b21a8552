import { redactText } from '@kaygraph/core';

const MAX_DEPTH = 4;

/** Keys under which a provider's `describe()` says whether TLS certificates are verified. */
const TLS_VERIFY_KEYS = ['tlsVerify', 'tlsRejectUnauthorized', 'rejectUnauthorized'];

/**
 * The provider's `describe()` facts as plain JSON, every string through `redactText`. `describe()`
 * is meant to hold no secrets; this is the second lock on that door, for a provider that slips.
 */
export function describeProvider(provider: { describe?: () => Record<string, unknown> }) {
  if (typeof provider.describe !== 'function') return {};
  try {
    const facts = provider.describe();
    const clean = plain(facts, 0);
    return typeof clean === 'object' && clean !== null && !Array.isArray(clean)
      ? (clean as Record<string, unknown>)
      : {};
  } catch {
    return {};
  }
}

/** Warnings a reader should see about a provider's configuration. */
export function configWarnings(config: Record<string, unknown>): string[] {
  const warnings: string[] = [];
  if (TLS_VERIFY_KEYS.some((key) => findFalse(config, key, 0))) {
    warnings.push('TLS certificate verification is off');
  }
  return warnings;
}

function findFalse(value: unknown, key: string, depth: number): boolean {
  if (typeof value !== 'object' || value === null || depth > MAX_DEPTH) return false;
  const record = value as Record<string, unknown>;
  if (record[key] === false) return true;
  return Object.values(record).some((child) => findFalse(child, key, depth + 1));
}

function plain(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return redactText(value);
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (typeof value === 'boolean' || value === null) return value;
  if (typeof value === 'bigint') return value.toString();
  if (typeof value !== 'object' || depth >= MAX_DEPTH) return undefined;
  if (Array.isArray(value)) return value.map((item) => plain(item, depth + 1) ?? null);

  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value)) {
    const clean = plain(child, depth + 1);
    if (clean !== undefined) out[key] = clean;
  }
  return out;
}
