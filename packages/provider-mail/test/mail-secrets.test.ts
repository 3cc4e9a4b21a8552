import { subscribeAll } from '@kaygraph/core';
import { afterEach, describe, expect, it } from 'vitest';
import { MailError, type MailProvider, createMailProvider } from '../src/index.js';
import { type SmtpTestServer, smtpError, startSmtp } from './support/smtp-test-server.js';

const USER = 'mailbot-7x';
const PASSWORD = 's3cr3t/p@ss-Q9';
const ENCODED = encodeURIComponent(PASSWORD);

let smtp: SmtpTestServer | undefined;
let mail: MailProvider | undefined;
let stop: (() => void) | undefined;

afterEach(async () => {
  stop?.();
  await mail?.destroy();
  mail = undefined;
  await smtp?.close();
  smtp = undefined;
});

function everything(error: unknown): string {
  const parts: string[] = [];
  for (let e = error, depth = 0; e instanceof Error && depth < 5; depth++, e = e.cause) {
    parts.push(e.message, String(e), e.stack ?? '', JSON.stringify(e));
  }
  return parts.join('\n');
}

describe('secrets', () => {
  it('keep the user and password out of errors, events, reports and describe()', async () => {
    const seenLogins: string[] = [];
    smtp = await startSmtp({
      authOptional: false,
      allowInsecureAuth: true,
      authMethods: ['PLAIN', 'LOGIN'],
      onAuth(auth, _session, callback) {
        seenLogins.push(`${auth.username}:${auth.password}`);
        // A careless server that echoes what it was sent.
        callback(smtpError(535, `bad password ${auth.password} for ${auth.username}`));
      },
    });
    const events: string[] = [];
    stop = subscribeAll((payload, name) => events.push(`${name} ${JSON.stringify(payload)}`));
    mail = createMailProvider({
      url: `smtp://${USER}:${ENCODED}@127.0.0.1:${smtp.port}`,
      from: 'bot@example.test',
      retry: { maxRetries: 1, delayMs: 10 },
    });

    const error = await mail
      .send({ to: 'ann@example.test', subject: 's', text: 't' })
      .catch((e: unknown) => e);
    const report = await mail.check();

    expect(seenLogins[0]).toBe(`${USER}:${PASSWORD}`);
    expect(MailError.isInstance(error)).toBe(true);
    expect((error as MailError).responseCode).toBe(535);
    expect(report.ok).toBe(false);
    const described = JSON.stringify(mail.describe());
    const text = [everything(error), ...events, JSON.stringify(report), described].join('\n');
    expect(text).toContain('bad password');
    expect(text).toContain(`127.0.0.1:${smtp.port}`);
    for (const secret of [USER, PASSWORD, ENCODED]) expect(text).not.toContain(secret);
  });

  it('keep them out of config errors', () => {
    let error: unknown;
    try {
      createMailProvider({ url: `http://${USER}:${ENCODED}@127.0.0.1:25` });
    } catch (e) {
      error = e;
    }

    expect(String(error)).toContain('smtp:');
    for (const secret of [USER, PASSWORD, ENCODED]) expect(everything(error)).not.toContain(secret);
  });
});
