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

const message = { to: 'ann@example.test', subject: 's', text: 't' };

async function sentOnce(): Promise<MailProvider> {
  smtp = await startSmtp();
  mail = createMailProvider({
    url: `smtp://127.0.0.1:${smtp.port}`,
    from: 'bot@example.test',
    maxConnections: 2,
  });
  await mail.send(message);
  return mail;
}

describe('stats', () => {
  it('counts send slots while open: size is maxConnections, idle the slots not lent', async () => {
    const provider = await sentOnce();
    const lease = await provider.acquire();

    expect(provider.stats()).toMatchObject({ size: 2, inUse: 1, idle: 1 });
    await lease.release();
    expect(provider.stats()).toMatchObject({ size: 2, inUse: 0, idle: 2 });
  });

  it('shows every slot gone after close: size, idle and inUse are 0', async () => {
    const provider = await sentOnce();

    await provider.close();

    expect(provider.stats()).toMatchObject({ size: 0, inUse: 0, idle: 0, waiting: 0, sent: 1 });
  });

  it('shows every slot gone after destroy, a lent one included', async () => {
    const provider = await sentOnce();
    await provider.acquire();

    await provider.destroy();

    expect(provider.stats()).toMatchObject({ size: 0, inUse: 0, idle: 0, waiting: 0 });
  });
});
