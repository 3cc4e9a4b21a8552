import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { CleanupError, type ResourcePool, abortError, redactText } from '@kaygraph/core';
import { type Monitor, createMonitor } from '@kaygraph/monitor';
import type { FsProvider } from '@kaygraph/provider-fs';
import type { MailProvider } from '@kaygraph/provider-mail';
import { NotificationError } from './demo-errors.js';
import { type Services, startServices } from './embedded.js';
import { onEmergencyExit } from './emergency-cleanup.js';
import { emptyCounters } from './export-counters.js';
import { ExportGraph } from './export-graph.js';
import { createExportResources } from './export-resources.js';
import type { ExportSettings, ExportShared } from './export-shared.js';
import { type DemoOptions, maskUrl } from './options.js';
import type { Progress } from './progress.js';
import type { ReceiverStats } from './receiver.js';
import { type ExportReport, PROVIDER_NAMES, type ResourceCounts, buildReport } from './report.js';

/** Where the run writes, and what stops it. */
export interface ExportIo {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  /** Aborted on SIGINT / SIGTERM: the run stops taking work and cleans up. */
  signal: AbortSignal;
}

/** How a run ended. */
export interface ExportOutcome {
  status: 'ok' | 'failed' | 'aborted';
  report: ExportReport;
  /** One line saying what failed, secrets masked; set unless ok. */
  message?: string;
}

/** Longest wait for leases to come back when the providers close, before they are destroyed. */
const CLOSE_TIMEOUT_MS = 10_000;

/**
 * One export, start to finish: start the embedded services the flags leave out, open the
 * providers, run the graph, then close everything in reverse and report what is left (nothing,
 * when all is well). `execute()` never throws; a failure is in the `outcome()`.
 */
export class ExportRun {
  private readonly started = performance.now();
  private exportStarted: number | undefined;
  private exportEnded: number | undefined;
  private readonly counters = emptyCounters();
  private readonly runId = newRunId();
  private readonly secrets: string[];
  private services: Services | undefined;
  private resources: ResourcePool | undefined;
  private monitor: Monitor | undefined;
  private progress: Progress | undefined;
  private failure: unknown;
  private failed = false;
  private stats: Partial<Record<string, ResourceCounts>> = {};
  private countsFinal = false;
  private tempFilesLeft = 0;
  private sourceLabel: string | undefined;
  private receiverFacts: ReceiverStats | undefined;
  private forgetEmergency: () => void = () => {};
  /**
   * An interrupt came while the summary mail was still in nodemailer (connecting, waiting for a
   * greeting...). The provider was destroyed without waiting for it, but nodemailer cannot cut
   * its connection short: its socket and timers keep the process alive until the driver's own
   * timeout, so the process has to leave on its own word once the run has unwound.
   */
  abandonedMail = false;

  constructor(
    private readonly options: DemoOptions,
    private readonly io: ExportIo,
  ) {
    this.secrets = secretsOf(options);
  }

  async execute(): Promise<void> {
    try {
      await this.prepare();
      await this.runGraph();
    } catch (error) {
      this.fail(error);
    } finally {
      this.progress?.stop(!this.failed && !this.io.signal.aborted);
      await this.shutDown();
    }
  }

  /** How the run ended, once `execute()` has resolved; an ok run prints its summary here. */
  outcome(): ExportOutcome {
    const outcome = this.currentOutcome();
    if (outcome.status === 'ok') this.printSummary(outcome.report);
    return outcome;
  }

  /**
   * The report as the run stands, for a process that has to leave before the run has unwound (a
   * second signal, a shutdown past its grace period): counts taken now, and the run's failure,
   * or the interrupt, as its error.
   */
  reportSoFar(): ExportReport {
    if (!this.countsFinal) this.takeCounts();
    return this.currentOutcome().report;
  }

  private currentOutcome(): ExportOutcome {
    const aborted = this.io.signal.aborted;
    const ok = !this.failed && !aborted;
    const message = ok ? undefined : this.message();
    const report = buildReport({
      ok,
      counters: this.counters,
      durationMs: performance.now() - this.started,
      exportMs: this.exportMs(),
      tempFilesLeft: this.tempFilesLeft,
      stats: this.stats,
      runId: this.runId,
      ...(this.sourceLabel === undefined ? {} : { source: this.sourceLabel }),
      ...this.servicesFacts(),
      ...(message === undefined ? {} : { error: message }),
    });
    const status = ok ? 'ok' : aborted ? 'aborted' : 'failed';
    return { status, report, ...(message === undefined ? {} : { message }) };
  }

