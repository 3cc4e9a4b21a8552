import { ConfigInvalidError, checkObject, checkString, rejectUnknownKeys } from '@kaygraph/core';

/** One or more addresses: `a@example.com`, `"Ann" <a@example.com>`, or a list of them. */
export type MailAddresses = string | readonly string[];

/** A message to send. */
export interface MailMessage {
  /** Sender. Default: the provider's `from` option. */
  from?: string;
  /** Recipients. Required. */
  to: MailAddresses;
  /** Copy recipients. */
  cc?: MailAddresses;
  /** Blind-copy recipients (in the envelope, not the headers). */
  bcc?: MailAddresses;
  /** Where replies should go. */
  replyTo?: string;
  /** Subject line (may be empty). */
  subject: string;
  /** Plain-text body. */
  text?: string;
  /** HTML body. */
  html?: string;
  /** Extra message headers, e.g. `{ 'X-Run-Id': runId }`. */
  headers?: Record<string, string>;
}

/** The message in the shape nodemailer takes, checked. */
export interface PreparedMessage {
  from: string;
  to: string[];
  cc?: string[];
  bcc?: string[];
  replyTo?: string;
  subject: string;
  text?: string;
  html?: string;
  headers?: Record<string, string>;
}

const WHERE = 'mail.send';
const KEYS = ['from', 'to', 'cc', 'bcc', 'replyTo', 'subject', 'text', 'html', 'headers'] as const;

/** Check a message before it takes a slot, so a bad message fails at once and is never retried. */
export function prepareMessage(input: unknown, defaultFrom: string | undefined): PreparedMessage {
  const message = checkObject(WHERE, input);
  rejectUnknownKeys(WHERE, message, KEYS);
  const from = message.from === undefined ? defaultFrom : checkString(WHERE, 'from', message.from);
  if (from === undefined) {
    throw new ConfigInvalidError(`${WHERE}: the message has no "from" and the provider no default`);
  }
  if (typeof message.subject !== 'string') {
    throw new ConfigInvalidError(`${WHERE}: option "subject" must be a string`);
  }
  const prepared: PreparedMessage = {
    from,
    to: addresses('to', message.to, true) as string[],
    subject: message.subject,
  };
  const cc = addresses('cc', message.cc, false);
  const bcc = addresses('bcc', message.bcc, false);
  if (cc) prepared.cc = cc;
  if (bcc) prepared.bcc = bcc;
  for (const key of ['replyTo', 'text', 'html'] as const) {
    if (message[key] !== undefined) prepared[key] = optionalText(key, message[key]);
  }
  if (message.headers !== undefined) prepared.headers = headers(message.headers);
  return prepared;
}

function addresses(name: string, value: unknown, required: boolean): string[] | undefined {
  if (value === undefined && !required) return undefined;
  const list = typeof value === 'string' ? [value] : value;
  const ok =
    Array.isArray(list) &&
    list.length > 0 &&
    list.every((item) => typeof item === 'string' && item.trim() !== '');
  if (!ok) {
    throw new ConfigInvalidError(
      `${WHERE}: option "${name}" must be an address or a non-empty list of addresses`,
    );
  }
  return [...(list as string[])];
}

function optionalText(name: string, value: unknown): string {
  if (typeof value !== 'string') {
    throw new ConfigInvalidError(`${WHERE}: option "${name}" must be a string`);
  }
  return value;
}

function headers(value: unknown): Record<string, string> {
  const input = checkObject(`${WHERE}: option "headers"`, value);
  for (const [name, item] of Object.entries(input)) {
    if (typeof item !== 'string') {
      throw new ConfigInvalidError(`${WHERE}: header "${name}" must be a string`);
    }
  }
  return { ...(input as Record<string, string>) };
}
