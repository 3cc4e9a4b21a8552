import diagnostics from 'node:diagnostics_channel';

/** Who took a lease: the run, node and scope it was taken through, when known. */
export interface LeaseOwner {
  runId?: string;
  node?: string;
  scope?: string;
}

interface ResourceEvent {
  /** Provider name, as registered (e.g. `db`). */
  provider: string;
  /** Milliseconds since the epoch when the event happened. */
  time: number;
}

/** Payloads of every KayGraph event, by channel name (each published on `kaygraph:<name>`). */
export interface KayGraphEvents {
  'resource:create': ResourceEvent & { resourceId: number; durationMs: number };
  'resource:create-error': ResourceEvent & { error: ErrorInfo; durationMs: number };
  'resource:acquire': ResourceEvent & {
    leaseId: number;
    resourceId: number;
    waitMs: number;
    owner?: LeaseOwner;
  };
  'resource:release': ResourceEvent & {
    leaseId: number;
    resourceId: number;
    /** How long the lease was out; `NaN` if its acquire time was not recorded (`acquiredAt`). */
    heldMs: number;
    owner?: LeaseOwner;
  };
  'resource:destroy': ResourceEvent & { resourceId: number; reason: string };
  'resource:error': ResourceEvent & { resourceId?: number; error: ErrorInfo };
  'resource:acquire-timeout': ResourceEvent & { waitMs: number; owner?: LeaseOwner };
  'resource:leak': ResourceEvent & {
    leaseId: number;
    resourceId: number;
    /** How long the lease was out; `NaN` if its acquire time was not recorded (`acquiredAt`). */
    heldMs: number;
    stack?: string;
    owner?: LeaseOwner;
  };
  'resource:leak-returned': ResourceEvent & {
    leaseId: number;
    resourceId: number;
    /** How long the lease was out; `NaN` if its acquire time was not recorded (`acquiredAt`). */
    heldMs: number;
  };
  'provider:open': ResourceEvent & { kind: string };
  'provider:close': ResourceEvent & { kind: string; forced: boolean };
  'provider:health': ResourceEvent & { ok: boolean; latencyMs: number; error?: ErrorInfo };
  'provider:warning': ResourceEvent & { message: string };
  'run:start': { runId: string; graph: string; time: number };
  'run:end': {
    runId: string;
    graph: string;
    time: number;
    durationMs: number;
    status: RunStatus;
    error?: ErrorInfo;
  };
  'node:start': { runId: string; node: string; time: number };
  'node:end': { runId: string; node: string; time: number; durationMs: number; action?: string };
  'node:error': { runId: string; node: string; time: number; durationMs: number; error: ErrorInfo };
}

export type RunStatus = 'ok' | 'error' | 'timeout' | 'aborted';

export type EventName = keyof KayGraphEvents;

/** An error as events carry it: code and message only, already free of secrets. */
export interface ErrorInfo {
  code?: string;
  name: string;
  message: string;
}

export const eventNames: readonly EventName[] = [
  'resource:create',
  'resource:create-error',
  'resource:acquire',
  'resource:release',
  'resource:destroy',
  'resource:error',
  'resource:acquire-timeout',
  'resource:leak',
  'resource:leak-returned',
  'provider:open',
  'provider:close',
  'provider:health',
  'provider:warning',
  'run:start',
  'run:end',
  'node:start',
  'node:end',
  'node:error',
];

const channels = new Map<EventName, diagnostics.Channel>(
  eventNames.map((name) => [name, diagnostics.channel(`kaygraph:${name}`)]),
);

/**
 * The channel of an event, for a hot path that keeps it and checks `hasSubscribers` itself
 * instead of looking the channel up on every call.
 */
export function eventChannel(name: EventName): diagnostics.Channel {
  return channelOf(name);
}

function channelOf(name: EventName): diagnostics.Channel {
  const channel = channels.get(name);
  if (channel === undefined) throw new TypeError(`unknown KayGraph event "${String(name)}"`);
  return channel;
}

/** True when someone listens on this event; check it before building an expensive payload. */
export function hasListeners(name: EventName): boolean {
  return channelOf(name).hasSubscribers;
}

/** Publish an event. Costs one property read when nobody listens. */
export function publish<N extends EventName>(name: N, payload: KayGraphEvents[N]): void {
  const channel = channelOf(name);
  if (channel.hasSubscribers) channel.publish(payload);
}

/** Publish an event whose payload is built only if someone listens. */
export function publishLazy<N extends EventName>(name: N, build: () => KayGraphEvents[N]): void {
  const channel = channelOf(name);
  if (channel.hasSubscribers) channel.publish(build());
}

export type Listener<N extends EventName> = (payload: KayGraphEvents[N], name: N) => void;

/**
 * Listen to one event. A listener that throws is cut off from that one event and never breaks
 * the pool that published it. Returns a function that unsubscribes.
 *
 * @example
 * const stop = subscribe('resource:leak', (e) => console.warn(e.provider, e.stack));
 */
export function subscribe<N extends EventName>(name: N, listener: Listener<N>): () => void {
  const channel = channelOf(name);
  const wrapped = (message: unknown) => {
    try {
      listener(message as KayGraphEvents[N], name);
    } catch {
      // diagnostics_channel would rethrow on the next tick and crash the process; a broken
      // listener must not take the runtime down with it.
    }
  };
  channel.subscribe(wrapped);
  return () => {
    channel.unsubscribe(wrapped);
  };
}

/** Listen to every KayGraph event. Returns a function that unsubscribes from all of them. */
export function subscribeAll(listener: <N extends EventName>(payload: KayGraphEvents[N], name: N) => void) {
  const stops = eventNames.map((name) => subscribe(name, listener as Listener<typeof name>));
  return () => {
    for (const stop of stops) stop();
  };
}

/** The code, name and message of a thrown value, for an event payload. */
export function errorInfo(error: unknown): ErrorInfo {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return {
      ...(typeof code === 'string' ? { code } : {}),
      name: error.name,
      message: error.message,
    };
  }
  return { name: 'Error', message: String(error) };
}
