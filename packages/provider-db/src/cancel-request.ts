import { connect } from 'node:net';
import type pg from 'pg';

/** PostgreSQL's CancelRequest code: 1234 in the high 16 bits, 5678 in the low. */
const CANCEL_REQUEST_CODE = 80877102;

/** Where a backend runs, and the key that lets a new connection cancel its statement. */
export interface BackendKey {
  host: string;
  port: number;
  processID: number;
  secretKey: number;
}

/** The backend key pg received at login, or undefined before the connection logged in. */
export function backendKey(client: pg.Client): BackendKey | undefined {
  // pg keeps the key on the client without typing it.
  const { processID, secretKey } = client as unknown as {
    processID?: number | null;
    secretKey?: number | null;
  };
  if (typeof processID !== 'number' || typeof secretKey !== 'number') return undefined;
  return { host: client.host, port: client.port, processID, secretKey };
}

/**
 * Ask PostgreSQL to cancel whatever statement a backend is running, with a CancelRequest on a
 * connection of its own (no login needed). Closing the backend's own connection does not do
 * this: the server notices a departed client only when it next writes to it, so a long
 * statement would run on to its end. The request is sent without TLS, which PostgreSQL accepts;
 * a proxy that insists on TLS refuses it and the statement runs on as before.
 *
 * Never rejects; gives up after `timeoutMs`. A backend that is idle ignores the request.
 */
export function cancelStatement(key: BackendKey, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const socket = key.host.startsWith('/')
      ? connect({ path: `${key.host}/.s.PGSQL.${key.port}` })
      : connect({ host: key.host, port: key.port });
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    timer.unref();
    socket.on('error', () => socket.destroy());
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.once('connect', () => {
      const message = Buffer.alloc(16);
      message.writeInt32BE(16, 0);
      message.writeInt32BE(CANCEL_REQUEST_CODE, 4);
      message.writeInt32BE(key.processID, 8);
      message.writeInt32BE(key.secretKey, 12);
      // The server reads the request and hangs up; there is no answer to wait for.
      socket.end(message);
    });
  });
}
