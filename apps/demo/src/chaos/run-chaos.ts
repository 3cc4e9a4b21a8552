import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  abortError,
  checkInteger,
  checkNumber,
  checkObject,
  checkString,
  rejectUnknownKeys,
} from '@kaygraph/core';
import { type UploadReceiver, startUploadReceiver } from '../receiver.js';
import type { ExportReport } from '../report.js';
import { type SmtpCapture, startSmtpCapture } from '../smtp-capture.js';
import { type ChaosCheck, type ChaosFacts, checkChaosRun } from './chaos-checks.js';
import { type BackendKiller, observeDemoBackends, startBackendKiller } from './demo-backends.js';
import { type DemoExit, runDemoProcess } from './demo-process.js';
import { RowLedger } from './row-ledger.js';
import {
  PGBENCH_TABLE,
  type ScratchDatabase,
  createScratchDatabase,
} from './scratch-database.js';

/** The server the runner uses when none is given. */
export const DEFAULT_SERVER_URL =
  process.env.KAYGRAPH_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** How long the SMTP capture stays down after the last chunk arrived. */
const SMTP_BACK_AFTER_MS = 2000;

export interface ChaosOptions {
  /** `pgbench -i -s` scale: 100,000 rows per unit. Default 1. */
  scale?: number;
  /**
   * A database URL on the server to use; the run creates its own database next to it and drops
   * it at the end. Default `KAYGRAPH_TEST_PG_URL`, else `postgres://postgres@127.0.0.1:5432/test`.
   */
  serverUrl?: string;
  /** Seed of the receiver's fault schedule. Default 1. */
  seed?: number;
  /** Time between two rounds of backend kills. Default 300 ms. */
  killIntervalMs?: number;
  /** Share of uploads answered 503. Default 0.10. */
  statusRate?: number;
  /** Share of uploads whose connection is reset. Default 0.05. */
  resetRate?: number;
  /** Rows per chunk file: smaller chunks mean more uploads to fault. Default 2000. */
  chunkRows?: number;
  /** Longest the export may take before it is killed. Default 2 min + 1 min per unit of scale. */
  timeoutMs?: number;
  /** Aborting interrupts the demo with SIGINT; the run cleans up and rejects. */
  signal?: AbortSignal;
  /** Progress lines. Default none. */
  log?: (line: string) => void;
}

/** The settings of a run, every default filled in. */
export type ChaosSettings = Required<Omit<ChaosOptions, 'signal' | 'log'>>;
type Settings = ChaosSettings;

/** What one chaos run did and found. */
export interface ChaosResult extends ChaosFacts {
  /** True when every check passed. */
  ok: boolean;
  checks: ChaosCheck[];
}

const OPTION_NAMES = [
  'scale',
  'serverUrl',
  'seed',
  'killIntervalMs',
  'statusRate',
  'resetRate',
  'chunkRows',
  'timeoutMs',
  'signal',
  'log',
];

/**
 * Export a pgbench table with the demo while everything around it fails: its database backends
 * are terminated every few hundred milliseconds, the upload receiver answers 503 to some requests
 * and resets the connection of others, and the SMTP server refuses connections from the start
 * until shortly after the last chunk arrived. Then check that every row arrived exactly once and
 * that the demo gave back everything it took. Never throws for a failed check; see `ok`.
 */
export async function runChaos(options: ChaosOptions = {}): Promise<ChaosResult> {
  const settings = resolveSettings(options);
  const log = options.log ?? (() => {});
  const signal = options.signal ?? new AbortController().signal;
  const started = performance.now();

  log(`loading pgbench scale ${settings.scale} into a scratch database`);
  const database = await createScratchDatabase({
    serverUrl: settings.serverUrl,
    scale: settings.scale,
    prefix: 'kaygraph_chaos',
  });
  const stage = new ChaosStage(settings, database, log);
  try {
    await stage.start();
    if (signal.aborted) throw abortError(signal, 'chaos run');
    const setupMs = performance.now() - started;
    const exit = await stage.runDemo(signal);
    if (signal.aborted) throw abortError(signal, 'chaos run');
    return await stage.finish(exit, setupMs);
  } finally {
    await stage.close();
    await database.drop();
  }
}

function resolveSettings(options: ChaosOptions): Settings {
  const where = 'runChaos';
  checkObject(where, options);
  rejectUnknownKeys(where, options, OPTION_NAMES);
  const scale = checkInteger(where, 'scale', options.scale, 1, { min: 1, max: 10_000 });
  return {
    scale,
    serverUrl: checkString(where, 'serverUrl', options.serverUrl, DEFAULT_SERVER_URL),
    seed: checkInteger(where, 'seed', options.seed, 1, { min: 0, max: 2 ** 32 - 1 }),
    killIntervalMs: checkInteger(where, 'killIntervalMs', options.killIntervalMs, 300, { min: 1 }),
    statusRate: checkNumber(where, 'statusRate', options.statusRate, 0.1, { min: 0, max: 1 }),
    resetRate: checkNumber(where, 'resetRate', options.resetRate, 0.05, { min: 0, max: 1 }),
    chunkRows: checkInteger(where, 'chunkRows', options.chunkRows, 2000, { min: 1 }),
    timeoutMs: checkInteger(where, 'timeoutMs', options.timeoutMs, (2 + scale) * 60_000, {
      min: 1,
    }),
  };
}

