import { type Socket, createServer } from 'node:net';

/**
 * A careless PostgreSQL server on 127.0.0.1: it asks for the password in clear text and refuses
 * the login with an error that repeats the password it was sent. The worst a real server (or a
 * proxy in front of one) could do with a secret, for tests that look for it in our output.
 */
export interface EchoPgServer {
  url(user: string, password: string, database: string): string;
  port: number;
  /** Passwords the server received, to prove the secret really went through it. */
  received: string[];
  close(): Promise<void>;
}

export async function startEchoPgServer(): Promise<EchoPgServer> {
  const received: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let askedForPassword = false;
    socket.on('data', (data: Buffer) => {
      if (!askedForPassword) {
        askedForPassword = true;
        socket.write(authenticationCleartextPassword());
        return;
      }
      // PasswordMessage: 'p', int32 length, the password, a NUL.
      const password = data.subarray(5, data.length - 1).toString();
      received.push(password);
      socket.end(fatal('28P01', `password authentication failed: "${password}" is wrong`));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    port,
    received,
    url: (user, password, database) =>
      `postgres://${user}:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

function authenticationCleartextPassword(): Buffer {
  const message = Buffer.alloc(9);
  message.write('R', 0);
  message.writeInt32BE(8, 1);
  message.writeInt32BE(3, 5);
  return message;
}

function fatal(sqlState: string, text: string): Buffer {
  const fields = Buffer.from(`SFATAL\0VFATAL\0C${sqlState}\0M${text}\0\0`);
  const head = Buffer.alloc(5);
  head.write('E', 0);
  head.writeInt32BE(fields.length + 4, 1);
  return Buffer.concat([head, fields]);
}
