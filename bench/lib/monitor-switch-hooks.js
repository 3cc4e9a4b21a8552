// Module resolution hooks of monitor-switch.js.
const stub = new URL('./no-monitor-stub.js', import.meta.url).href;
let monitorOff = false;

export function initialize(data) {
  monitorOff = data?.monitorOff === true;
}

export async function resolve(specifier, context, nextResolve) {
  if (monitorOff && specifier === '@kaygraph/monitor') return { url: stub, shortCircuit: true };
  return nextResolve(specifier, context);
}
