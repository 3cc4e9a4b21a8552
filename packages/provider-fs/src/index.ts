export { FsError, type FsErrorOptions, FsPathError } from './fs-errors.js';
export type { FsProviderOptions } from './fs-options.js';
export {
  type FsAcquireOptions,
  FsProvider,
  type FsProviderStats,
  createFsProvider,
} from './fs-provider.js';
export type { ScopeLike, TempDir, TempDirOptions } from './temp-dir.js';
export type {
  AtomicWriteResult,
  AtomicWriteSource,
  WriteAtomicOptions,
} from './write-atomic.js';
