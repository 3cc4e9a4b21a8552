import { mkdtemp, realpath, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach } from 'vitest';
import type { ScopeLike } from '../src/index.js';

/** A fresh directory in the OS temp dir for each test, removed after it. */
export function useTempRoots(): () => Promise<string> {
  const made: string[] = [];
  afterEach(async () => {
    await Promise.all(made.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
  });
  return async () => {
    const dir = await realpath(await mkdtemp(path.join(os.tmpdir(), 'kg-fs-test-')));
    made.push(dir);
    return dir;
  };
}

/** The smallest scope: cleanups run last-in first-out when `close()` is called. */
export class TestScope implements ScopeLike {
  readonly #cleanups: (() => Promise<void> | void)[] = [];

  defer(cleanup: () => Promise<void> | void): void {
    this.#cleanups.push(cleanup);
  }

  async close(): Promise<void> {
    for (const cleanup of this.#cleanups.splice(0).reverse()) await cleanup();
  }
}

/** Run `body` in a scope that is closed however the body ends. */
export async function inScope<T>(body: (scope: TestScope) => Promise<T>): Promise<T> {
  const scope = new TestScope();
  try {
    return await body(scope);
  } finally {
    await scope.close();
  }
}

/** Whether a promise has settled, looking once after pending I/O callbacks have run. */
export async function state(promise: Promise<unknown>): Promise<'pending' | 'settled'> {
  const marker = Symbol('pending');
  const done = promise.then(
    () => 'settled' as const,
    () => 'settled' as const,
  );
  const later = new Promise<symbol>((resolve) => setImmediate(() => resolve(marker)));
  const winner = await Promise.race([done, later]);
  return winner === marker ? 'pending' : 'settled';
}
