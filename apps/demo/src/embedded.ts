import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { abortError } from '@kaygraph/core';
import { UsageError } from './demo-errors.js';
import type { DemoOptions } from './options.js';
import type { UploadReceiver } from './receiver.js';
import type { SmtpCapture } from './smtp-capture.js';

/** Where the run's services are: each one a real service from the flags, or an embedded one. */
export interface Services {
  dbUrl: string;
  apiUrl: string;
  apiToken?: string;
  smtpUrl: string;
  /** Set when the built-in receiver runs, so the report can show its own count. */
  receiver?: UploadReceiver;
  /** Set when the built-in SMTP capture runs. */
  smtp?: SmtpCapture;
  /** Which parts run embedded, for the opening line. */
  embedded: string[];
  /** Stop whatever was started here, in reverse order; every stop runs. */
  close(): Promise<void>;
}

/**
 * Start an embedded stand-in for every service the flags leave out: PostgreSQL (PGlite behind its
 * socket server) seeded with a sample table, an upload receiver with a per-run bearer token, and
 * an SMTP capture writing to the outbox folder. Each flag replaces its part on its own. A part is
 * loaded only when it runs: an export against real services does not pay for loading the others
 * (smtp-server alone is some 40 ms of CPU at every start).
 */
export async function startServices(
  options: DemoOptions,
  signal?: AbortSignal,
): Promise<Services> {
  const stops: Array<() => Promise<void>> = [];
  const close = async () => {
    const failures: unknown[] = [];
    for (const stop of stops.splice(0).reverse()) await stop().catch((e) => failures.push(e));
    if (failures.length > 0) throw failures[0];
  };
  try {
    return { ...(await startEach(options, stops, signal)), close };
  } catch (error) {
    await close().catch(() => {});
    throw error;
  }
}

async function startEach(
  options: DemoOptions,
  stops: Array<() => Promise<void>>,
  signal: AbortSignal | undefined,
): Promise<Omit<Services, 'close'>> {
  // The database's start is cut off by a signal; the others take milliseconds, and a signal
  // stops the next one from beginning.
  const checkSignal = () => {
    if (signal?.aborted) throw abortError(signal, 'starting the embedded services');
  };
  const embedded: string[] = [];
  checkSignal();
  let dbUrl = options.dbUrl;
  if (dbUrl === undefined) {
    const { startEmbeddedDatabase } = await import('./embedded-database.js');
    const database = await startEmbeddedDatabase(signal === undefined ? {} : { signal });
    stops.push(() => database.close());
    dbUrl = database.connectionString;
    embedded.push('database');
  }
  checkSignal();

  let receiver: UploadReceiver | undefined;
  let apiToken = options.apiToken;
  let apiUrl = options.apiUrl;
  if (apiUrl === undefined) {
    apiToken ??= randomBytes(24).toString('base64url');
    const { startUploadReceiver } = await import('./receiver.js');
    const started = await startUploadReceiver({ token: apiToken });
    stops.push(() => started.close());
    receiver = started;
    apiUrl = started.url;
    embedded.push('upload receiver');
  }
  checkSignal();

  let smtp: SmtpCapture | undefined;
  let smtpUrl = options.smtpUrl;
  if (smtpUrl === undefined) {
    const { startSmtpCapture } = await import('./smtp-capture.js');
    const outbox = resolve(options.outbox);
    const started = await startSmtpCapture({ outbox }).catch((error: unknown) => {
      const code = (error as NodeJS.ErrnoException).code ?? String(error);
      throw new UsageError(`--outbox ${JSON.stringify(outbox)} cannot be used: ${code}`, {
        cause: error,
      });
    });
    stops.push(() => started.close());
    smtp = started;
    smtpUrl = started.url;
    embedded.push('SMTP capture');
  }

  return {
    dbUrl,
    apiUrl,
    smtpUrl,
    embedded,
    ...(apiToken === undefined ? {} : { apiToken }),
    ...(receiver === undefined ? {} : { receiver }),
    ...(smtp === undefined ? {} : { smtp }),
  };
}
