export { createDbProvider } from './db-provider.js';
export type {
  DbCallOptions,
  DbCopyOutOptions,
  DbCopyStream,
  DbDescription,
  DbLease,
  DbProvider,
  DbStreamOptions,
} from './db-types.js';
export { DbConnectError, DbError, type DbErrorOptions, type DbTarget } from './db-errors.js';
export type { DbProviderOptions } from './db-options.js';
