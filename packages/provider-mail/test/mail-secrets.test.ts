import { createServer } from 'node:net';
import { inspect } from 'node:util';
import { subscribeAll } from '@kaygraph/core';
import { afterEach, describe, expect, it } from 'vitest';
import { MailError, type MailProvider, createMailProvider } from '../src/index.js';
import {
  type SmtpTestServer,
  freePort,
  smtpError,
  startSmtp,
} from './support/smtp-test-server.js';

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
  // Every own field of the error and its causes, however deep.
  parts.push(inspect(error, { depth: 10 }));
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

  it('keep them out of refusals, unreachable and silent servers, aborts and shutdown', async () => {
    const logins: string[] = [];
    smtp = await startSmtp({
      authOptional: false,
      allowInsecureAuth: true,
      authMethods: ['PLAIN', 'LOGIN'],
      onAuth(auth, _session, callback) {
        logins.push(auth.password ?? '');
        callback(undefined, { user: auth.username });
      },
      onRcptTo(address, session, callback) {
        // A careless server that repeats the login in its refusal.
        callback(smtpError(550, `${address.address} unknown to ${session.user} / ${logins[0]}`));
      },
    });
    const silent = createServer((socket) => socket.resume());
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const events: string[] = [];
    stop = subscribeAll((payload, name) => events.push(`${name} ${JSON.stringify(payload)}`));
    const url = (port: number) => `smtp://${USER}:${ENCODED}@127.0.0.1:${port}`;
    const options = { from: 'bot@example.test', retry: { maxRetries: 1, delayMs: 10 } };
    mail = createMailProvider({
      ...options,
      url: url(smtp.port),
      maxConnections: 1,
      acquireTimeoutMs: 30,
    });
    const down = createMailProvider({ ...options, url: url(await freePort()) });
    const mute = createMailProvider({
      ...options,
      url: url((silent.address() as { port: number }).port),
      greetingTimeoutMs: 100,
    });
    const provider = mail;
    const message = { to: 'ann@example.test', subject: 's', text: 't' };

    const errors = [
      await provider.send(message).catch((e: unknown) => e),
      await down.send(message).catch((e: unknown) => e),
      await mute.send(message).catch((e: unknown) => e),
      await provider
        .send(message, { signal: AbortSignal.abort('gave up') })
        .catch((e: unknown) => e),
    ];
    const held = await provider.acquire();
    errors.push(await provider.send(message).catch((e: unknown) => e));
    const reports = [await provider.check(), await down.check(), await mute.check()];
    const described = [provider, down, mute].flatMap((p) => [p.describe(), p.stats()]);
    await provider.close({ timeoutMs: 20 });
    await Promise.all([down.destroy(), mute.destroy()]);
    errors.push(await held.resource.send(message).catch((e: unknown) => e));
    errors.push(await provider.send(message).catch((e: unknown) => e));
    await new Promise<void>((resolve) => silent.close(() => resolve()));

    expect(logins).toContain(PASSWORD);
    expect(errors.map((e) => (e as { code?: string }).code)).toEqual([
      'KG_MAIL',
      'KG_MAIL',
      'KG_MAIL',
      'KG_ABORTED',
      'KG_ACQUIRE_TIMEOUT',
      'KG_LEASE_RELEASED',
      'KG_POOL_CLOSED',
    ]);
    expect((errors[0] as MailError).responseCode).toBe(550);
    const text = [
      ...errors.map(everything),
      ...events,
      ...reports.map((r) => JSON.stringify(r)),
      ...described.map((d) => JSON.stringify(d)),
    ].join('\n');
    expect(text).toContain('unknown to');
    expect(text).toContain('ECONNREFUSED');
    const plain = Buffer.from(`\u0000${USER}\u0000${PASSWORD}`).toString('base64');
    for (const secret of [USER, PASSWORD, ENCODED, plain]) expect(text).not.toContain(secret);
  });
});

describe('an SMTP URL whose password holds an unencoded reserved character', () => {
  it.each([
    ['a "/"', 'smtp://bob:2024/Summer@127.0.0.1:2525', 'Summer'],
    ['a "#"', 'smtps://bob:8080#Frag9@127.0.0.1:2525', 'Frag9'],
    ['a "?"', 'smtp://bob:25?Zq9Secret@127.0.0.1', 'Zq9Secret'],
    ['text that does not parse', 'smtp://bob:abc/Zq9Secret@127.0.0.1:2525', 'Zq9Secret'],
  ])('is refused with its credentials masked: %s', (_what, url, secret) => {
    const events: string[] = [];
    stop = subscribeAll((payload, name) => events.push(`${name} ${JSON.stringify(payload)}`));
    let error: unknown;
    try {
      mail = createMailProvider({ url });
    } catch (e) {
      error = e;
    }

    expect(error).toMatchObject({ code: 'KG_CONFIG_INVALID' });
    expect(String(error)).toContain('"url"');
    expect(String(error)).toContain('percent-encode');
    expect(String(error)).toContain('://***@127.0.0.1');
    expect(mail).toBeUndefined();
    const text = [everything(error), ...events].join('\n');
    for (const shown of [secret, 'bob']) expect(text).not.toContain(shown);
  });
});
