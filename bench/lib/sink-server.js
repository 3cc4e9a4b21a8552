#!/usr/bin/env node
// A receiver that checks nothing: it reads each request body to the end and answers 201. Run as
// a child process, so the server's work runs beside the client being measured instead of taking
// turns with it on one event loop. Prints `{"url": ...}` once listening; exits when stdin closes.
import { createServer } from 'node:http';

const server = createServer((req, res) => {
  let bytes = 0;
  req.on('data', (part) => {
    bytes += part.length;
  });
  req.on('end', () => {
    res.writeHead(201, { 'content-type': 'application/json' });
    res.end(`{"bytes":${bytes}}`);
  });
});

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${port}` })}\n`);
});

process.stdin.resume();
process.stdin.on('end', () => {
  server.close();
  server.closeAllConnections();
});
