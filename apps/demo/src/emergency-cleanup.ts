/**
 * Cleanups that must run even when the process is about to exit at once (a second Ctrl-C while
 * the first one's graceful shutdown is still going): synchronous, best effort.
 */
const cleanups = new Set<() => void>();

/** Register a synchronous cleanup; returns a function that unregisters it. */
export function onEmergencyExit(cleanup: () => void): () => void {
  cleanups.add(cleanup);
  return () => cleanups.delete(cleanup);
}

/**
 * Run every registered cleanup, the last registered first (as a scope closes), ignoring failures:
 * the process is leaving either way.
 */
export function runEmergencyCleanups(): void {
  for (const cleanup of [...cleanups].reverse()) {
    try {
      cleanup();
    } catch {
      // Nothing more can be done on the way out.
    }
  }
  cleanups.clear();
}
