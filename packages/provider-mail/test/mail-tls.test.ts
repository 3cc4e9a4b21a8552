import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { subscribe } from '@kaygraph/core';
import { SMTPServer } from 'smtp-server';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MailError, type MailProvider, createMailProvider } from '../src/index.js';

// A real SMTPS server whose certificate nobody vouches for (self-signed, for 127.0.0.1). Not
// the shared test server: destroying the TCP socket under a TLS socket whose handshake failed
// crashes Node 20 (a segfault), so this one lets its sockets close on their own.

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url));
const message = { from: 'bot@example.test', to: 'ann@example.test', subject: 's', text: 't' };

let server: SMTPServer;
let port: number;
let received: number;
let mail: MailProvider | undefined;
let warnings: string[];
let stop: () => void;

beforeEach(async () => {
  received = 0;
  server = new SMTPServer({
    secure: true,
    key: fixture('self-signed-key.pem'),
    cert: fixture('self-signed-cert.pem'),
    authOptional: true,
    logger: false,
    closeTimeout: 100,
    onData(stream, _session, callback) {
      stream.resume();
      stream.on('end', () => {
        received++;
        callback();
      });
    },
  });
  // The refused handshakes surface here; the tests look at what the client saw.
  server.on('error', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.server.address() as AddressInfo).port;
  warnings = [];
  stop = subscribe('provider:warning', (e) => warnings.push(e.message));
});

afterEach(async () => {
  stop();
  await mail?.destroy();
  mail = undefined;
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('TLS certificate verification', () => {
  it('is on by default: a certificate nobody vouches for is refused', async () => {
    mail = createMailProvider({ url: `smtps://127.0.0.1:${port}`, retry: { maxRetries: 0 } });

    const error = await mail.send(message).catch((e: unknown) => e);

    expect(MailError.isInstance(error)).toBe(true);
    expect((error as MailError).message).toMatch(/self[- ]signed certificate/);
    expect(received).toBe(0);
    expect(mail.describe()).toMatchObject({ secure: true, tlsVerify: true });
    expect(warnings).toEqual([]);
  });

  it('is off only when asked, and then shows in describe() and a warning', async () => {
    mail = createMailProvider({ url: `smtps://127.0.0.1:${port}`, tlsRejectUnauthorized: false });

    const result = await mail.send(message);

    expect(result.accepted).toEqual(['ann@example.test']);
    expect(received).toBe(1);
    expect(mail.describe().tlsVerify).toBe(false);
    expect(warnings).toEqual(['TLS certificate verification is off for 127.0.0.1']);
  });
});
