import { type AcquireOptions, type Lease, errorInfo, publish } from '@kaygraph/core';
import { LRUCache } from 'lru-cache';
import { MemoryCacheError } from './memory-errors.js';

/** Options of `MemoryProvider.createCache`. */
export interface BufferCacheOptions {
  /**
   * Most bytes the cache holds, counting each buffer at its class size (what it costs the
   * budget); the least recently used entries are evicted beyond it. Required.
   */
  maxBytes: number;
  /** Entries expire this many ms after they were set; unset, they never expire. */
  ttlMs?: number;
}

/** How many leases went back to the pool by each route out of the cache. */
export interface BufferCacheReturns {
  /** Pushed out to make room. */
  evict: number;
  /** Older than `ttlMs`. */
  expire: number;
  /** Removed by `delete` or `clear`. */
  delete: number;
  /** Replaced by a `set` on the same key. */
  set: number;
}

/** A snapshot of a cache. */
export interface BufferCacheStats {
  entries: number;
  /** Class bytes held. */
  bytes: number;
  maxBytes: number;
  returned: BufferCacheReturns;
}

/** @internal what the provider lends a cache. */
export interface BufferCacheDeps {
  provider: string;
  /** True for a lease this provider issued. */
  owns(lease: Lease<Buffer>): boolean;
  acquire(options: AcquireOptions & { size: number }): Promise<Lease<Buffer>>;
  /** A lease could not be returned; counted as a provider error. */
  failed(error: unknown): void;
}

interface Entry {
  lease: Lease<Buffer>;
  length: number;
}

/**
 * An LRU cache of pooled buffers, on lru-cache with a byte `maxSize`. The cache owns the leases
 * it holds: a buffer that leaves it by any route — eviction, expiry, delete, clear, or being
 * replaced by `set` — has its lease returned to the pool exactly once, by lru-cache's `dispose`.
 */
export class BufferCache<K extends {} = string> {
  readonly maxBytes: number;
  readonly #lru: LRUCache<K, Entry>;
  readonly #held = new Set<Lease<Buffer>>();
  readonly #deps: BufferCacheDeps;
  readonly #returned: BufferCacheReturns = { evict: 0, expire: 0, delete: 0, set: 0 };
  #closed = false;

  constructor(options: BufferCacheOptions, deps: BufferCacheDeps) {
    this.maxBytes = options.maxBytes;
    this.#deps = deps;
    this.#lru = new LRUCache<K, Entry>({
      maxSize: options.maxBytes,
      sizeCalculation: (entry) => entry.lease.resource.length,
      dispose: (entry, _key, reason) => this.#giveBack(entry, reason),
      // Expired buffers go back to the pool on time, not whenever someone next reads their key.
      ...(options.ttlMs === undefined ? {} : { ttl: options.ttlMs, ttlAutopurge: true }),
    });
  }

  /** Entries held. */
  get size(): number {
    return this.#lru.size;
  }

  /** The cached bytes of `key` (a view of its buffer, `length` long), or undefined. */
  get(key: K): Buffer | undefined {
    const entry = this.#lru.get(key);
    return entry === undefined ? undefined : entry.lease.resource.subarray(0, entry.length);
  }

  has(key: K): boolean {
    return this.#lru.has(key);
  }

  /**
   * Cache a leased buffer under `key`; the cache now owns the lease and returns it when the entry
   * leaves. `length` is how many leading bytes are the value (default: the whole buffer). A
   * buffer larger than `maxBytes`, or a set on a closed cache, is not kept: its lease is returned
   * at once and `false` comes back.
   */
  set(key: K, lease: Lease<Buffer>, options: { length?: number } = {}): boolean {
    this.#checkLease(lease);
    const length = checkLength(options.length, lease.resource.length);
    const current = this.#lru.peek(key);
    if (current?.lease === lease) {
      current.length = length;
      this.#lru.set(key, current); // the same entry: refreshed, not disposed
      return true;
    }
    if (this.#held.has(lease)) {
      throw new MemoryCacheError(`lease ${lease.id} is already cached under another key`);
    }
    if (this.#closed || lease.resource.length > this.maxBytes) {
      this.#release(lease);
      return false;
    }
    this.#held.add(lease);
    this.#lru.set(key, { lease, length });
    return true;
  }

  /**
   * Copy `data` into a buffer leased from the pool (waiting for budget like any acquire) and
   * cache it under `key`. Returns what `set` returns.
   */
  async store(key: K, data: Uint8Array | string, options: AcquireOptions = {}): Promise<boolean> {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    const lease = await this.#deps.acquire({ ...options, size: bytes.length });
    lease.resource.set(bytes);
    return this.set(key, lease, { length: bytes.length });
  }

  /** Remove `key`; its lease goes back to the pool. */
  delete(key: K): boolean {
    return this.#lru.delete(key);
  }

  /** Remove every entry; every lease goes back to the pool. */
  clear(): void {
    this.#lru.clear();
  }

  /** Drop entries past their `ttlMs` now, returning their leases. True if any were dropped. */
  purgeStale(): boolean {
    return this.#lru.purgeStale();
  }

  stats(): BufferCacheStats {
    return {
      entries: this.#lru.size,
      bytes: this.#lru.calculatedSize,
      maxBytes: this.maxBytes,
      returned: { ...this.#returned },
    };
  }

  /** @internal the provider is closing: empty the cache and keep it empty. */
  close(): void {
    this.#closed = true;
    this.#lru.clear();
  }

  #giveBack(entry: Entry, reason: LRUCache.DisposeReason): void {
    this.#held.delete(entry.lease);
    const route = reason === 'fetch' ? 'delete' : reason;
    this.#returned[route]++;
    this.#release(entry.lease);
  }

  #release(lease: Lease<Buffer>): void {
    // dispose cannot wait; the pool's release hook is synchronous, so nothing is lost here.
    lease.release().catch((error: unknown) => {
      this.#deps.failed(error);
      const info = errorInfo(error);
      publish('resource:error', { provider: this.#deps.provider, time: Date.now(), error: info });
    });
  }

  #checkLease(lease: Lease<Buffer>): void {
    if (!this.#deps.owns(lease)) {
      throw new MemoryCacheError(
        `a buffer cache of provider "${this.#deps.provider}" only takes that provider's leases`,
      );
    }
    if (lease.returned) {
      throw new MemoryCacheError(`lease ${lease.id} was already returned and cannot be cached`);
    }
  }
}

function checkLength(value: number | undefined, capacity: number): number {
  if (value === undefined) return capacity;
  if (!Number.isInteger(value) || value < 0 || value > capacity) {
    throw new MemoryCacheError(`length must be an integer between 0 and ${capacity}, got ${value}`);
  }
  return value;
}
