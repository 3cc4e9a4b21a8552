import { lstatSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';

/**
 * The temp files and directories one provider created and has not removed yet. What is on disk
 * is the truth: a path the user removed themselves no longer counts.
 */
export class TempTracker {
  readonly #paths = new Set<string>();

  /** Paths tracked, without looking at the disk. */
  get size(): number {
    return this.#paths.size;
  }

  add(path: string): void {
    this.#paths.add(path);
  }

  forget(path: string): void {
    this.#paths.delete(path);
  }

  /** How many tracked paths still exist on disk; the ones that are gone are forgotten. */
  leftOnDisk(): number {
    for (const path of this.#paths) {
      if (lstatSync(path, { throwIfNoEntry: false }) === undefined) this.#paths.delete(path);
    }
    return this.#paths.size;
  }

  /** Remove one tracked path (recursively) and forget it. Missing is fine. */
  async remove(path: string): Promise<void> {
    await rm(path, { recursive: true, force: true });
    this.#paths.delete(path);
  }

  /** Remove everything tracked; returns the failures, having tried every path. */
  async removeAll(): Promise<unknown[]> {
    const results = await Promise.allSettled([...this.#paths].map((path) => this.remove(path)));
    return results.flatMap((result) => (result.status === 'rejected' ? [result.reason] : []));
  }

  /**
   * Remove everything tracked without yielding to the event loop, for a signal handler that is
   * about to exit the process. Returns how many paths were removed.
   */
  removeAllSync(): number {
    let removed = 0;
    for (const path of [...this.#paths]) {
      try {
        rmSync(path, { recursive: true, force: true });
        this.#paths.delete(path);
        removed++;
      } catch {
        // Best effort: the process is going down and there is nobody left to tell.
      }
    }
    return removed;
  }
}
