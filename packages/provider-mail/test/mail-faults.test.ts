import { AbortedError } from '@kaygraph/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  MailError,
  type MailProvider,
  type MailProviderOptions,
  createMailProvider,
} from '../src/index.js';
import {
  type SmtpTestOptions,
  type SmtpTestServer,
  freePort,
  smtpError,
  startSmtp,
} from './support/smtp-test-server.js';

let smtp: SmtpTestServer | undefined;
let mail: MailProvider | undefined;

afterEach(async () => {
  await mail?.destroy();
  mail = undefined;
  await smtp?.close();
  smtp = undefined;
});

const message = (subject: string) => ({
  to: 'ann@example.test',
  subject,
  text: `body of ${subject}`,
});

async function setup(server: SmtpTestOptions, options: Partial<MailProviderOptions> = {}) {
  smtp = await startSmtp(server);
  mail = createMailProvider({
    url: `smtp://127.0.0.1:${smtp.port}`,
    from: 'bot@example.test',
    retry: { maxRetries: 2, delayMs: 10 },
    ...options,
  });
  return { smtp, mail };
}

describe('connection dropped mid-message', () => {
  it('settles with MailError after bounded retries; the next message goes through', async () => {
    const { smtp, mail } = await setup({
      judge: (m) => (m.data.includes('Subject: doomed') ? 'drop' : undefined),
    });

    const error = await mail.send(message('doomed')).catch((e: unknown) => e);
    const next = await mail.send(message('fine'));

    expect(MailError.isInstance(error)).toBe(true);
    expect((error as MailError).code).toBe('KG_MAIL');
    expect((error as MailError).attempts).toBe(3);
    expect((error as MailError).message).toContain(`127.0.0.1:${smtp.port}`);
    expect(next.accepted).toEqual(['ann@example.test']);
    expect(smtp.received.map((m) => m.data.includes('Subject: fine'))).toEqual([true]);
    expect(mail.stats()).toMatchObject({ inUse: 0, failed: 1, sent: 1, retries: 2 });
    expect(mail.stats().errors).toBeGreaterThanOrEqual(3);
  });

  it('is retried into success when only the first transfer is cut', async () => {
    const { smtp, mail } = await setup({
      judge: (_m, _s, server) => (server.dataStarted === 1 ? 'drop' : undefined),
    });

    const result = await mail.send(message('second time lucky'));

    expect(result.attempts).toBe(2);
    expect(smtp.received).toHaveLength(1);
  });
});

describe('rejections', () => {
  it('fails a 5xx at RCPT at once with its responseCode, and sends the next message', async () => {
    const { smtp, mail } = await setup({
      onRcptTo(address, _session, callback) {
        if (address.address === 'nobody@example.test') callback(smtpError(550, 'no such user'));
        else callback();
      },
    });

    const error = await mail
      .send({ to: 'nobody@example.test', subject: 'lost', text: 't' })
      .catch((e: unknown) => e);
    const next = await mail.send(message('found'));

    expect(MailError.isInstance(error)).toBe(true);
    expect((error as MailError).responseCode).toBe(550);
    expect((error as MailError).command).toBe('RCPT TO');
    expect((error as MailError).attempts).toBe(1);
    expect(next.accepted).toEqual(['ann@example.test']);
    expect(smtp.received).toHaveLength(1);
  });

  it('lists a refused recipient next to the accepted ones', async () => {
    const { mail } = await setup({
      onRcptTo(address, _session, callback) {
        callback(address.address.startsWith('x') ? smtpError(550, 'no') : undefined);
      },
    });

    const result = await mail.send({ to: ['ann@example.test', 'x@example.test'], subject: 's' });

    expect(result.accepted).toEqual(['ann@example.test']);
    expect(result.rejected).toEqual(['x@example.test']);
  });

  it('retries a 4xx answer and stops at the limit', async () => {
    const { mail } = await setup({ judge: () => smtpError(451, 'try again later') });

    const error = await mail.send(message('deferred')).catch((e: unknown) => e);

    expect((error as MailError).responseCode).toBe(451);
    expect((error as MailError).attempts).toBe(3);
  });
});

describe('server unreachable', () => {
  it('fails with MailError naming host:port after bounded retries', async () => {
    const port = await freePort();
    mail = createMailProvider({
      url: `smtp://127.0.0.1:${port}`,
      from: 'bot@example.test',
      retry: { maxRetries: 2, delayMs: 10 },
    });

    const error = await mail.send(message('nowhere')).catch((e: unknown) => e);

    expect(MailError.isInstance(error)).toBe(true);
    expect((error as MailError).message).toContain(`127.0.0.1:${port}`);
    expect((error as MailError).attempts).toBe(3);
    expect((error as MailError).host).toBe('127.0.0.1');
    expect((error as MailError).port).toBe(port);
    expect(mail.stats().inUse).toBe(0);
    expect((await mail.check()).ok).toBe(false);
  });

  it('sends once the server comes up within the retry budget', async () => {
    const port = await freePort();
    mail = createMailProvider({
      url: `smtp://127.0.0.1:${port}`,
      from: 'bot@example.test',
      retry: { maxRetries: 20, delayMs: 50 },
    });
    const starting = new Promise<void>((resolve) => {
      setTimeout(async () => {
        smtp = await startSmtp({ port });
        resolve();
      }, 200);
    });

    const result = await mail.send(message('late server'));
    await starting;

    expect(result.attempts).toBeGreaterThan(1);
    expect(smtp?.received).toHaveLength(1);
  });

  it('stops retrying when the signal aborts', async () => {
    const port = await freePort();
    mail = createMailProvider({
      url: `smtp://127.0.0.1:${port}`,
      from: 'bot@example.test',
      retry: { maxRetries: 50, delayMs: 20_000 },
    });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);

    const error = await mail
      .send(message('x'), { signal: controller.signal })
      .catch((e: unknown) => e);

    expect(AbortedError.isInstance(error)).toBe(true);
    expect(mail.stats().inUse).toBe(0);
  });
});

describe('abort mid-transfer', () => {
  it('rejects at once but keeps the slot until the driver is done', async () => {
    const { smtp, mail } = await setup({
      onMailFrom(_address, _session, callback) {
        setTimeout(() => callback(), 300);
      },
    });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);

    const error = await mail
      .send(message('slow'), { signal: controller.signal })
      .catch((e: unknown) => e);
    const inUseAfterAbort = mail.stats().inUse;

    expect(AbortedError.isInstance(error)).toBe(true);
    expect(inUseAfterAbort).toBe(1);
    await vi.waitFor(() => expect(mail.stats().inUse).toBe(0), { timeout: 5_000 });
    // nodemailer cannot cancel a transfer: the message still arrives.
    expect(smtp.received).toHaveLength(1);
  });
});
