import {
  CleanupError,
  ConfigInvalidError,
  PoolClosedError,
  ProviderNotFoundError,
  combineErrors,
} from './errors.js';
import type { LeaseOwner } from './events.js';
import type { CloseOptions, Provider, ProviderStats } from './resource.js';
import { type ProviderLookup, Scope } from './scope.js';

/** Where a resource pool is in its life. */
export type ResourcePoolState = 'new' | 'opening' | 'open' | 'closing' | 'closed';

export interface ResourcePoolScopeOptions {
  /** The scope aborts when this signal does. */
  signal?: AbortSignal;
  /** Put on every lease taken through the scope (`scope` defaults to the scope's name). */
  owner?: LeaseOwner;
}

/**
 * The registry of named providers a graph borrows from. Providers open in the order they were
 * added and close in reverse, so one that depends on another (a cache on a database) starts after
 * it and stops before it. Runs borrow through scopes from `scope()`, which return what they took.
 *
 * @example
 * const resources = new ResourcePool().add(createDbProvider({ ... })).add(createFsProvider({ ... }));
 * await resources.open();
 * try {
 *   await graph.run(shared, { resources });
 * } finally {
 *   await resources.close();
 * }
 */
export class ResourcePool {
  readonly #providers = new Map<string, Provider>();
  readonly #opened = new Set<Provider>();
  #state: ResourcePoolState = 'new';
  #opening: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  #destroying: Promise<void> | undefined;
  #leaks = 0;
  // Made once, not per scope: every run opens a scope.
  readonly #lookup: ProviderLookup = (providerName) => this.get(providerName);
  readonly #countLeak = (): void => {
    this.#leaks++;
  };

  /** `new` until opened, `closing` from the first `close` or `destroy`, then `closed`. */
  get state(): ResourcePoolState {
    return this.#state;
  }

  /** Register a provider under its `name`. Chainable. A second provider with one name is refused. */
  add(provider: Provider): this {
    checkProvider(provider);
    if (this.#shuttingDown()) {
      throw new PoolClosedError(`cannot add provider "${provider.name}": resource pool is closed`);
    }
    if (this.#providers.has(provider.name)) {
      throw new ConfigInvalidError(
        `resource pool: a provider named "${provider.name}" is already added`,
      );
    }
    this.#providers.set(provider.name, provider);
    return this;
  }

  /** The provider registered under `name`; `ProviderNotFoundError` lists the known names. */
  get<P extends Provider = Provider>(name: string): P {
    const provider = this.#providers.get(name);
    if (provider === undefined) {
      const known = this.#providers.size > 0 ? [...this.#providers.keys()].join(', ') : 'none';
      throw new ProviderNotFoundError(
        `no provider named "${name}" in the resource pool (known: ${known})`,
      );
    }
    return provider as P;
  }

  /** True when a provider with this name is registered. */
  has(name: string): boolean {
    return this.#providers.has(name);
  }

  /** The registered providers, in the order they were added. */
  list(): Provider[] {
    return [...this.#providers.values()];
  }

  /**
   * Open every provider, one after another, in the order they were added. If one fails, the
   * ones already opened (and the one that failed) are closed in reverse order and the open error
   * is rethrown; a failing rollback is kept with it in a `CleanupError`. Calling it again opens
   * providers added since.
   */
  open(): Promise<void> {
    if (this.#shuttingDown()) {
      return Promise.reject(new PoolClosedError('cannot open: resource pool is closed'));
    }
    const previous = this.#opening ?? Promise.resolve();
    const opening = previous.catch(() => {}).then(() => this.#open());
    this.#opening = opening;
    return opening;
  }

  async #open(): Promise<void> {
    this.#state = 'opening';
    const openedNow: Provider[] = [];
    for (const provider of this.#providers.values()) {
      if (this.#opened.has(provider)) continue;
      try {
        await provider.open();
      } catch (error) {
        await this.#rollBack([...openedNow, provider], error);
      }
      this.#opened.add(provider);
      openedNow.push(provider);
    }
    if (!this.#shuttingDown()) this.#state = 'open';
  }

  #shuttingDown(): boolean {
    return this.#closing !== undefined || this.#destroying !== undefined;
  }

  async #rollBack(opened: Provider[], error: unknown): Promise<never> {
    const failures: unknown[] = [];
    for (const provider of opened.reverse()) {
      try {
        await provider.close();
      } catch (failure) {
        failures.push(failure);
      }
      this.#opened.delete(provider);
    }
    if (!this.#shuttingDown()) this.#state = this.#opened.size > 0 ? 'open' : 'new';
    const combined = combineErrors(failures, 'closing providers after a failed open failed');
    if (combined !== undefined) throw new CleanupError(combined, error, 'resource pool open failed');
    throw error;
  }

  /**
   * Graceful shutdown: close every provider in reverse order of `add`, each with `options`. Every
   * provider is closed even if one fails; the failures are thrown together (one error, or an
   * AggregateError). Idempotent: later calls return the first call's promise.
   */
  close(options: CloseOptions = {}): Promise<void> {
    this.#closing ??= this.#shutDown((provider) => provider.close(options), 'close');
    return this.#closing;
  }

  /**
   * Forced shutdown: destroy every provider now, in reverse order, lent resources included.
   * Works during a graceful close, to cut it short. Idempotent.
   */
  destroy(reason?: unknown): Promise<void> {
    this.#destroying ??= this.#shutDown((provider) => provider.destroy(reason), 'destroy');
    return this.#destroying;
  }

  async #shutDown(stop: (provider: Provider) => Promise<void>, verb: string): Promise<void> {
    this.#state = 'closing';
    // An open in progress finishes first, so no provider is left opening behind our back.
    await this.#opening?.catch(() => {});
    const failures: unknown[] = [];
    for (const provider of [...this.#providers.values()].reverse()) {
      try {
        await stop(provider);
      } catch (error) {
        failures.push(error);
      }
    }
    this.#state = 'closed';
    const combined = combineErrors(failures, `resource pool ${verb} failed`);
    if (combined !== undefined) throw combined;
  }

  /**
   * A scope borrowing from this pool's providers. Close it (or `await using` it) to return what
   * it took; leases it finds still out are released and counted in `leaks()`.
   */
  scope(name: string, options: ResourcePoolScopeOptions = {}): Scope {
    return new Scope(name, {
      signal: options.signal,
      owner: options.owner,
      providers: this.#lookup,
      onLeak: this.#countLeak,
    });
  }

  /** A stats snapshot of every provider, by name. */
  stats(): Record<string, ProviderStats> {
    const result: Record<string, ProviderStats> = {};
    for (const [name, provider] of this.#providers) result[name] = provider.stats();
    return result;
  }

  /** Leases that scopes of this pool found still out when they closed. */
  leaks(): number {
    return this.#leaks;
  }
}

function checkProvider(provider: unknown): asserts provider is Provider {
  const candidate = provider as Partial<Provider> | null;
  if (
    typeof candidate !== 'object' ||
    candidate === null ||
    typeof candidate.name !== 'string' ||
    candidate.name.length === 0 ||
    typeof candidate.acquire !== 'function' ||
    typeof candidate.open !== 'function' ||
    typeof candidate.close !== 'function'
  ) {
    throw new ConfigInvalidError(
      'resource pool: add expects a provider (an object with a name, open, acquire and close)',
    );
  }
}
