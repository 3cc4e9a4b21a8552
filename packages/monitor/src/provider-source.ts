import type { Provider } from '@kaygraph/core';

/**
 * Where the monitor finds the providers it watches. Core's `ResourcePool` is one; anything with a
 * `list()` of providers will do, so a monitor can watch a hand-picked subset.
 */
export interface ProviderSource {
  /** The providers to watch, read again at every snapshot and health round. */
  list(): readonly Provider[];
}

/** The source's providers, or none when `list()` fails: a broken registry must not fail scrapes. */
export function listProviders(source: ProviderSource): readonly Provider[] {
  try {
    const providers = source.list();
    return Array.isArray(providers) ? providers : [];
  } catch {
    return [];
  }
}

/** The name of a provider, or undefined for something that is not one. */
export function providerName(provider: unknown): string | undefined {
  if (typeof provider !== 'object' || provider === null) return undefined;
  const name = (provider as { name?: unknown }).name;
  return typeof name === 'string' && name.length > 0 ? name : undefined;
}
