import { subscribe } from '@kaygraph/core';
import { afterEach, describe, expect, it } from 'vitest';
import { createDbProvider, type DbProvider, type DbProviderOptions } from '../src/index.js';

// Whether TLS is on and whether it verifies the server, as describe() tells the monitor. No
// connection is made except where a test opens the provider.

const providers: DbProvider[] = [];
const base = 'postgres://kg:pw-hidden@db.example:5432/orders';

afterEach(async () => {
  await Promise.all(providers.splice(0).map((p) => p.destroy()));
});

function describeWith(options: DbProviderOptions) {
  const db = createDbProvider(options);
  providers.push(db);
  const { ssl, tlsVerify } = db.describe();
  return { ssl, tlsVerify };
}

describe('TLS in describe()', () => {
  it.each([
    ['no TLS', { connectionString: base }, { ssl: false, tlsVerify: undefined }],
    ['ssl: true', { connectionString: base, ssl: true }, { ssl: true, tlsVerify: true }],
    [
      'ssl with a CA',
      { connectionString: base, ssl: { ca: 'pem' } },
      { ssl: true, tlsVerify: true },
    ],
    [
      'rejectUnauthorized: false',
      { connectionString: base, ssl: { rejectUnauthorized: false } },
      { ssl: true, tlsVerify: false },
    ],
    [
      'sslmode=require',
      { connectionString: `${base}?sslmode=require` },
      { ssl: true, tlsVerify: true },
    ],
    [
      'sslmode=no-verify',
      { connectionString: `${base}?sslmode=no-verify` },
      { ssl: true, tlsVerify: false },
    ],
    [
      'sslmode=disable over ssl: true',
      { connectionString: `${base}?sslmode=disable`, ssl: true },
      { ssl: false, tlsVerify: undefined },
    ],
  ] as const)('%s', (_name, options, expected) => {
    expect(describeWith(options as DbProviderOptions)).toEqual(expected);
  });

  it('publishes a warning when a provider with verification off opens', async () => {
    const warnings: string[] = [];
    const stop = subscribe('provider:warning', (e) => {
      if (e.provider === 'db-tls') warnings.push(e.message);
    });
    try {
      const db = createDbProvider({
        name: 'db-tls',
        host: '127.0.0.1',
        port: 1,
        ssl: { rejectUnauthorized: false },
        connectTimeoutMs: 100,
      });
      providers.push(db);
      await db.acquire().catch(() => undefined);
      expect(warnings).toEqual(['TLS certificate verification is off for 127.0.0.1:1']);
    } finally {
      stop();
    }
  });
});
