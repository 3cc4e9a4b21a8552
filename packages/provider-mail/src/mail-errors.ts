import { KayGraphError, type KayGraphErrorOptions } from '@kaygraph/core';

/** What a {@link MailError} says about the failed send. */
export interface MailErrorOptions extends KayGraphErrorOptions {
  /** SMTP server host. */
  host: string;
  /** SMTP server port. */
  port: number;
  /** The server's reply code, e.g. `550`, when the server answered. */
  responseCode?: number;
  /** The SMTP command that failed, e.g. `RCPT TO`, or `CONN` for the connection. */
  command?: string;
  /** nodemailer's error code, e.g. `ECONNECTION`, `EENVELOPE`, `EAUTH`. */
  driverCode?: string;
  /** Attempts made, retries included. Default `1`. */
  attempts?: number;
}

/**
 * A message could not be sent: the server was unreachable or rejected it. The message names
 * the server's host and port, never its user or password.
 */
export class MailError extends KayGraphError {
  static override readonly code = 'KG_MAIL';

  /** SMTP server host. */
  readonly host: string;
  /** SMTP server port. */
  readonly port: number;
  /** The server's reply code (`550`, `421`...), when the server answered. */
  readonly responseCode: number | undefined;
  /** The SMTP command that failed, e.g. `RCPT TO`, or `CONN` for the connection. */
  readonly command: string | undefined;
  /** nodemailer's error code, e.g. `ECONNECTION`, `EENVELOPE`, `EAUTH`. */
  readonly driverCode: string | undefined;
  /** Attempts made before giving up, retries included. */
  attempts: number;

  constructor(message: string, options: MailErrorOptions) {
    super(message, options);
    this.host = options.host;
    this.port = options.port;
    this.responseCode = options.responseCode;
    this.command = options.command;
    this.driverCode = options.driverCode;
    this.attempts = options.attempts ?? 1;
  }
}
