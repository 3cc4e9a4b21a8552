import { type KayGraphEvents, type EventName, subscribeAll } from '@kaygraph/core';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { startEmbeddedPostgres } from '../src/embedded.js';
import { createDbProvider, type DbProvider, type DbProviderOptions } from '../src/index.js';

/** The real server to test against, when the environment names one. */
export const realServerUrl = process.env.KAYGRAPH_TEST_PG_URL;

/** True when a real PostgreSQL is available; false when the tests fall back to embedded. */
export const hasRealServer = realServerUrl !== undefined && realServerUrl !== '';

/** Where a test file's providers connect. */
export interface PgTarget {
  url: string;
  /** False when this is the embedded PGlite fallback. */
  real: boolean;
  close(): Promise<void>;
}

/** The real server from KAYGRAPH_TEST_PG_URL, or an embedded PostgreSQL when it is unset. */
export async function startTarget(): Promise<PgTarget> {
  if (hasRealServer) return { url: realServerUrl as string, real: true, close: async () => {} };
  const embedded = await startEmbeddedPostgres({ maxConnections: 16 });
  return { url: embedded.connectionString, real: false, close: () => embedded.close() };
}

/**
 * True (skip) when the test needs a real server and there is none; says why, once per test, so
 * a skipped fault test is never mistaken for a passing one.
 */
export function skipWithoutRealServer(what: string): boolean {
  if (hasRealServer) return false;
  console.warn(
    `skipped "${what}": needs a real PostgreSQL (set KAYGRAPH_TEST_PG_URL); the embedded ` +
      'PGlite fallback has one backend, no pg_terminate_backend and ignores startup parameters',
  );
  return true;
}

/** An application_name unique to this file and process, so kills only hit our connections. */
export function testAppName(file: string): string {
  return `kg-test-${file}-${process.pid}`;
}

/** A table name unique to this file and process: other helpers share the server. */
export function testTable(file: string): string {
  return `kg_test_${file.replace(/\W/g, '_')}_${process.pid}`;
}

/** Every KayGraph event published while recording, with its name. */
export function recordEvents() {
  const seen: { name: EventName; payload: KayGraphEvents[EventName] }[] = [];
  const stop = subscribeAll((payload, name) => {
    seen.push({ name, payload });
  });
  return {
    seen,
    stop,
    named<N extends EventName>(name: N): KayGraphEvents[N][] {
      return seen.filter((e) => e.name === name).map((e) => e.payload as KayGraphEvents[N]);
    },
  };
}

/** Resolve after `ms` milliseconds. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Poll until `probe` is true; the test's own timeout bounds the wait. */
export async function until(probe: () => boolean | Promise<boolean>, everyMs = 10): Promise<void> {
  while (!(await probe())) await delay(everyMs);
}

/** Starting embedded PostgreSQL (the fallback) can take many seconds on a busy machine. */
const STARTUP_TIMEOUT_MS = 120_000;

/**
 * The set-up most provider tests share: one target for the file, providers made against it with
 * the file's application_name, each destroyed after its test.
 */
export function useProviders(appName: string) {
  let target: PgTarget | undefined;
  const providers: DbProvider[] = [];

  beforeAll(async () => {
    target = await startTarget();
  }, STARTUP_TIMEOUT_MS);

  afterEach(async () => {
    await Promise.all(providers.splice(0).map((p) => p.destroy()));
  });

  afterAll(async () => {
    await target?.close();
  });

  const url = (): string => {
    if (target === undefined) throw new Error('the PostgreSQL target is not started yet');
    return target.url;
  };
  const provider = (options: DbProviderOptions = {}): DbProvider => {
    const db = createDbProvider({ connectionString: url(), applicationName: appName, ...options });
    providers.push(db);
    return db;
  };
  return { url, provider };
}
