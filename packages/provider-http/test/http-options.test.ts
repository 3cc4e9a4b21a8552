import { Readable } from 'node:stream';
import { ConfigInvalidError, subscribe } from '@kaygraph/core';
import { afterEach, describe, expect, it } from 'vitest';
import { type HttpProvider, type HttpProviderOptions, createHttpProvider } from '../src/index.js';

let http: HttpProvider | undefined;

afterEach(async () => {
  await http?.destroy();
  http = undefined;
});

const origin = 'http://127.0.0.1:9';

function configError(options: unknown): unknown {
  try {
    http = createHttpProvider(options as HttpProviderOptions);
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('options', () => {
  it.each([
    ['no origin', {}],
    ['an origin that is not a URL', { origin: 'not a url' }],
    ['an origin with another scheme', { origin: 'ftp://127.0.0.1' }],
    ['an origin with a path', { origin: 'http://127.0.0.1/api' }],
    ['an unknown option', { origin, connection: 2 }],
    ['zero connections', { origin, connections: 0 }],
    ['a fractional pipelining', { origin, pipelining: 1.5 }],
    ['a negative timeout', { origin, headersTimeoutMs: -1 }],
    ['a string timeout', { origin, bodyTimeoutMs: '100' }],
    ['an unknown retry option', { origin, retry: { retries: 2 } }],
    ['maxDelayMs below minDelayMs', { origin, retry: { minDelayMs: 500, maxDelayMs: 100 } }],
    ['a non-boolean TLS flag', { origin, tlsRejectUnauthorized: 'no' }],
    ['a header that is not a string', { origin, headers: { 'x-n': 1 } }],
    ['a health path without a slash', { origin, healthPath: 'health' }],
  ])('rejects %s with ConfigInvalidError', (_what, options) => {
    const error = configError(options);

    expect(ConfigInvalidError.isInstance(error)).toBe(true);
    expect((error as ConfigInvalidError).code).toBe('KG_CONFIG_INVALID');
  });

  it('names the bad option', () => {
    expect(String(configError({ origin, connections: 0 }))).toContain('"connections"');
    expect(String(configError({ origin, retry: { maxRetries: -1 } }))).toContain('"maxRetries"');
  });

  it('never echoes a header value or a password in a config error', () => {
    const headerError = configError({ origin, headers: { authorization: ['ok', 42] } });
    const originError = configError({ origin: 'ftp://bobby:hunter22@host' });

    expect(String(headerError)).not.toContain('ok');
    expect(String(originError)).not.toContain('hunter22');
    expect(String(originError)).not.toContain('bobby');
  });

  it('fills in the documented defaults', () => {
    http = createHttpProvider({ origin });

    expect(http.name).toBe('http');
    expect(http.kind).toBe('http');
    expect(http.state).toBe('new');
    expect(http.describe()).toEqual({
      origin,
      connections: 8,
      pipelining: 1,
      slots: 8,
      connectTimeoutMs: 10_000,
      headersTimeoutMs: 30_000,
      bodyTimeoutMs: 30_000,
      acquireTimeoutMs: 30_000,
      maxRetries: 3,
      tlsVerify: true,
      leakDetectionMs: 0,
      defaultHeaders: [],
    });
  });

  it('counts slots as connections times pipelining', () => {
    http = createHttpProvider({ origin, connections: 3, pipelining: 4, name: 'api' });

    expect(http.name).toBe('api');
    expect(http.stats().slots).toBe(12);
    expect(http.describe().slots).toBe(12);
  });

  it('shows and warns when TLS verification is turned off', async () => {
    const warnings: string[] = [];
    const stop = subscribe('provider:warning', (e) => warnings.push(e.message));
    http = createHttpProvider({ origin: 'https://127.0.0.1:9', tlsRejectUnauthorized: false });

    await http.open();
    stop();

    expect(http.describe().tlsVerify).toBe(false);
    expect(warnings).toEqual(['TLS certificate verification is off for https://127.0.0.1:9']);
  });
});

describe('request options', () => {
  it.each([
    ['a stream body', { path: '/', body: Readable.from(['x']) }],
    ['a path without a slash', { path: 'x' }],
    ['an unknown option', { path: '/', timeout: 5 }],
    ['an empty idempotency key', { path: '/', idempotencyKey: '' }],
    ['a negative maxRetries', { path: '/', maxRetries: -1 }],
  ])('rejects %s before sending anything', async (_what, options) => {
    http = createHttpProvider({ origin });

    const error = await http.request(options as never).catch((e: unknown) => e);

    expect(ConfigInvalidError.isInstance(error)).toBe(true);
    expect(http.stats().acquired).toBe(0);
  });
});
