import { type Server, type Socket, connect, createServer } from 'node:net';

/**
 * A TCP proxy on 127.0.0.1 in front of a PostgreSQL server whose new connections can be held
 * back: a connect through it then neither fails nor finishes until the test says so. Lets a test
 * make a connect slow (hold, then `pass()`) or never settle (hold forever) on a real server.
 */
export interface TcpProxy {
  /** The target's URL with host and port pointing at the proxy. */
  url: string;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Connections being held back right now. */
  readonly held: number;
  /** Hold every new connection from now on. */
  hold(): void;
  /** Forward the connections held so far, and every new one from now on. */
  pass(): void;
  close(): Promise<void>;
}

export async function startProxy(targetUrl: string): Promise<TcpProxy> {
  const target = new URL(targetUrl);
  const upstream = { host: target.hostname, port: Number(target.port || 5432) };
  const sockets = new Set<Socket>();
  const waiting: { socket: Socket; buffered: Buffer[] }[] = [];
  let holding = false;
  let accepted = 0;

  const forward = (socket: Socket, buffered: Buffer[]) => {
    const server = connect(upstream);
    sockets.add(server);
    for (const chunk of buffered) server.write(chunk);
    socket.pipe(server).pipe(socket);
    const end = () => {
      socket.destroy();
      server.destroy();
    };
    socket.on('error', end).on('close', end);
    server.on('error', end).on('close', end);
  };

  const proxy: Server = createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    if (!holding) return forward(socket, []);
    // Read and keep what the client sends, so its startup message waits here with it.
    const entry = { socket, buffered: [] as Buffer[] };
    waiting.push(entry);
    socket.on('data', (chunk: Buffer) => entry.buffered.push(chunk));
    socket.on('error', () => socket.destroy());
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const { port } = proxy.address() as { port: number };
  const url = new URL(targetUrl);
  url.hostname = '127.0.0.1';
  url.port = String(port);

  return {
    url: url.toString(),
    get accepted() {
      return accepted;
    },
    get held() {
      return waiting.filter((entry) => !entry.socket.destroyed).length;
    },
    hold() {
      holding = true;
    },
    pass() {
      holding = false;
      for (const { socket, buffered } of waiting.splice(0)) {
        if (socket.destroyed) continue;
        socket.removeAllListeners('data');
        forward(socket, buffered);
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        proxy.close(() => resolve());
      }),
  };
}
