export {
  AbortedError,
  AcquireTimeoutError,
  CleanupError,
  ConfigInvalidError,
  CreateTimeoutError,
  DestroyTimeoutError,
  ForeignLeaseError,
  KayGraphError,
  type KayGraphErrorOptions,
  LeaseReleasedError,
  LeaseRevokedError,
  NodeTimeoutError,
  PoolClosedError,
  ProviderNotFoundError,
  ResourceError,
  RetryExhaustedError,
  RouteNotFoundError,
  abortError,
  combineErrors,
  describe,
} from './errors.js';
export {
  type ErrorInfo,
  type EventName,
  type KayGraphEvents,
  type LeaseOwner,
  type Listener,
  type RunStatus,
  errorInfo,
  eventNames,
  hasListeners,
  publish,
  publishLazy,
  subscribe,
  subscribeAll,
} from './events.js';
export { backoffDelay } from './backoff.js';
export { LeaseLedger, type LeaseLedgerOptions, type ReturnHooks } from './lease-ledger.js';
export {
  type AcquireOptions,
  type CloseOptions,
  type HealthReport,
  type Lease,
  type Provider,
  type ProviderAcquireOptions,
  type ProviderState,
  type ProviderStats,
  emptyStats,
} from './resource.js';
export {
  hasAtAfterAuthority,
  maskUserinfo,
  redactText,
  redactUrl,
  withoutCredentials,
} from './secrets.js';
export {
  checkBoolean,
  checkFunction,
  checkInteger,
  checkNumber,
  checkObject,
  checkString,
  checkUrl,
  describeValue,
  rejectUnknownKeys,
  urlTextProblem,
} from './validate.js';

// --- signals ---
export { type LinkedSignal, linkSignals, raceAbort, sleep } from './signals.js';

// --- pool (core's generic pool) ---
export { Pool } from './pool/pool.js';
export type { PoolOptions } from './pool/pool-options.js';

// --- scope, resource pool registry ---
export {
  type ResourcePoolScopeOptions,
  type ResourcePoolState,
  ResourcePool,
} from './resource-pool.js';
export {
  type ChildScopeOptions,
  type Cleanup,
  type ProviderLookup,
  Scope,
  ScopeClosedError,
  type ScopeOptions,
} from './scope.js';

// --- graph runtime ---
export { BatchNode } from './graph/batch-node.js';
export type { NodeContext } from './graph/context.js';
export { Graph, type GraphOptions, type RunOptions, type RunResult } from './graph/graph.js';
export {
  type AnyNode,
  DEFAULT_ACTION,
  type NextAction,
  Node,
  type NodeOptions,
} from './graph/node.js';
export {
  ParallelBatchNode,
  type ParallelBatchNodeOptions,
} from './graph/parallel-batch-node.js';

// --- slots: bounded use of a driver's own pool ---
export { SlotGate, closedError } from './slots/slot-gate.js';
export { SlotLeases, type SlotResource } from './slots/slot-leases.js';
