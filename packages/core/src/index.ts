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
  NodeTimeoutError,
  PoolClosedError,
  ProviderNotFoundError,
  ResourceError,
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
export { LeaseLedger, type LeaseLedgerOptions, type ReturnHooks } from './lease-ledger.js';
export {
  type AcquireOptions,
  type CloseOptions,
  type HealthReport,
  type Lease,
  type Provider,
  type ProviderState,
  type ProviderStats,
  emptyStats,
} from './resource.js';
export { redactText, redactUrl } from './secrets.js';
export {
  checkBoolean,
  checkFunction,
  checkInteger,
  checkNumber,
  checkObject,
  checkString,
  describeValue,
  rejectUnknownKeys,
} from './validate.js';

// --- pool (core's generic pool) ---

// --- scope, resource pool registry ---

// --- graph runtime ---
