import { tmpdir } from 'node:os';
import { ResourcePool } from '@kaygraph/core';
import { createDbProvider } from '@kaygraph/provider-db';
import { createFsProvider } from '@kaygraph/provider-fs';
import { createHttpProvider } from '@kaygraph/provider-http';
import { createMailProvider } from '@kaygraph/provider-mail';
import { createMemoryProvider } from '@kaygraph/provider-memory';

/** `application_name` of the demo's database connections, so an operator can find them. */
export const APPLICATION_NAME = 'kaygraph-demo';

/** Prefix of the run's temp directory in the system temp folder. */
export const TEMP_PREFIX = 'kaygraph-export-';

/** Upload buffers: a chunk file is read whole into one before it is sent. */
const MEMORY_BUDGET_BYTES = 256 * 1024 * 1024;
const MEMORY_SIZE_CLASSES = [64 * 1024, 1024 * 1024, 8 * 1024 * 1024, 32 * 1024 * 1024];

export interface ExportEndpoints {
  dbUrl: string;
  /** Upload origin, with credentials if the URL had any (sent as Basic auth, never shown). */
  apiOrigin: string;
  apiToken?: string;
  smtpUrl: string;
  /** Longest wait for the SMTP server to connect, and then to greet. */
  smtpTimeoutMs: number;
  mailFrom: string;
  concurrency: number;
}

/**
 * The run's providers, one `ResourcePool`: memory (upload buffers), fs (temp chunk files), db,
 * http (uploads) and mail. Opened in this order, closed in reverse.
 */
export function createExportResources(endpoints: ExportEndpoints): ResourcePool {
  const headers: Record<string, string> =
    endpoints.apiToken === undefined ? {} : { authorization: `Bearer ${endpoints.apiToken}` };
  return new ResourcePool()
    .add(
      createMemoryProvider({ budgetBytes: MEMORY_BUDGET_BYTES, sizeClasses: MEMORY_SIZE_CLASSES }),
    )
    .add(createFsProvider({ root: tmpdir(), tempRoot: tmpdir(), tempPrefix: TEMP_PREFIX }))
    .add(
      createDbProvider({
        connectionString: endpoints.dbUrl,
        // The reader holds one connection for its cursor; the others serve its checks and retries.
        max: 3,
        applicationName: APPLICATION_NAME,
      }),
    )
    .add(
      createHttpProvider({
        origin: endpoints.apiOrigin,
        connections: endpoints.concurrency,
        headers,
        retry: { maxRetries: 5, minDelayMs: 100, maxDelayMs: 3000 },
      }),
    )
    .add(
      createMailProvider({
        url: endpoints.smtpUrl,
        from: endpoints.mailFrom,
        connectionTimeoutMs: endpoints.smtpTimeoutMs,
        greetingTimeoutMs: endpoints.smtpTimeoutMs,
        retry: { maxRetries: 2, delayMs: 500 },
      }),
    );
}

/** The largest chunk file an upload buffer holds. */
export const MAX_CHUNK_BYTES = MEMORY_SIZE_CLASSES[MEMORY_SIZE_CLASSES.length - 1]!;
