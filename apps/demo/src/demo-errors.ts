import { KayGraphError } from '@kaygraph/core';

/** A flag or environment variable is missing, malformed or out of range. Exit code 2. */
export class UsageError extends KayGraphError {
  static override readonly code = 'KG_DEMO_USAGE';
}

/** The export ran and failed: a chunk could not be uploaded, the source does not exist... */
export class ExportError extends KayGraphError {
  static override readonly code = 'KG_DEMO_EXPORT';
}

/** The summary mail could not be sent; the uploads before it still count. */
export class NotificationError extends KayGraphError {
  static override readonly code = 'KG_DEMO_NOTIFICATION';
}
