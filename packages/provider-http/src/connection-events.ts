import { errorInfo, publishLazy } from '@kaygraph/core';
import type { Dispatcher, Pool } from 'undici';

/** Connection counters read by `stats()`. */
export interface ConnectionCounters {
  created: number;
  destroyed: number;
  errors: number;
}

let nextConnectionId = 1;

/**
 * Count and publish the sockets undici opens and closes for one pool. undici reports each
 * socket through its client object, which reconnects under the same identity, so every
 * connect gets a fresh resource id.
 */
export function watchConnections(pool: Pool, provider: string): ConnectionCounters {
  const counters: ConnectionCounters = { created: 0, destroyed: 0, errors: 0 };
  const ids = new WeakMap<Dispatcher, number>();
  const clientOf = (targets: readonly Dispatcher[]) => targets[targets.length - 1] ?? pool;

  pool.on('connect', (_origin, targets) => {
    const resourceId = nextConnectionId++;
    ids.set(clientOf(targets), resourceId);
    counters.created++;
    // undici does not say how long the connect took; 0 marks "unknown" rather than fast.
    publishLazy('resource:create', () => ({
      provider,
      time: Date.now(),
      resourceId,
      durationMs: 0,
    }));
  });

  pool.on('disconnect', (_origin, targets, error) => {
    const resourceId = ids.get(clientOf(targets)) ?? 0;
    counters.destroyed++;
    publishLazy('resource:destroy', () => ({
      provider,
      time: Date.now(),
      resourceId,
      reason: error?.message ?? 'closed',
    }));
  });

  pool.on('connectionError', (_origin, _targets, error) => {
    counters.errors++;
    publishLazy('resource:create-error', () => ({
      provider,
      time: Date.now(),
      error: errorInfo(error),
      durationMs: 0,
    }));
  });
  return counters;
}
