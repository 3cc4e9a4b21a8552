import { readFileSync } from 'node:fs';
import { type Server, createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { subscribe } from '@kaygraph/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type HttpProvider, HttpRequestError, createHttpProvider } from '../src/index.js';

// A real HTTPS server whose certificate nobody vouches for (self-signed, for 127.0.0.1).

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url));

let server: Server;
let origin: string;
let requests = 0;
let http: HttpProvider | undefined;
let warnings: string[];
let stop: () => void;

beforeEach(async () => {
  requests = 0;
  server = createServer(
    { key: fixture('self-signed-key.pem'), cert: fixture('self-signed-cert.pem') },
    (_req, res) => {
      requests++;
      res.end('secret data');
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  warnings = [];
  stop = subscribe('provider:warning', (e) => warnings.push(e.message));
});

afterEach(async () => {
  stop();
  await http?.destroy();
  http = undefined;
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

function codes(error: unknown): unknown[] {
  const found: unknown[] = [];
  for (let e = error; e instanceof Error; e = e.cause) found.push((e as { code?: unknown }).code);
  return found;
}

describe('TLS certificate verification', () => {
  it('is on by default: a certificate nobody vouches for is refused', async () => {
    http = createHttpProvider({ origin });

    const error = await http.request({ path: '/' }).catch((e: unknown) => e);

    expect(HttpRequestError.isInstance(error)).toBe(true);
    expect(codes(error)).toContain('DEPTH_ZERO_SELF_SIGNED_CERT');
    expect(requests).toBe(0);
    expect(http.describe().tlsVerify).toBe(true);
    expect(warnings).toEqual([]);
  });

  it('is off only when asked, and then shows in describe() and a warning', async () => {
    http = createHttpProvider({ origin, tlsRejectUnauthorized: false });

    const res = await http.request({ path: '/' });

    expect(res.body.toString()).toBe('secret data');
    expect(http.describe().tlsVerify).toBe(false);
    expect(warnings).toEqual([`TLS certificate verification is off for ${origin}`]);
  });
});
