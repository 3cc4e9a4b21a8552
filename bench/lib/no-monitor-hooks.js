// Module resolution hook for no-monitor.js.
const stub = new URL('./no-monitor-stub.js', import.meta.url).href;

export async function resolve(specifier, context, nextResolve) {
  if (specifier === '@kaygraph/monitor') return { url: stub, shortCircuit: true };
  return nextResolve(specifier, context);
}
