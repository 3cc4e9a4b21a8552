export {
  type DbCallOptions,
  type DbDescription,
  type DbLease,
  type DbProvider,
  type DbStreamOptions,
  createDbProvider,
} from './db-provider.js';
export { DbConnectError, DbError, type DbErrorOptions, type DbTarget } from './db-errors.js';
export type { DbProviderOptions } from './db-options.js';
