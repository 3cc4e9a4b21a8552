import {
  type AcquireOptions,
  type CloseOptions,
  type HealthReport,
  type Lease,
  LeaseReleasedError,
  PoolClosedError,
  type LeaseOwner,
  type Provider,
  type ProviderState,
  type ProviderStats,
  errorInfo,
  linkSignals,
  publish,
  publishLazy,
  raceAbort,
  SlotLeases,
  closedError,
} from '@kaygraph/core';
import { type Transporter, createTransport } from 'nodemailer';
import type SMTPPool from 'nodemailer/lib/smtp-pool/index.js';
import { type MailMessage, prepareMessage } from './mail-message.js';
import {
  type MailProviderOptions,
  type ResolvedMailOptions,
  resolveMailOptions,
} from './mail-options.js';
import { type MailSendResult, type SendContext, runSend, toMailError } from './send-runner.js';

/** Cancellation and accounting for one send. */
export interface MailSendOptions {
  /**
   * Cancels the slot wait, the send and any retry wait. nodemailer cannot cut a message off
   * mid-transfer, so a message aborted while being transferred may still be delivered.
   */
  signal?: AbortSignal;
  /** Who is sending, for the slot lease and the monitor. */
  owner?: LeaseOwner;
}

/** One send slot: a lease on it lets its holder send messages without queueing each time. */
export interface MailSlot {
  /** Slot number, from 1 to `maxConnections`. */
  readonly slot: number;
  /** Send a message in this slot (retries included). Rejects once the lease is returned. */
  send(message: MailMessage, options?: { signal?: AbortSignal }): Promise<MailSendResult>;
}

/**
 * Stats of the mail provider. nodemailer does not report its sockets, so `size`/`idle`/`inUse`
 * count send slots (`maxConnections` of them), each backed by at most one SMTP connection:
 * `size` is the slots that can be lent, `idle` those not lent now. Once `close()` or `destroy()`
 * has begun, free slots are gone: `size` is the slots still lent and `idle` is 0, so a closed
 * provider shows 0 and 0. `errors` counts connection failures.
 */
export interface MailProviderStats extends ProviderStats {
  /** Messages the server accepted. */
  sent: number;
  /** Sends that ended in an error. */
  failed: number;
  /** Retries made. */
  retries: number;
}

/** The mail provider: nodemailer's pooled SMTP transport behind the KayGraph `Provider` face. */
export interface MailProvider extends Provider<MailSlot> {
  /**
   * Send one message and return the server's answer. Connection failures and 4xx answers
   * are retried; a 5xx answer fails at once with `MailError`.
   *
   * @example
   * const { messageId, accepted } = await mail.send({ to: 'ops@example.com', subject, text });
   */
  send(message: MailMessage, options?: MailSendOptions): Promise<MailSendResult>;
  stats(): MailProviderStats;
  describe(): Record<string, unknown>;
}

/**
 * Create a mail provider. Options are checked here; connections open on first send.
 *
 * @example
 * const mail = createMailProvider({ url: smtpUrl, from: 'bot@example.com' });
 * await mail.send({ to: 'ops@example.com', subject: 'Export finished', text: 'All uploaded.' });
 * await mail.close();
 */
export function createMailProvider(options: MailProviderOptions): MailProvider {
  return new SmtpMailProvider(resolveMailOptions(options));
}

const DEFAULT_CLOSE_TIMEOUT_MS = 10_000;

class SmtpMailProvider implements MailProvider {
  readonly kind = 'smtp';
  readonly name: string;
  #state: ProviderState = 'new';
  readonly #options: ResolvedMailOptions;
  readonly #transport: Transporter<SMTPPool.SentMessageInfo>;
  readonly #slots: SlotLeases<SlotHandle>;
  readonly #counters = { sent: 0, failed: 0, retries: 0, errors: 0 };
  /** Aborted on forced shutdown, so no caller keeps waiting for a transfer. */
  readonly #shutdown = new AbortController();
  #closing: Promise<void> | undefined;
  #destroying: Promise<void> | undefined;

