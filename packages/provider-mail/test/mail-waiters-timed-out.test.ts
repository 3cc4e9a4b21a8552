import { AcquireTimeoutError } from '@kaygraph/core';
import { afterEach, describe, expect, it } from 'vitest';
import { type MailProvider, createMailProvider } from '../src/index.js';
import { type SmtpTestServer, startSmtp } from './support/smtp-test-server.js';

let smtp: SmtpTestServer | undefined;
let mail: MailProvider | undefined;

afterEach(async () => {
  await mail?.destroy();
  mail = undefined;
  await smtp?.close();
  smtp = undefined;
});

const message = { from: 'bot@example.test', to: 'ann@example.test', subject: 's', text: 't' };

describe('after waiters timed out', () => {
  it('a later acquire gets the slot as soon as it is released', async () => {
    smtp = await startSmtp();
    mail = createMailProvider({
      url: `smtp://127.0.0.1:${smtp.port}`,
      maxConnections: 1,
      acquireTimeoutMs: 20,
    });
    const holder = await mail.acquire();
    const gaveUp = await Promise.all(
      [1, 2, 3].map(() => (mail as MailProvider).send(message).catch((e: unknown) => e)),
    );
    expect(gaveUp.every((e) => AcquireTimeoutError.isInstance(e))).toBe(true);
    expect(mail.stats()).toMatchObject({ acquireTimeouts: 3, waiting: 0 });

    const later = mail.acquire({ timeoutMs: 600_000 });
    expect(mail.stats().waiting).toBe(1);
    await holder.release();
    const lease = await later;

    expect(lease.resource.slot).toBe(holder.resource.slot);
    await expect(lease.resource.send(message)).resolves.toMatchObject({
      accepted: ['ann@example.test'],
    });
    expect(mail.stats()).toMatchObject({ inUse: 1, waiting: 0 });
    await lease.release();
  });
});