  /** Time spent in the graph, not starting services or shutting down. */
  private exportMs(): number {
    if (this.exportStarted === undefined) return 0;
    return (this.exportEnded ?? performance.now()) - this.exportStarted;
  }

  private async prepare(): Promise<void> {
    this.services = await startServices(this.options, this.io.signal);
    if (this.services.apiToken !== undefined) this.secrets.push(this.services.apiToken);
    if (this.io.signal.aborted) throw abortError(this.io.signal, 'export');

    const api = new URL(this.services.apiUrl);
    this.resources = createExportResources({
      dbUrl: this.services.dbUrl,
      apiOrigin: originOf(api),
      ...(this.services.apiToken === undefined ? {} : { apiToken: this.services.apiToken }),
      smtpUrl: this.services.smtpUrl,
      smtpTimeoutMs: this.options.smtpTimeoutMs,
      mailFrom: this.options.mailFrom,
      concurrency: this.options.concurrency,
    });
    const fs = this.resources.get<FsProvider>('fs');
    this.forgetEmergency = onEmergencyExit(() => fs.removeTempSync());
    this.monitor = createMonitor({ resources: this.resources, healthIntervalMs: 0 });
    await this.resources.open();
  }

  private async runGraph(): Promise<void> {
    const services = this.services!;
    const shared: ExportShared = {
      settings: this.settings(services),
      counters: this.counters,
      startedAt: this.started,
    };
    this.say(this.openingLine(services));
    if (!this.options.quiet) {
      // Loaded only to be shown: cli-progress is CPU at start-up that --quiet does not need.
      const { startProgress } = await import('./progress.js');
      this.progress = startProgress({ counters: this.counters, stream: this.progressStream() });
    }

    this.exportStarted = performance.now();
    const result = await new ExportGraph().run(shared, {
      resources: this.resources!,
      signal: this.io.signal,
      runId: this.runId,
    });
    this.exportEnded = performance.now();
    this.sourceLabel = shared.plan?.label;
    if (result.status !== 'ok') throw result.error;
    if (shared.notification?.sent === false) {
      const reason = errorMessage(shared.notification.error);
      throw new NotificationError(
        `summary mail not sent (all ${this.counters.chunksUploaded} chunks were uploaded): ` +
          reason,
        { cause: shared.notification.error },
      );
    }
  }

  private settings(services: Services): ExportSettings {
    const api = new URL(services.apiUrl);
    return {
      source: this.options.source,
      batchSize: this.options.batchSize,
      chunkRows: this.options.chunkRows,
      format: this.options.format,
      concurrency: this.options.concurrency,
      uploadPath: api.pathname.replace(/\/+$/, ''),
      uploadLabel: maskUrl(services.apiUrl),
      mailFrom: this.options.mailFrom,
      mailTo: this.options.mailTo,
    };
  }

  /** Close everything this run opened, in reverse order, and take the final counts. */
  private async shutDown(): Promise<void> {
    const resources = this.resources;
    if (resources !== undefined) {
      try {
        await this.dropMailInFlight(resources);
        await resources.close({ timeoutMs: CLOSE_TIMEOUT_MS });
      } catch (error) {
        this.fail(error);
        await resources.destroy(error).catch(() => {});
      }
      this.takeCounts();
      this.countsFinal = true;
      this.forgetEmergency();
    }
    if (this.monitor !== undefined) {
      // Drawn right after the report's counts were taken, with nothing running in between, from
      // the same monitor: the table and the report show the same numbers.
      if (!this.options.quiet) this.io.stdout.write(`\n${this.monitor.table()}\n`);
      await this.monitor.close().catch(() => {});
    }
    this.receiverFacts = this.services?.receiver?.stats();
    await this.services?.close().catch((error: unknown) => this.fail(error));
  }

  /**
   * After an interrupt, a mail the driver is still sending is not waited for: a graceful close
   * would hold the shutdown until nodemailer's own timeout (the greeting's, say), since it has no
   * way to cut a connection short. Destroying the mail provider takes its slot back at once.
   */
  private async dropMailInFlight(resources: ResourcePool): Promise<void> {
    if (!this.io.signal.aborted) return;
    const mail = resources.get<MailProvider>('mail');
    if (mail.stats().inUse === 0) return;
    this.abandonedMail = true;
    await mail.destroy(this.io.signal.reason).catch(() => {});
  }

