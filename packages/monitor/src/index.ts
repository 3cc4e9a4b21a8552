export { MonitorClosedError } from './errors.js';
export type { LiveStream, LiveViewOptions } from './live-view.js';
export { type Monitor, type MonitorOptions, createMonitor } from './monitor.js';
export type { DurationSummary } from './percentiles.js';
export type { ProviderSource } from './provider-source.js';
export type { MonitorServer, ServeOptions } from './serve.js';
export type {
  MonitorSnapshot,
  NodeSnapshot,
  ProviderHealth,
  ProviderSnapshot,
  RunsSnapshot,
} from './snapshot.js';
export { TABLE_WIDTH } from './render-table.js';
