import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    // Most files start an embedded PostgreSQL (WebAssembly, CPU-heavy at start, ~800 MB each);
    // one file at a time is as fast on a small machine and keeps memory in check.
    fileParallelism: false,
  },
});
