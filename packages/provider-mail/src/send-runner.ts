import { KayGraphError, abortError, raceAbort, redactText, sleep } from '@kaygraph/core';
import type { Transporter } from 'nodemailer';
import type SMTPPool from 'nodemailer/lib/smtp-pool/index.js';
import { MailError } from './mail-errors.js';
import type { PreparedMessage } from './mail-message.js';
import type { MailRetryOptions } from './mail-options.js';

/** What the server said about a message it took. */
export interface MailSendResult {
  /** The Message-ID the message went out with. */
  messageId: string;
  /** The server's final reply, e.g. `250 OK: queued`. */
  response: string;
  /** Recipients the server accepted. */
  accepted: string[];
  /** Recipients the server refused (the message still went to the accepted ones). */
  rejected: string[];
  /** Attempts it took, retries included. */
  attempts: number;
}

/** What a send run needs from its provider. */
export interface SendContext {
  transport: Transporter<SMTPPool.SentMessageInfo>;
  host: string;
  port: number;
  retry: Required<MailRetryOptions>;
  secrets: string[];
  /** Called with every driver send, so the provider can hold its slot until the send settles. */
  track(sending: Promise<unknown>): void;
  /** Called with each connection-level failure, before deciding on a retry. */
  onConnectionError(error: MailError): void;
  /** Called before each retry wait, with a message free of secrets. */
  onRetry(message: string): void;
}

/** Send a message, retrying connection failures and transient (4xx) refusals. */
export async function runSend(
  ctx: SendContext,
  message: PreparedMessage,
  signal: AbortSignal,
): Promise<MailSendResult> {
  for (let attempt = 1; ; attempt++) {
    try {
      const info = await sendOnce(ctx, message, signal);
      return {
        messageId: info.messageId,
        response: info.response,
        accepted: info.accepted.map(addressOf),
        rejected: info.rejected.map(addressOf),
        attempts: attempt,
      };
    } catch (error) {
      if (!(error instanceof MailError)) throw error;
      error.attempts = attempt;
      if (isConnectionFailure(error)) ctx.onConnectionError(error);
      if (attempt > ctx.retry.maxRetries || !isTransient(error)) throw error;
      ctx.onRetry(
        `${error.message}; retry ${attempt} of ${ctx.retry.maxRetries} in ${ctx.retry.delayMs} ms`,
      );
      await sleep(ctx.retry.delayMs, signal, 'mail retry wait');
    }
  }
}

function sendOnce(
  ctx: SendContext,
  message: PreparedMessage,
  signal: AbortSignal,
): Promise<SMTPPool.SentMessageInfo> {
  if (signal.aborted) return Promise.reject(abortError(signal, 'mail send'));
  const sending = ctx.transport.sendMail(message);
  ctx.track(sending);
  // nodemailer cannot cancel a message mid-transfer; an abort stops the wait, and the
  // provider keeps the slot until the driver is done with it.
  const answer = sending.catch((error: unknown) => Promise.reject(toMailError(ctx, error)));
  return raceAbort(answer, signal, 'mail send');
}

interface DriverError {
  message?: unknown;
  code?: unknown;
  responseCode?: unknown;
  command?: unknown;
}

/** A nodemailer error as a MailError naming host:port, with the credentials masked out. */
export function toMailError(
  ctx: Pick<SendContext, 'host' | 'port' | 'secrets'>,
  error: unknown,
): unknown {
  if (error instanceof Error && KayGraphError.isInstance(error)) return error;
  const e = (typeof error === 'object' && error !== null ? error : {}) as DriverError;
  const text = redactText(String(e.message ?? error), ctx.secrets);
  const responseCode = typeof e.responseCode === 'number' ? e.responseCode : undefined;
  const command = typeof e.command === 'string' ? e.command : undefined;
  // nodemailer gives no code when its pool gave up on a connection that closed mid-message.
  const closedMidMessage = /connection was closed/i.test(text) ? 'ECONNECTION' : undefined;
  const driverCode = typeof e.code === 'string' ? e.code : closedMidMessage;

  // The driver's own error is not kept as the cause: its message and `response` carry the
  // server's words verbatim, and a server may echo the credentials.
  const cause = new Error(text);
  return new MailError(`mail via ${ctx.host}:${ctx.port} failed: ${text}`, {
    host: ctx.host,
    port: ctx.port,
    cause,
    ...(responseCode !== undefined ? { responseCode } : {}),
    ...(command !== undefined ? { command } : {}),
    ...(driverCode !== undefined ? { driverCode } : {}),
  });
}

const CONNECTION_CODES = new Set([
  'ECONNECTION',
  'ETIMEDOUT',
  'ESOCKET',
  'EDNS',
  'ECONNREFUSED',
  'ECONNRESET',
]);

/** The connection failed (as opposed to the server refusing the message). */
export function isConnectionFailure(error: MailError): boolean {
  return error.driverCode !== undefined && CONNECTION_CODES.has(error.driverCode);
}

/**
 * Worth another attempt: a 4xx answer ("try again later"), or a connection failure with no
 * answer. A 5xx answer is permanent: sending again would be refused again.
 */
export function isTransient(error: MailError): boolean {
  const reply = error.responseCode;
  if (reply !== undefined) return reply >= 400 && reply < 500;
  return isConnectionFailure(error);
}

/**
 * True for a failed send worth trying again later: a `MailError` with a 4xx reply ("try again
 * later"), or a connection that failed before the server answered (refused, reset, timed out). A
 * 5xx reply, such as a 554 greeting or a 535 authentication failure, would be given again.
 */
export function isTransientMailError(error: unknown): boolean {
  return MailError.isInstance(error) && isTransient(error);
}

function addressOf(entry: string | { address: string }): string {
  return typeof entry === 'string' ? entry : entry.address;
}
