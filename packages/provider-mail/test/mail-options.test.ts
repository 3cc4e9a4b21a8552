import { ConfigInvalidError, subscribe } from '@kaygraph/core';
import { afterEach, describe, expect, it } from 'vitest';
import { type MailProvider, type MailProviderOptions, createMailProvider } from '../src/index.js';

let mail: MailProvider | undefined;

afterEach(async () => {
  await mail?.destroy();
  mail = undefined;
});

const url = 'smtp://127.0.0.1:2525';

function configError(options: unknown): unknown {
  try {
    mail = createMailProvider(options as MailProviderOptions);
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('options', () => {
  it.each([
    ['no url', {}],
    ['a url that is not a URL', { url: 'mail server' }],
    ['another scheme', { url: 'http://127.0.0.1:25' }],
    ['a path in the url', { url: 'smtp://127.0.0.1/inbox' }],
    ['a query in the url', { url: 'smtp://127.0.0.1?pool=true' }],
    ['an unknown option', { url, pool: true }],
    ['zero maxConnections', { url, maxConnections: 0 }],
    ['a fractional maxMessages', { url, maxMessages: 2.5 }],
    ['a zero timeout', { url, socketTimeoutMs: 0 }],
    ['an unknown retry option', { url, retry: { attempts: 2 } }],
    ['a negative retry delay', { url, retry: { delayMs: -1 } }],
    ['a non-boolean TLS flag', { url, tlsRejectUnauthorized: 1 }],
    ['an empty from', { url, from: '' }],
  ])('rejects %s with ConfigInvalidError', (_what, options) => {
    const error = configError(options);

    expect(ConfigInvalidError.isInstance(error)).toBe(true);
    expect((error as ConfigInvalidError).code).toBe('KG_CONFIG_INVALID');
  });

  it('names the bad option', () => {
    expect(String(configError({ url, maxConnections: 0 }))).toContain('"maxConnections"');
    expect(String(configError({ url, retry: { maxRetries: -1 } }))).toContain('"maxRetries"');
  });

  it('fills in the documented defaults', () => {
    mail = createMailProvider({ url });

    expect(mail.name).toBe('mail');
    expect(mail.state).toBe('new');
    expect(mail.describe()).toEqual({
      host: '127.0.0.1',
      port: 2525,
      secure: false,
      auth: false,
      from: undefined,
      maxConnections: 2,
      maxMessages: 100,
      connectionTimeoutMs: 10_000,
      greetingTimeoutMs: 10_000,
      socketTimeoutMs: 30_000,
      acquireTimeoutMs: 30_000,
      maxRetries: 3,
      retryDelayMs: 500,
      tlsVerify: true,
      leakDetectionMs: 0,
    });
    expect(mail.stats()).toMatchObject({ size: 2, idle: 2, inUse: 0, waiting: 0 });
  });

  it('reads TLS mode, default port and credentials from the url', () => {
    mail = createMailProvider({ url: 'smtps://bot:pw@mail.example.test', name: 'alerts' });

    expect(mail.name).toBe('alerts');
    expect(mail.describe()).toMatchObject({
      host: 'mail.example.test',
      port: 465,
      secure: true,
      auth: true,
    });
    expect(createMailProvider({ url: 'smtp://mail.example.test' }).describe().port).toBe(25);
  });

  it('shows and warns when TLS verification is turned off', async () => {
    const warnings: string[] = [];
    const stop = subscribe('provider:warning', (e) => warnings.push(e.message));
    mail = createMailProvider({ url: 'smtps://127.0.0.1', tlsRejectUnauthorized: false });

    await mail.open();
    stop();

    expect(mail.describe().tlsVerify).toBe(false);
    expect(warnings).toEqual(['TLS certificate verification is off for 127.0.0.1']);
  });
});

describe('messages', () => {
  it.each([
    ['no recipient', { subject: 's' }],
    ['an empty recipient list', { to: [], subject: 's' }],
    ['a recipient that is not a string', { to: [42], subject: 's' }],
    ['no subject', { to: 'a@example.test' }],
    ['an unknown field', { to: 'a@example.test', subject: 's', attachments: [] }],
    ['a non-string header', { to: 'a@example.test', subject: 's', headers: { 'x-n': 1 } }],
  ])('rejects %s before taking a slot', async (_what, message) => {
    mail = createMailProvider({ url, from: 'bot@example.test' });

    const error = await mail.send(message as never).catch((e: unknown) => e);

    expect(ConfigInvalidError.isInstance(error)).toBe(true);
    expect(mail.stats().acquired).toBe(0);
  });

  it('rejects a message without a sender when there is no default', async () => {
    mail = createMailProvider({ url });

    const error = await mail.send({ to: 'a@example.test', subject: 's' }).catch((e: unknown) => e);

    expect(ConfigInvalidError.isInstance(error)).toBe(true);
    expect(String(error)).toContain('"from"');
  });
});
