import { AbortedError } from '@kaygraph/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MailError, type MailProvider, createMailProvider } from '../src/index.js';
import { type SmtpTestServer, startSmtp } from './support/smtp-test-server.js';

// A send given up mid-conversation leaves its SMTP connection mid-transaction: it must be closed,
// never used for the next message.

let smtp: SmtpTestServer | undefined;
let mail: MailProvider | undefined;

afterEach(async () => {
  await mail?.destroy();
  mail = undefined;
  await smtp?.close();
  smtp = undefined;
});

const message = (subject: string) => ({ to: 'ann@example.test', subject, text: 't' });

/** A server that never answers MAIL FROM for the first message; counts connections. */
async function stallingServer() {
  const sessions: string[] = [];
  const closed: string[] = [];
  let stalled = false;
  smtp = await startSmtp({
    onConnect(session, callback) {
      sessions.push(session.id);
      callback();
    },
    onClose(session) {
      closed.push(session.id);
    },
    onMailFrom(_address, _session, callback) {
      if (stalled) return callback();
      stalled = true; // never answered
    },
  });
  return { smtp, sessions, closed };
}

describe('a send given up mid-conversation', () => {
  it('socket timeout: the connection is closed and the next message gets a new one', async () => {
    const server = await stallingServer();
    mail = createMailProvider({
      url: `smtp://127.0.0.1:${server.smtp.port}`,
      from: 'bot@example.test',
      maxConnections: 1,
      socketTimeoutMs: 200,
      retry: { maxRetries: 0 },
    });

    const error = await mail.send(message('stalled')).catch((e: unknown) => e);
    const next = await mail.send(message('next'));

    expect(MailError.isInstance(error)).toBe(true);
    expect((error as MailError).driverCode).toBe('ETIMEDOUT');
    expect(next.accepted).toEqual(['ann@example.test']);
    expect(server.sessions).toHaveLength(2);
    await vi.waitFor(() => expect(server.closed).toContain(server.sessions[0]));
    expect(server.smtp.received.map((m) => m.data.includes('Subject: next'))).toEqual([true]);
    expect(mail.stats()).toMatchObject({ inUse: 0, failed: 1, sent: 1 });
  });

  it('abort: the caller is freed at once, the slot back when the driver gives up', async () => {
    const server = await stallingServer();
    mail = createMailProvider({
      url: `smtp://127.0.0.1:${server.smtp.port}`,
      from: 'bot@example.test',
      maxConnections: 1,
      socketTimeoutMs: 200,
      retry: { maxRetries: 0 },
    });
    const controller = new AbortController();
    const sending = mail.send(message('stalled'), { signal: controller.signal });
    await vi.waitFor(() => expect(server.sessions).toHaveLength(1));

    controller.abort();

    expect(AbortedError.isInstance(await sending.catch((e: unknown) => e))).toBe(true);
    await vi.waitFor(() => expect(mail?.stats().inUse).toBe(0));
    await expect(mail.send(message('next'))).resolves.toMatchObject({
      accepted: ['ann@example.test'],
    });
    expect(server.sessions).toHaveLength(2);
  });
});
