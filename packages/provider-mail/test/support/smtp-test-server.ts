import type { AddressInfo, Socket } from 'node:net';
import { SMTPServer, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';

/** A message as the test server received it. */
export interface ReceivedMail {
  from: string;
  to: string[];
  data: string;
}

export interface SmtpTestServer {
  port: number;
  received: ReceivedMail[];
  /** Messages whose DATA began, whether or not they were accepted. */
  dataStarted: number;
  /** Cut the TCP connection of a session at once. */
  drop(session: SMTPServerSession): void;
  close(): Promise<void>;
}

export interface SmtpTestOptions extends SMTPServerOptions {
  /** Per message: undefined accepts, an Error (with responseCode) refuses, 'drop' cuts the line. */
  judge?: (
    mail: ReceivedMail,
    session: SMTPServerSession,
    server: SmtpTestServer,
  ) => Error | 'drop' | undefined;
  /** Listen on this port instead of a free one. */
  port?: number;
}

/** smtp-server on 127.0.0.1 (port 0 by default), plain text, recording what it receives. */
export async function startSmtp(options: SmtpTestOptions = {}): Promise<SmtpTestServer> {
  const { judge, port: wanted = 0, ...serverOptions } = options;
  const sockets = new Map<number, Socket>();
  const state: SmtpTestServer = {
    port: 0,
    received: [],
    dataStarted: 0,
    drop: (session) => sockets.get(session.remotePort)?.destroy(),
    close: async () => {
      for (const socket of sockets.values()) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    closeTimeout: 100,
    ...serverOptions,
    onData(stream, session, callback) {
      state.dataStarted++;
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const mail: ReceivedMail = {
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          data: Buffer.concat(chunks).toString(),
        };
        const verdict = judge?.(mail, session, state);
        if (verdict === 'drop') {
          state.drop(session);
          return;
        }
        if (verdict) return callback(verdict);
        state.received.push(mail);
        callback();
      });
    },
  });
  server.server.on('connection', (socket: Socket) => {
    const port = socket.remotePort ?? 0;
    sockets.set(port, socket);
    socket.on('close', () => sockets.delete(port));
  });
  server.on('error', () => {
    // Dropped connections surface here; the tests look at what the client saw.
  });
  await new Promise<void>((resolve) => server.listen(wanted, '127.0.0.1', resolve));
  state.port = (server.server.address() as AddressInfo).port;
  return state;
}

/** An SMTP-style error with a reply code, as smtp-server sends it back. */
export function smtpError(responseCode: number, message: string): Error {
  return Object.assign(new Error(message), { responseCode });
}

/** A port nothing listens on (it was free a moment ago). */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}
