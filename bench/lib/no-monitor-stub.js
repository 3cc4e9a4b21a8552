// What the demo calls on a monitor, doing nothing (see monitor-switch.js): no event subscriptions,
// no timers, so the core publishes no events either (it builds them only for subscribers).
export function createMonitor() {
  return {
    snapshot: () => ({}),
    table: () => '',
    prometheus: () => '',
    live: () => () => {},
    serve: async () => ({ url: '', close: async () => {} }),
    close: async () => {},
  };
}
