import { errorInfo, publish, publishLazy } from '@kaygraph/core';
import type { ClientState } from './pooled-client.js';

/** How the tally turns driver errors into safe, typed ones for events. */
export interface TallyOptions {
  provider: string;
  /** The error a broken connection is reported as (message free of secrets). */
  brokenError(error: unknown): unknown;
  /** The error a failed connect is reported as (message free of secrets). */
  connectError(error: unknown): Error;
  /** True once the provider is shutting down, to name the reason for removals. */
  closing(): boolean;
}

/**
 * Counts connections in and out and publishes their lifecycle events: made (pg-pool `connect`),
 * failed to connect, broken (first error only — one dead socket emits several), removed
 * (pg-pool `remove`, once per connection). Close waits here for the last socket to go.
 */
export class ConnectionTally {
  created = 0;
  destroyed = 0;
  errors = 0;
  /** The latest failed connect, so an acquire timeout can say why no connection came. */
  lastConnectFailure: { at: number; error: Error } | undefined;

  /** Connections made and not yet removed. */
  readonly #live = new Set<object>();
  #allRemoved: (() => void) | undefined;
  /** Who waits for one connection's removal (its socket closed), by client. */
  readonly #removals = new Map<object, () => void>();

  constructor(private readonly options: TallyOptions) {}

  connected(client: object, state: ClientState): void {
    this.#live.add(client);
    this.created++;
    publishLazy('resource:create', () => ({
      provider: this.options.provider,
      time: Date.now(),
      resourceId: state.id,
      durationMs: Date.now() - state.startedAt,
    }));
  }

  connectFailed(state: ClientState, error: Error): void {
    state.failure = error;
    this.errors++;
    const mapped = this.options.connectError(error);
    this.lastConnectFailure = { at: Date.now(), error: mapped };
    publish('resource:create-error', {
      provider: this.options.provider,
      time: Date.now(),
      durationMs: Date.now() - state.startedAt,
      error: errorInfo(mapped),
    });
  }

  /** Mark a connection broken: it is never lent again. Counted once per connection. */
  failed(state: ClientState, error: unknown): void {
    if (state.failure !== undefined) return;
    state.failure = error instanceof Error ? error : new Error(String(error));
    this.errors++;
    publishLazy('resource:error', () => ({
      provider: this.options.provider,
      time: Date.now(),
      resourceId: state.id,
      error: errorInfo(this.options.brokenError(error)),
    }));
  }

  removed(client: object, state: ClientState): void {
    // A client that errors again after eviction makes pg-pool remove it a second time.
    if (!this.#live.delete(client)) return;
    this.#removals.get(client)?.();
    if (this.#live.size === 0) this.#allRemoved?.();
    this.destroyed++;
    publish('resource:destroy', {
      provider: this.options.provider,
      time: Date.now(),
      resourceId: state.id,
      reason: state.destroyReason ?? this.#defaultReason(state),
    });
  }

  /**
   * Resolves when every connection made has been removed, or after `capMs`. pg-pool's end()
   * resolves once no client is listed, before their sockets have closed and `remove` fired; a
   * server that never answers the goodbye must not hold close() forever, hence the cap.
   */
  untilAllRemoved(capMs: number): Promise<void> {
    if (this.#live.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, capMs);
      timer.unref();
      this.#allRemoved = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /**
   * Resolves when this connection has been removed (pg-pool fires `remove` once its socket has
   * closed), or after `capMs`, so a lease's destroy() ends when the connection is really gone.
   */
  untilRemoved(client: object, capMs: number): Promise<void> {
    if (!this.#live.has(client)) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#removals.delete(client);
        resolve();
      };
      const timer = setTimeout(done, capMs);
      timer.unref();
      this.#removals.set(client, done);
    });
  }

  /** Why a connection went, in words safe for an event. */
  brokenReason(failure: Error): string {
    return `connection error: ${errorInfo(this.options.brokenError(failure)).message}`;
  }

  #defaultReason(state: ClientState): string {
    if (state.failure !== undefined) return this.brokenReason(state.failure);
    return this.options.closing() ? 'provider closed' : 'idle timeout';
  }
}
