import { KayGraphError, type KayGraphErrorOptions } from '@kaygraph/core';

/** Options of `MemoryBudgetError`. */
export interface MemoryBudgetErrorOptions extends KayGraphErrorOptions {
  /** The size asked for, in bytes. */
  size?: number;
}

/**
 * A buffer could not be lent within the byte budget: the size is larger than the budget or the
 * largest size class (fails at once), or the budget stayed spent until the acquire timed out.
 */
export class MemoryBudgetError extends KayGraphError {
  static override readonly code = 'KG_MEMORY_BUDGET';

  /** The size asked for, in bytes. */
  readonly size: number | undefined;

  // The constructor keeps the base class's shape so `MemoryBudgetError.isInstance` type-checks.
  constructor(message: string, options: MemoryBudgetErrorOptions = {}) {
    super(message, options);
    this.size = options.size;
  }
}

/**
 * A buffer cache was handed a lease it cannot own: one from another provider, one already
 * returned, or one already cached under another key.
 */
export class MemoryCacheError extends KayGraphError {
  static override readonly code = 'KG_MEMORY_CACHE';
}
