import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Options of `monitor.serve()`. */
export interface ServeOptions {
  /** TCP port; 0 picks a free one (read it from `url`). Default 0. */
  port?: number;
  /** Interface to listen on. Default `127.0.0.1`: metrics are not published beyond the host. */
  host?: string;
}

/** A running metrics endpoint. */
export interface MonitorServer {
  /** Base URL, e.g. `http://127.0.0.1:9464`; metrics are at `${url}/metrics`. */
  readonly url: string;
  /** Stop listening and drop open connections. Idempotent. */
  close(): Promise<void>;
}

export interface ServeSource {
  prometheus(): Promise<string>;
  readonly contentType: string;
  snapshot(): unknown;
  table(): string;
}

/**
 * An HTTP server with `/metrics` (Prometheus text), `/snapshot` (JSON) and `/` (the text
 * table). Only GET and HEAD are answered.
 */
export async function startServer(
  source: ServeSource,
  port: number,
  host: string,
): Promise<MonitorServer> {
  const server = createServer((request, response) => {
    void respond(source, request, response);
  });
  await listen(server, port, host);

  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${shownHost}:${address.port}`,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Keep-alive connections (a Prometheus scraper holds one) would hold close() open.
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

async function respond(source: ServeSource, request: IncomingMessage, response: ServerResponse) {
  try {
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      return send(response, 405, 'text/plain; charset=utf-8', 'method not allowed\n', {
        allow: 'GET, HEAD',
      });
    }
    const path = new URL(request.url ?? '/', 'http://monitor.invalid').pathname;
    if (path === '/metrics') {
      return send(response, 200, source.contentType, await source.prometheus());
    }
    if (path === '/snapshot') {
      const body = `${JSON.stringify(source.snapshot())}\n`;
      return send(response, 200, 'application/json; charset=utf-8', body);
    }
    if (path === '/') return send(response, 200, 'text/plain; charset=utf-8', source.table());
    return send(response, 404, 'text/plain; charset=utf-8', 'not found\n');
  } catch {
    // The cause stays out of the response: it is not the scraper's business.
    if (!response.headersSent) send(response, 500, 'text/plain; charset=utf-8', 'internal error\n');
    else response.destroy();
  }
}

function send(
  response: ServerResponse,
  status: number,
  contentType: string,
  body: string,
  headers: Record<string, string> = {},
): void {
  response.writeHead(status, {
    ...headers,
    'content-type': contentType,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  });
  response.end(response.req.method === 'HEAD' ? undefined : body);
}
