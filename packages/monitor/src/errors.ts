import { KayGraphError } from '@kaygraph/core';

/** The monitor was closed; it serves and draws nothing more. */
export class MonitorClosedError extends KayGraphError {
  static override readonly code = 'KG_MONITOR_CLOSED';
}
