import { type Server, createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** A node:http server on 127.0.0.1, port 0, that answers `/items/<n>` and counts its sockets. */
export interface LoopbackServer {
  /** `http://127.0.0.1:<port>` */
  readonly origin: string;
  /** Requests answered. */
  readonly requests: number;
  /** Distinct TCP connections the requests arrived on. */
  readonly sockets: number;
  close(): Promise<void>;
}

/**
 * Start the server. `/items/<n>` answers `item <n>` after a short delay (so requests overlap and
 * a pool has to share its connections), anything else answers 404.
 */
export async function startLoopbackServer(): Promise<LoopbackServer> {
  const seen = new Set<Socket>();
  let requests = 0;
  const server: Server = createServer((req, res) => {
    requests++;
    seen.add(req.socket);
    const match = /^\/items\/(\d+)$/.exec(req.url ?? '');
    if (req.method === 'HEAD' || match === null) {
      res.statusCode = match === null && req.method !== 'HEAD' ? 404 : 200;
      res.end(match === null && req.method !== 'HEAD' ? 'no such item' : undefined);
      return;
    }
    setTimeout(() => res.end(`item ${match[1]}`), 5);
  });
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    get requests() {
      return requests;
    },
    get sockets() {
      return seen.size;
    },
    close() {
      server.closeAllConnections();
      return new Promise((done) => server.close(() => done()));
    },
  };
}