/** The services around the demo, the faults they inject, and what they saw. */
class ChaosStage {
  private readonly token = randomBytes(18).toString('base64url');
  private readonly ledger: RowLedger;
  private workspace = '';
  private receiver: UploadReceiver | undefined;
  private smtp: SmtpCapture | undefined;
  private killer: BackendKiller | undefined;
  private ledgerErrors = 0;
  private smtpBack = false;
  private demoStartedAt = 0;
  private allRowsStoredMs: number | undefined;

  constructor(
    private readonly settings: Settings,
    private readonly database: ScratchDatabase,
    private readonly log: (line: string) => void,
  ) {
    this.ledger = new RowLedger(database.rows, 'aid');
  }

  private get tmp(): string {
    return join(this.workspace, 'tmp');
  }

  private get reportFile(): string {
    return join(this.workspace, 'report.json');
  }

  async start(): Promise<void> {
    this.workspace = await mkdtemp(join(tmpdir(), 'kaygraph-chaos-'));
    await mkdir(this.tmp);
    // Down from the start; the receiver brings it back shortly after the last chunk, so the
    // summary mail meets a server that refuses it and has to be retried.
    this.smtp = await startSmtpCapture({
      outbox: join(this.workspace, 'outbox'),
      refuseForMs: this.settings.timeoutMs,
    });
    const { statusRate, resetRate, seed } = this.settings;
    this.receiver = await startUploadReceiver({
      token: this.token,
      faults: { statusRate, resetRate, seed },
      onStore: (upload) => this.onStore(upload.body),
    });
  }

  private onStore(body: Buffer): void {
    try {
      this.ledger.addChunk(body);
    } catch {
      this.ledgerErrors += 1;
    }
    if (!this.smtpBack && this.ledger.rowsSeen() >= this.database.rows) {
      this.smtpBack = true;
      this.allRowsStoredMs = performance.now() - this.demoStartedAt;
      this.smtp?.refuseFor(SMTP_BACK_AFTER_MS);
    }
  }

  async runDemo(signal: AbortSignal): Promise<DemoExit> {
    const { killIntervalMs, chunkRows, timeoutMs } = this.settings;
    this.killer = startBackendKiller({
      serverUrl: this.settings.serverUrl,
      database: this.database.name,
      intervalMs: killIntervalMs,
    });
    this.log(
      `exporting ${this.database.rows} rows: backends killed every ${killIntervalMs} ms, ` +
        `${pct(this.settings.statusRate)} 503s, ${pct(this.settings.resetRate)} resets, ` +
        'SMTP down until the uploads are done',
    );
    this.demoStartedAt = performance.now();
    try {
      return await runDemoProcess({
        args: this.demoArgs(chunkRows),
        cwd: this.workspace,
        tmpdir: this.tmp,
        report: this.reportFile,
        deadlineMs: timeoutMs,
        signal,
      });
    } finally {
      await this.killer.stop();
    }
  }

  private demoArgs(chunkRows: number): string[] {
    return [
      ...['--db-url', this.database.url, '--table', PGBENCH_TABLE],
      ...['--api-url', this.receiver!.url, '--api-token', this.token],
      ...['--smtp-url', this.smtp!.url],
      ...['--chunk-rows', String(chunkRows), '--report', this.reportFile, '--quiet'],
    ];
  }

  async finish(exit: DemoExit, setupMs: number): Promise<ChaosResult> {
    const backendsLeft = await this.backendsLeft();
    const tempLeft = await readdir(this.tmp);
    const report = await readReport(this.reportFile);
    const { stdout: _stdout, ...exitFacts } = exit;
    const { serverUrl: _serverUrl, ...settings } = this.settings;
    const facts: ChaosFacts = {
      settings,
      database: this.database.name,
      tableRows: this.database.rows,
      setupMs,
      exit: exitFacts,
      ...(report === undefined ? {} : { report }),
      receiver: this.receiver!.stats(),
      ledger: this.ledger.totals(),
      killer: this.killerCounts(),
      smtp: { refused: this.smtp!.refused(), delivered: this.smtp!.messages().length },
      backendsLeft,
      tempLeft,
      ...(this.allRowsStoredMs === undefined ? {} : { allRowsStoredMs: this.allRowsStoredMs }),
    };
    const rowsForRun = report?.runId === undefined ? 0 : this.receiver!.rowsFor(report.runId);
    const checks = checkChaosRun(facts, { rowsForRun, ledgerErrors: this.ledgerErrors });
    return { ok: checks.every((check) => check.ok), checks, ...facts };
  }

  private async backendsLeft(): Promise<number> {
    const observer = await observeDemoBackends(this.settings.serverUrl);
    try {
      return await observer.waitForNone(this.database.name);
    } finally {
      await observer.close();
    }
  }

  private killerCounts(): ChaosResult['killer'] {
    const killer = this.killer!;
    return { killed: killer.killed(), rounds: killer.rounds(), errors: killer.errors() };
  }

  /** Stop whatever was started; every stop runs. */
  async close(): Promise<void> {
    await this.killer?.stop().catch(() => {});
    await this.receiver?.close().catch(() => {});
    await this.smtp?.close().catch(() => {});
    if (this.workspace !== '') await rm(this.workspace, { recursive: true, force: true });
  }
}

async function readReport(file: string): Promise<ExportReport | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as ExportReport;
  } catch {
    return undefined;
  }
}

function pct(rate: number): string {
  return `${Math.round(rate * 100)}%`;
}
