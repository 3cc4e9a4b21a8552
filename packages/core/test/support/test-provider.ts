import {
  type AcquireOptions,
  type HealthReport,
  type Lease,
  LeaseLedger,
  PoolClosedError,
  type Provider,
  type ProviderState,
  type ProviderStats,
  abortError,
  emptyStats,
} from '../../src/index.js';

/** The resource a test provider lends: just an id, so tests can tell leases apart. */
export interface TestResource {
  id: number;
}

export interface TestProviderOptions {
  name?: string;
  /** Resources that exist; acquires beyond it wait FIFO. Default 2. */
  max?: number;
  /** Where open/close/destroy are logged as `open:<name>`, `close:<name>`, `destroy:<name>`. */
  log?: string[];
  openError?: Error;
  closeError?: Error;
  /** Leave `reportLeak` off, like a provider not built for scopes. */
  withoutReportLeak?: boolean;
}

interface Waiter {
  resolve(lease: Lease<TestResource>): void;
  reject(error: unknown): void;
  owner: AcquireOptions['owner'];
  started: number;
}

/**
 * A small but real provider for tests: a fixed set of resources, FIFO waiters that honour their
 * signal, and leases issued through a `LeaseLedger` like every real provider.
 */
export class TestProvider implements Provider<TestResource> {
  readonly name: string;
  readonly kind = 'test';
  state: ProviderState = 'new';
  readonly ledger: LeaseLedger<TestResource>;
  /** How each lease came back, in order: `release:<id>` or `destroy:<id>`. */
  readonly returns: string[] = [];
  /** Every options object `acquire` was called with. */
  readonly acquireCalls: AcquireOptions[] = [];
  reportLeak?: (lease: Lease<TestResource>, details?: { stack?: string }) => void;

  readonly #idle: TestResource[] = [];
  readonly #waiters: Waiter[] = [];
  readonly #options: TestProviderOptions;

  constructor(options: TestProviderOptions = {}) {
    this.#options = options;
    this.name = options.name ?? 'test';
    this.ledger = new LeaseLedger({ provider: this.name });
    for (let id = 1; id <= (options.max ?? 2); id++) this.#idle.push({ id });
    if (options.withoutReportLeak !== true) {
      this.reportLeak = (lease, details) => this.ledger.reportLeak(lease, details);
    }
  }

  async open(): Promise<void> {
    this.#options.log?.push(`open:${this.name}`);
    if (this.#options.openError) throw this.#options.openError;
    this.state = 'open';
  }

  acquire(options: AcquireOptions = {}): Promise<Lease<TestResource>> {
    this.acquireCalls.push(options);
    if (this.state === 'closing' || this.state === 'closed') {
      return Promise.reject(new PoolClosedError(`provider "${this.name}" is closed`));
    }
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(abortError(signal, 'acquire'));

    const resource = this.#idle.shift();
    if (resource !== undefined) return Promise.resolve(this.#issue(resource, 0, options.owner));

    return new Promise((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, owner: options.owner, started: Date.now() };
      const onAbort = () => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        reject(abortError(signal!, 'acquire'));
      };
      waiter.resolve = (lease) => {
        signal?.removeEventListener('abort', onAbort);
        resolve(lease);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  stats(): ProviderStats {
    return {
      ...emptyStats(),
      size: this.#options.max ?? 2,
      inUse: this.ledger.size,
      idle: this.#idle.length,
      waiting: this.#waiters.length,
      leaks: this.ledger.leaks,
      acquired: this.ledger.acquired,
      released: this.ledger.returned,
    };
  }

  async check(): Promise<HealthReport> {
    return { ok: this.state === 'open', latencyMs: 0 };
  }

  async close(): Promise<void> {
    this.#options.log?.push(`close:${this.name}`);
    this.#shutDown();
    if (this.#options.closeError) throw this.#options.closeError;
  }

  async destroy(): Promise<void> {
    this.#options.log?.push(`destroy:${this.name}`);
    this.#shutDown();
  }

  #shutDown(): void {
    this.state = 'closed';
    for (const waiter of this.#waiters.splice(0)) {
      waiter.reject(new PoolClosedError(`provider "${this.name}" closed`));
    }
    this.ledger.close();
  }

  #issue(resource: TestResource, waitMs: number, owner: AcquireOptions['owner']) {
    const giveBack = (r: TestResource) => {
      const waiter = this.#waiters.shift();
      if (waiter === undefined) this.#idle.push(r);
      else waiter.resolve(this.#issue(r, Date.now() - waiter.started, waiter.owner));
    };
    const hooks = {
      release: (r: TestResource) => {
        this.returns.push(`release:${r.id}`);
        giveBack(r);
      },
      destroy: (r: TestResource) => {
        this.returns.push(`destroy:${r.id}`);
        giveBack(r);
      },
    };
    return this.ledger.issue(resource, resource.id, hooks, waitMs, owner);
  }
}

/** A promise and the functions that settle it, for steering concurrent tests step by step. */
export function deferred<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Resolves when `signal` aborts (never otherwise). */
export function aborted(signal: AbortSignal): Promise<unknown> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve(signal.reason);
    else signal.addEventListener('abort', () => resolve(signal.reason), { once: true });
  });
}
