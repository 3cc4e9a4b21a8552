import { AcquireTimeoutError } from '../errors.js';
import { publish } from '../events.js';
import { LeaseLedger, type ReturnHooks } from '../lease-ledger.js';
import type { AcquireOptions, Lease } from '../resource.js';
import { SlotGate } from './slot-gate.js';

/** What a slot lease lends: something bound to one slot that stops working once returned. */
export interface SlotResource {
  readonly slot: number;
  /** Called when the lease is returned; later use must fail. */
  retire(): void;
}

/**
 * Numbered slots lent as core leases: FIFO waiters with deadline and abort through a
 * `SlotGate`, counting and leak detection through a `LeaseLedger`, and a way to wait until
 * every lease is back (for a graceful close).
 */
export class SlotLeases<R extends SlotResource> {
  readonly gate: SlotGate;
  readonly ledger: LeaseLedger<R>;
  /** Acquires that gave up at their deadline. */
  acquireTimeouts = 0;
  readonly #provider: string;
  #drained: (() => void)[] = [];
  /** One pair for every lease: the lease hands its resource to the hook. */
  readonly #hooks: ReturnHooks<R> = {
    release: (resource) => this.#giveBack(resource),
    destroy: (resource) => this.#giveBack(resource),
  };

  constructor(provider: string, limit: number, leakDetectionMs = 0) {
    this.#provider = provider;
    this.gate = new SlotGate(limit);
    this.ledger = new LeaseLedger({ provider, leakDetectionMs });
  }

  /**
   * Lend `make(slot)` at once if a slot is free; otherwise undefined, and `acquire` then waits
   * or fails with the right error (no slot free, the gate closed, the signal aborted). A free
   * slot means nobody is waiting, so this never jumps the queue. Lets a provider's request path
   * skip the turns an awaited acquire costs when a slot is free, which is the common case.
   */
  tryAcquire(make: (slot: number) => R, options: AcquireOptions): Lease<R> | undefined {
    if (options.signal?.aborted) return undefined;
    const slot = this.gate.tryTake();
    if (slot === undefined) return undefined;
    return this.ledger.issue(make(slot), slot, this.#hooks, 0, options.owner);
  }

  /** Wait for a slot (up to `timeoutMs`) and lend `make(slot)` as a lease. */
  async acquire(
    make: (slot: number) => R,
    options: AcquireOptions,
    timeoutMs: number,
  ): Promise<Lease<R>> {
    const started = Date.now();
    // Taken before the wait: after it, the stack is that of whoever gave the slot back.
    const stack = this.ledger.borrowerStack();
    let slot: number;
    try {
      slot = await this.gate.take(timeoutMs, options.signal, `acquire from "${this.#provider}"`);
    } catch (error) {
      if (AcquireTimeoutError.isInstance(error)) this.#countTimeout(started, options);
      throw error;
    }
    const waitMs = Date.now() - started;
    return this.ledger.issue(make(slot), slot, this.#hooks, waitMs, options.owner, stack);
  }

  /** Resolve true once no lease is out, or false when `timeoutMs` passes first. */
  waitForReturn(timeoutMs: number): Promise<boolean> {
    if (this.ledger.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.#drained.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  /**
   * Take back every slot still lent, for a shutdown that stops waiting for them: the slots count
   * as returned, and a holder's late release or destroy rejects with `LeaseRevokedError`. With
   * `leaked`, each is reported as a leak first (a graceful close waited for it in vain).
   */
  revokeAll(reason: unknown, leaked: boolean): void {
    const { ledger } = this;
    for (const lease of ledger.outstanding()) {
      if (leaked) ledger.reportLeak(lease);
      ledger.revoke(lease, reason).catch(() => {});
    }
  }

  #giveBack(resource: R): void {
    resource.retire();
    this.gate.give(resource.slot);
    if (this.ledger.size === 0) for (const done of this.#drained.splice(0)) done();
  }

  #countTimeout(started: number, options: AcquireOptions): void {
    this.acquireTimeouts++;
    publish('resource:acquire-timeout', {
      provider: this.#provider,
      time: Date.now(),
      waitMs: Date.now() - started,
      ...(options.owner ? { owner: options.owner } : {}),
    });
  }
}