  constructor(options: ResolvedMailOptions) {
    this.#options = options;
    this.name = options.name;
    this.#transport = createTransport({
      pool: true,
      host: options.host,
      port: options.port,
      secure: options.secure,
      ...(options.auth ? { auth: options.auth } : {}),
      maxConnections: options.maxConnections,
      maxMessages: options.maxMessages,
      connectionTimeout: options.connectionTimeoutMs,
      greetingTimeout: options.greetingTimeoutMs,
      socketTimeout: options.socketTimeoutMs,
      tls: { rejectUnauthorized: options.tlsRejectUnauthorized },
      // Retrying is this provider's job (bounded, abortable); nodemailer's own requeue of a
      // message whose connection closed is unbounded by default.
      maxRequeues: 0,
      // Messages are plain text/HTML; nothing may make the driver read a file or fetch a URL.
      disableFileAccess: true,
      disableUrlAccess: true,
      logger: false,
    } as SMTPPool.Options);
    this.#transport.on('error', (error) => this.#connectionError(toMailError(options, error)));
    this.#slots = new SlotLeases(this.name, options.maxConnections, options.leakDetectionMs);
  }

  get state(): ProviderState {
    return this.#state;
  }

  async open(): Promise<void> {
    this.#markOpen();
  }

  async acquire(options: AcquireOptions = {}): Promise<Lease<MailSlot>> {
    if (this.#state === 'closing' || this.#state === 'closed') throw closedError(this.name);
    this.#markOpen();
    const timeoutMs = options.timeoutMs ?? this.#options.acquireTimeoutMs;
    // Awaited, not returned: the leak detector's stack of the borrower follows awaits only.
    return await this.#slots.acquire((slot) => new SlotHandle(slot, this), options, timeoutMs);
  }

  async send(message: MailMessage, options: MailSendOptions = {}): Promise<MailSendResult> {
    const prepared = prepareMessage(message, this.#options.from);
    const lease = await this.acquire(options);
    let unsettled = 0;
    // A forced shutdown may have taken the slot back already; giving it back then is no error.
    const giveBack = () => (lease.returned ? Promise.resolve() : lease.release());
    const track = (sending: Promise<unknown>) => {
      unsettled++;
      const settle = () => {
        unsettled--;
        if (unsettled === 0 && finished) void giveBack();
      };
      sending.then(settle, settle);
    };
    let finished = false;
    try {
      return await this.#run(prepared, options.signal, track);
    } finally {
      finished = true;
      // After an abort the driver may still be transferring: the slot stays taken till it is done.
      if (unsettled === 0) await giveBack();
    }
  }

  /** @internal sends for a slot handle, counted like any other send */
  run(message: MailMessage, signal: AbortSignal | undefined): Promise<MailSendResult> {
    let prepared: ReturnType<typeof prepareMessage>;
    try {
      prepared = prepareMessage(message, this.#options.from);
    } catch (error) {
      // A bad message rejects like every other failure of a call that returns a promise.
      return Promise.reject(error);
    }
    return this.#run(prepared, signal, () => {});
  }

  async #run(
    message: ReturnType<typeof prepareMessage>,
    signal: AbortSignal | undefined,
    track: (sending: Promise<unknown>) => void,
  ): Promise<MailSendResult> {
    // A closed transport drops new messages without ever calling back; refuse them here.
    if (this.#state === 'closed') throw closedError(this.name);
    const linked = linkSignals([signal, this.#shutdown.signal]);
    const ctx: SendContext = {
      transport: this.#transport,
      host: this.#options.host,
      port: this.#options.port,
      retry: this.#options.retry,
      secrets: this.#options.secrets,
      track,
      onConnectionError: (error) => this.#connectionError(error),
      onRetry: (text) => {
        this.#counters.retries++;
        this.#warn(text);
      },
    };
    try {
      const result = await runSend(ctx, message, linked.signal);
      this.#counters.sent++;
      return result;
    } catch (error) {
      this.#counters.failed++;
      throw error;
    } finally {
      linked.dispose();
    }
  }

  stats(): MailProviderStats {
    const c = this.#counters;
    const { gate, ledger } = this.#slots;
    // Once closing, a free slot can no longer be had: only the slots still lent count.
    const accepting = this.#state === 'new' || this.#state === 'open';
    return {
      size: accepting ? gate.limit : ledger.size,
      inUse: ledger.size,
      idle: accepting ? gate.limit - gate.inUse : 0,
      waiting: gate.waiting,
      pending: 0,
      created: 0,
      destroyed: 0,
      errors: c.errors,
      acquireTimeouts: this.#slots.acquireTimeouts,
      leaks: ledger.leaks,
      acquired: ledger.acquired,
      released: ledger.returned,
      sent: c.sent,
      failed: c.failed,
      retries: c.retries,
    };
  }

  async check(options: { signal?: AbortSignal } = {}): Promise<HealthReport> {
    const started = Date.now();
    let report: HealthReport;
    if (this.#state === 'closing' || this.#state === 'closed') {
      report = { ok: false, latencyMs: 0, error: `provider "${this.name}" is closed` };
    } else {
      try {
        const verified = this.#transport.verify();
        await (options.signal ? raceAbort(verified, options.signal, 'mail check') : verified);
        report = { ok: true, latencyMs: Date.now() - started };
      } catch (error) {
        const message = errorInfo(toMailError(this.#options, error)).message;
        report = { ok: false, latencyMs: Date.now() - started, error: message };
      }
    }
    publishLazy('provider:health', () => ({
      provider: this.name,
      time: Date.now(),
      ok: report.ok,
      latencyMs: report.latencyMs,
      ...(report.error ? { error: { name: 'HealthCheckError', message: report.error } } : {}),
    }));
    return report;
  }

  close(options: CloseOptions = {}): Promise<void> {
    this.#closing ??= this.#closeGracefully(options.timeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS);
    return this.#closing;
  }

  destroy(reason?: unknown): Promise<void> {
    if (this.#state === 'closed' && this.#destroying === undefined) return Promise.resolve();
    this.#destroying ??= Promise.resolve().then(() => this.#shutDown(true, reason));
    return this.#destroying;
  }

  /** Count a lease as leaked (a scope ended with it still out), with the borrower's stack. */
  reportLeak(lease: Lease<MailSlot>, details?: { stack?: string }): void {
    this.#slots.ledger.reportLeak(lease as Lease<SlotHandle>, details);
  }

  describe(): Record<string, unknown> {
    const o = this.#options;
    return {
      host: o.host,
      port: o.port,
      secure: o.secure,
      auth: o.auth !== undefined,
      from: o.from,
      maxConnections: o.maxConnections,
      maxMessages: o.maxMessages,
      connectionTimeoutMs: o.connectionTimeoutMs,
      greetingTimeoutMs: o.greetingTimeoutMs,
      socketTimeoutMs: o.socketTimeoutMs,
      acquireTimeoutMs: o.acquireTimeoutMs,
      maxRetries: o.retry.maxRetries,
      retryDelayMs: o.retry.delayMs,
      tlsVerify: o.tlsRejectUnauthorized,
      leakDetectionMs: o.leakDetectionMs,
    };
  }

  #markOpen(): void {
    if (this.#state !== 'new') return;
    this.#state = 'open';
    publish('provider:open', { provider: this.name, time: Date.now(), kind: this.kind });
    if (!this.#options.tlsRejectUnauthorized) {
      this.#warn(`TLS certificate verification is off for ${this.#options.host}`);
    }
  }

  async #closeGracefully(timeoutMs: number): Promise<void> {
    if (this.#destroying) return this.#destroying;
    if (this.#state !== 'closed') this.#state = 'closing';
    this.#slots.gate.close(closedError(this.name));
    const drained = await this.#slots.waitForReturn(timeoutMs);
    if (this.#destroying) return this.#destroying;
    this.#shutDown(!drained, undefined, !drained);
  }

  /**
   * Close the transport. nodemailer closes idle connections now and busy ones after their
   * current message; it has no way to cut a transfer off, so "forced" means nobody waits for it.
   */
  #shutDown(forced: boolean, reason?: unknown, leaked = false): void {
    this.#slots.gate.close(closedError(this.name));
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    if (forced) {
      const error = new PoolClosedError(`provider "${this.name}" was destroyed`, { cause: reason });
      this.#shutdown.abort(error);
      this.#slots.revokeAll(error, leaked);
    }
    this.#transport.close();
    this.#slots.ledger.close();
    publish('provider:close', { provider: this.name, time: Date.now(), kind: this.kind, forced });
  }

  #connectionError(error: unknown): void {
    this.#counters.errors++;
    publishLazy('resource:error', () => ({
      provider: this.name,
      time: Date.now(),
      error: errorInfo(error),
    }));
  }

  #warn(message: string): void {
    publishLazy('provider:warning', () => ({ provider: this.name, time: Date.now(), message }));
  }
}

class SlotHandle implements MailSlot {
  #live = true;

  constructor(
    readonly slot: number,
    private readonly provider: SmtpMailProvider,
  ) {}

  send(message: MailMessage, options: { signal?: AbortSignal } = {}): Promise<MailSendResult> {
    if (!this.#live) {
      return Promise.reject(
        new LeaseReleasedError(`mail slot ${this.slot} of "${this.provider.name}" was returned`),
      );
    }
    return this.provider.run(message, options.signal);
  }

  retire(): void {
    this.#live = false;
  }
}
