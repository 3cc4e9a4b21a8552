import type { SMTPServerSession } from 'smtp-server';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type MailProvider, createMailProvider } from '../src/index.js';
import { type SmtpTestServer, startSmtp } from './support/smtp-test-server.js';

// The server hangs up on a pooled connection while it sits idle (a restart, an idle timeout):
// the connection must be dropped from the pool, not handed the next message.

let smtp: SmtpTestServer | undefined;
let mail: MailProvider | undefined;

afterEach(async () => {
  await mail?.destroy();
  mail = undefined;
  await smtp?.close();
  smtp = undefined;
});

const message = (subject: string) => ({ to: 'ann@example.test', subject, text: 't' });

describe('an idle pooled connection the server closed', () => {
  it('is not used again: the next message goes out on a new one, first time', async () => {
    const sessions: SMTPServerSession[] = [];
    const closed: string[] = [];
    smtp = await startSmtp({
      onConnect(session, callback) {
        sessions.push(session);
        callback();
      },
      onClose(session) {
        closed.push(session.id);
      },
    });
    mail = createMailProvider({
      url: `smtp://127.0.0.1:${smtp.port}`,
      from: 'bot@example.test',
      maxConnections: 1,
      retry: { maxRetries: 0 },
    });
    await mail.send(message('first'));

    const server = smtp;
    server.drop(sessions[0] as SMTPServerSession);
    await vi.waitFor(() => expect(closed).toContain(sessions[0]?.id));
    // Let the client's side read the hang-up too, as it would long before the next message.
    await new Promise((resolve) => setTimeout(resolve, 20));
    const next = await mail.send(message('second'));

    expect(next.attempts).toBe(1);
    expect(sessions).toHaveLength(2);
    expect(server.received.map((m) => m.data.includes('Subject: second'))).toEqual([false, true]);
    expect(mail.stats()).toMatchObject({ inUse: 0, sent: 2, failed: 0 });
  });
});
