import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';

export interface SmtpCaptureOptions {
  /** Folder each received message is written to, as `<n>-<time>.eml`. Created if missing. */
  outbox: string;
  /** Interface to listen on. Default `127.0.0.1`. */
  host?: string;
  /** Port to listen on. Default 0 (any free port). */
  port?: number;
  /** Refuse connections (421) this long after start, to play a server that is down. Default 0. */
  refuseForMs?: number;
}

/** One captured message. */
export interface CapturedMessage {
  path: string;
  from: string;
  to: string[];
  bytes: number;
}

/** A running SMTP capture server. */
export interface SmtpCapture {
  /** `smtp://127.0.0.1:<port>`: no TLS, no authentication, loopback only. */
  readonly url: string;
  readonly outbox: string;
  messages(): readonly CapturedMessage[];
  /** Connections refused while playing down. */
  refused(): number;
  /**
   * Play down (refuse connections with 421) for `ms` from now, replacing the window set so far;
   * 0 brings the server back at once. Lets a test keep the server down until a chosen moment.
   */
  refuseFor(ms: number): void;
  /** Stop listening and close open sessions. Idempotent. */
  close(): Promise<void>;
}

/**
 * Start a local SMTP server (the smtp-server package) that accepts every message and writes it to
 * the outbox folder, so the demo can mail its summary with no mail service installed.
 */
export async function startSmtpCapture(options: SmtpCaptureOptions): Promise<SmtpCapture> {
  await mkdir(options.outbox, { recursive: true });
  const captured: CapturedMessage[] = [];
  let refuseUntil = Date.now() + (options.refuseForMs ?? 0);
  let refused = 0;

  const server = new SMTPServer({
    // Loopback capture for a demo: plain text is fine and TLS would need a certificate.
    disabledCommands: ['STARTTLS', 'AUTH'],
    authOptional: true,
    logger: false,
    closeTimeout: 1000,
    onConnect(_session, callback) {
      if (Date.now() < refuseUntil) {
        refused += 1;
        const refusal = Object.assign(new Error('capture server not ready'), { responseCode: 421 });
        return callback(refusal);
      }
      callback();
    },
    onData(stream, session, callback) {
      const path = join(options.outbox, `${captured.length + 1}-${Date.now()}.eml`);
      saveMessage(stream, path, session).then(
        (message) => {
          captured.push(message);
          callback(null, `stored as ${path}`);
        },
        (error: Error) => callback(error),
      );
    },
  });
  server.on('error', () => {
    // A client dropping its connection is reported here; the capture keeps serving.
  });

  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const { address, port } = server.server.address() as AddressInfo;
  let closed: Promise<void> | undefined;

  return {
    url: `smtp://${address}:${port}`,
    outbox: options.outbox,
    messages: () => captured,
    refused: () => refused,
    refuseFor(ms) {
      refuseUntil = Date.now() + ms;
    },
    close() {
      closed ??= new Promise<void>((resolve) => server.close(() => resolve()));
      return closed;
    },
  };
}

async function saveMessage(
  stream: SMTPServerDataStream,
  path: string,
  session: SMTPServerSession,
): Promise<CapturedMessage> {
  const file = createWriteStream(path, { mode: 0o600 });
  await pipeline(stream, file);
  const from = session.envelope.mailFrom;
  return {
    path,
    from: from === false ? '' : from.address,
    to: session.envelope.rcptTo.map((rcpt) => rcpt.address),
    bytes: file.bytesWritten,
  };
}
