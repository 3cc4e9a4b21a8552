import { type AddressInfo, type Server, type Socket, connect, createServer } from 'node:net';

/** A proxy in front of PostgreSQL that cuts a cursor's connection at its most fragile moment. */
export interface CursorCutProxy {
  /** The server URL through the proxy, with `database` in it. */
  url(database: string): string;
  /** Connections cut so far. */
  cuts(): number;
  /** Stop listening and drop every connection. Idempotent. */
  close(): Promise<void>;
}

export interface CursorCutProxyOptions {
  /** The real server, as a database URL. */
  serverUrl: string;
  /** How many cursors to cut; later ones pass untouched. Default 1. */
  cuts?: number;
}

/**
 * Forward connections to PostgreSQL, reading the server's messages as they pass. On a connection
 * that streamed rows through a cursor (it received `PortalSuspended`), the cursor's final
 * `CommandComplete` is forwarded and the connection is cut at once, before the `ReadyForQuery`
 * the client waits for. A backend terminated at that moment leaves the client in the same state;
 * the proxy makes that moment happen on every run instead of once in many.
 */
export async function startCursorCutProxy(options: CursorCutProxyOptions): Promise<CursorCutProxy> {
  const target = new URL(options.serverUrl);
  const sockets = new Set<Socket>();
  let cutsLeft = options.cuts ?? 1;
  let cuts = 0;

  const server = createServer((client) => {
    const upstream = connect(Number(target.port || 5432), target.hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      // A cut connection errors on both sides; that is the point.
      socket.on('error', () => {});
    }
    client.pipe(upstream);
    forwardServerMessages(upstream, client, () => {
      if (cutsLeft === 0) return false;
      cutsLeft -= 1;
      cuts += 1;
      return true;
    });
    upstream.on('close', () => client.destroy());
    client.on('close', () => upstream.destroy());
  });
  await listen(server);
  const { port } = server.address() as AddressInfo;
  let closed: Promise<void> | undefined;

  return {
    url(database) {
      const url = new URL(options.serverUrl);
      url.hostname = '127.0.0.1';
      url.port = String(port);
      url.pathname = `/${database}`;
      return url.toString();
    },
    cuts: () => cuts,
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
      return closed;
    },
  };
}

/** Message types of the PostgreSQL protocol the proxy looks for. */
const PORTAL_SUSPENDED = 0x73; // 's'
const COMMAND_COMPLETE = 0x43; // 'C'

/**
 * Pass whole server messages on to the client; after a cursor's final `CommandComplete`, ask
 * `shouldCut` and, if so, end both sides instead of passing anything more.
 */
function forwardServerMessages(from: Socket, to: Socket, shouldCut: () => boolean): void {
  let pending: Buffer = Buffer.alloc(0);
  let streamedRows = false;

  from.on('data', (data: Buffer) => {
    pending = pending.length === 0 ? data : Buffer.concat([pending, data]);
    let start = 0;
    while (pending.length - start >= 5) {
      const type = pending[start]!;
      const end = start + 1 + pending.readInt32BE(start + 1);
      if (end > pending.length) break;
      if (type === PORTAL_SUSPENDED) streamedRows = true;
      const cursorDone =
        streamedRows && type === COMMAND_COMPLETE && isSelectTag(pending, start, end);
      if (cursorDone && shouldCut()) {
        // The client gets everything up to the CommandComplete, then the end of the stream;
        // the backend goes once that is flushed.
        from.pause();
        from.removeAllListeners('data');
        to.end(pending.subarray(0, end), () => from.destroy());
        return;
      }
      start = end;
    }
    if (start > 0) to.write(pending.subarray(0, start));
    pending = pending.subarray(start);
  });
}

/** The command tag of a CommandComplete is a C string after the 5-byte header. */
function isSelectTag(buffer: Buffer, start: number, end: number): boolean {
  return buffer.toString('latin1', start + 5, end - 1).startsWith('SELECT');
}

function listen(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
}