  /**
   * What is left per provider and on disk. The counts are the monitor's: a leak a scope reported
   * on a provider's behalf is counted there even when the provider does not count it itself.
   */
  private takeCounts(): void {
    const resources = this.resources;
    if (resources === undefined) return;
    const providers = this.monitor?.snapshot().providers ?? {};
    for (const name of PROVIDER_NAMES) {
      const counts = providers[name];
      if (counts !== undefined) this.stats[name] = counts;
    }
    if (resources.has('fs')) {
      this.tempFilesLeft = resources.get<FsProvider>('fs').tempEntriesLeft();
    }
  }

  private servicesFacts(): Pick<ExportReport, 'receiver' | 'outbox'> {
    const facts: Pick<ExportReport, 'receiver' | 'outbox'> = {};
    const receiver = this.receiverFacts;
    if (receiver !== undefined) {
      facts.receiver = {
        rowsReceived: receiver.rowsReceived,
        chunksStored: receiver.chunksStored,
        duplicates: receiver.duplicates,
      };
    }
    if (this.services?.smtp !== undefined) facts.outbox = this.services.smtp.outbox;
    return facts;
  }

  /** Keep the first failure; a later one (a close after a failed run) does not replace it. */
  private fail(error: unknown): void {
    if (this.failed) return;
    this.failed = true;
    this.failure = error;
  }

  private message(): string {
    if (this.io.signal.aborted) {
      const reason = this.io.signal.reason;
      return reason instanceof Error ? reason.message : 'interrupted';
    }
    return redactText(errorMessage(this.failure), this.secrets);
  }

  private openingLine(services: Services): string {
    const db = new URL(services.dbUrl);
    const where = `${db.hostname}:${db.port || 5432}${db.pathname}`;
    const embedded =
      services.embedded.length === 0 ? '' : ` (embedded: ${services.embedded.join(', ')})`;
    const what =
      this.options.source.kind === 'table' ? `table ${this.options.source.quoted}` : 'query';
    return `kaygraph-demo: run ${this.runId} exporting ${what} from ${where}${embedded}`;
  }

  private printSummary(report: ExportReport): void {
    const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
    const lines = [
      `exported ${report.rows.uploaded} rows in ${report.chunks.uploaded} chunks in ` +
        `${seconds(report.exportMs)} (${seconds(report.durationMs)} with start-up and shutdown)`,
    ];
    if (report.receiver !== undefined) {
      lines.push(`receiver counted ${report.receiver.rowsReceived} rows`);
    }
    if (report.outbox !== undefined) lines.push(`summary mail written to ${report.outbox}`);
    for (const line of lines) this.say(line);
  }

  private say(line: string): void {
    if (!this.options.quiet) this.io.stdout.write(`${line}\n`);
  }

  /** The bar goes to stderr on a terminal; plain lines go with the rest of the output. */
  private progressStream(): NodeJS.WriteStream {
    return this.io.stderr.isTTY ? this.io.stderr : this.io.stdout;
  }
}

/** `scheme://user:pass@host:port` of an upload URL; credentials stay, for Basic auth. */
function originOf(url: URL): string {
  const credentials = url.username ? `${url.username}:${url.password}@` : '';
  return `${url.protocol}//${credentials}${url.host}`;
}

/** `20250101-120000-1a2b3c`: sorts by start time, unique enough for one receiver. */
function newRunId(): string {
  const time = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `${time}-${randomBytes(3).toString('hex')}`;
}

/** Passwords and tokens from the flags, masked in any text the run shows. */
function secretsOf(options: DemoOptions): string[] {
  const secrets: string[] = [];
  for (const url of [options.dbUrl, options.apiUrl, options.smtpUrl]) {
    if (url === undefined) continue;
    const password = new URL(url).password;
    if (password) secrets.push(password, decodeURIComponent(password));
  }
  if (options.apiToken !== undefined) secrets.push(options.apiToken);
  return secrets;
}

/** The message of the error that explains the failure: the original one, not a cleanup's. */
function errorMessage(error: unknown): string {
  if (CleanupError.isInstance(error)) return errorMessage(error.suppressed);
  if (error instanceof AggregateError && error.errors.length > 0) {
    return errorMessage(error.errors[0]);
  }
  if (error instanceof Error) return error.message.replace(/\s*\n\s*/g, ' ');
  return String(error);
}
