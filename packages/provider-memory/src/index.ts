export {
  BufferCache,
  type BufferCacheOptions,
  type BufferCacheReturns,
  type BufferCacheStats,
} from './buffer-cache.js';
export {
  MemoryBudgetError,
  type MemoryBudgetErrorOptions,
  MemoryCacheError,
} from './memory-errors.js';
export {
  type MemoryAcquireOptions,
  MemoryProvider,
  type MemoryProviderStats,
  createMemoryProvider,
} from './memory-provider.js';
export { type MemoryProviderOptions, defaultSizeClasses } from './memory-options.js';
