/**
 * One signal that aborts when either does. Hand-made rather than `AbortSignal.any` so the
 * listener on the long-lived shutdown signal is removed as soon as the operation is over.
 */
export function linkSignals(
  caller: AbortSignal | undefined,
  shutdown: AbortSignal,
): { signal: AbortSignal; unlink: () => void } {
  if (!caller) return { signal: shutdown, unlink: () => {} };
  const controller = new AbortController();
  const fromCaller = () => controller.abort(caller.reason);
  const fromShutdown = () => controller.abort(shutdown.reason);
  if (caller.aborted) fromCaller();
  else if (shutdown.aborted) fromShutdown();
  caller.addEventListener('abort', fromCaller, { once: true });
  shutdown.addEventListener('abort', fromShutdown, { once: true });
  const unlink = () => {
    caller.removeEventListener('abort', fromCaller);
    shutdown.removeEventListener('abort', fromShutdown);
  };
  return { signal: controller.signal, unlink };
}
