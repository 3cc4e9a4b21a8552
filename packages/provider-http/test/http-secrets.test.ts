import { inspect } from 'node:util';
import { subscribeAll } from '@kaygraph/core';
import { afterEach, describe, expect, it } from 'vitest';
import { type HttpProvider, createHttpProvider } from '../src/index.js';
import { type TestServer, freePort, startServer } from './support/test-server.js';

const TOKEN = 'tok-9f8e7d6c5b4a-secret';
const PASSWORD = 'pw-Zx81-hidden';

let server: TestServer;
let http: HttpProvider | undefined;
let stop: (() => void) | undefined;

afterEach(async () => {
  stop?.();
  await http?.destroy();
  http = undefined;
  await server?.close();
});

/** A server that echoes the credentials it receives in every way a broken server might. */
async function leakyServer() {
  return startServer((req, res, seen) => {
    const auth = String(req.headers.authorization);
    if (req.url === '/hang') return;
    if (req.url === '/reset' && seen.socketRequests > 0) {
      req.socket.destroy();
      return;
    }
    const status = req.url === '/busy' ? 503 : req.url === '/reset' ? 200 : 401;
    res.writeHead(status, { 'www-authenticate': auth }).end(`rejected credentials: ${auth}`);
  });
}

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
  it('keep a bearer token out of every error, event and description', async () => {
    server = await leakyServer();
    const events: string[] = [];
    stop = subscribeAll((payload, name) => events.push(`${name} ${JSON.stringify(payload)}`));
    http = createHttpProvider({
      origin: server.origin,
      connections: 1,
      headersTimeoutMs: 100,
      retry: { minDelayMs: 1, maxDelayMs: 2, maxRetries: 1 },
      headers: { authorization: `Bearer ${TOKEN}` },
    });

    const errors = await Promise.all(
      ['/denied', '/busy', '/hang'].map((path) =>
        (http as HttpProvider).request({ path }).catch((e: unknown) => e),
      ),
    );
    await http.request({ path: '/reset' });
    errors.push(await http.request({ method: 'POST', path: '/reset' }).catch((e: unknown) => e));
    const report = await http.check();

    expect(server.seen.every((s) => s.headers.authorization === `Bearer ${TOKEN}`)).toBe(true);
    expect(errors.every((e) => e instanceof Error)).toBe(true);
    const text = [
      ...errors.map(everything),
      ...events,
      JSON.stringify(http.describe()),
      JSON.stringify(report),
    ].join('\n');
    expect(text).toContain('rejected credentials');
    expect(events.some((e) => e.startsWith('provider:warning'))).toBe(true);
    expect(text).not.toContain(TOKEN);
  });

  it('keep origin credentials and per-request tokens out too', async () => {
    server = await leakyServer();
    const events: string[] = [];
    stop = subscribeAll((payload, name) => events.push(`${name} ${JSON.stringify(payload)}`));
    const origin = server.origin.replace('//', `//bob:${PASSWORD}@`);
    http = createHttpProvider({ origin, retry: { minDelayMs: 1, maxDelayMs: 2 } });
    const basic = Buffer.from(`bob:${PASSWORD}`).toString('base64');

    const errors = [
      await http.request({ path: '/denied' }).catch((e: unknown) => e),
      await http
        .request({
          path: '/denied',
          headers: { 'x-api-key': TOKEN, authorization: `Token ${TOKEN}` },
        })
        .catch((e: unknown) => e),
    ];

    expect(server.seen[0]?.headers.authorization).toBe(`Basic ${basic}`);
    const text = [...errors.map(everything), ...events, JSON.stringify(http.describe())].join('\n');
    expect(text).toContain('rejected credentials');
    for (const secret of [PASSWORD, basic, TOKEN]) expect(text).not.toContain(secret);
    expect(http.origin).toBe(server.origin);
  });

  it('mask a token in the query of a failed request and of its retry warnings', async () => {
    // A server that names the URL it refused, query and all.
    server = await startServer((req, res) => res.writeHead(503).end(`busy: ${req.url}`));
    const events: string[] = [];
    stop = subscribeAll((payload, name) => events.push(`${name} ${JSON.stringify(payload)}`));
    http = createHttpProvider({
      origin: server.origin,
      retry: { minDelayMs: 1, maxDelayMs: 2, maxRetries: 1 },
    });

    const error = await http
      .request({ path: `/busy?access_token=${TOKEN}&page=2` })
      .catch((e: unknown) => e);

    expect((error as { code?: string }).code).toBe('KG_HTTP_STATUS');
    expect((error as { url?: string }).url).toBe(`${server.origin}/busy?access_token=***&page=2`);
    const warnings = events.filter((e) => e.startsWith('provider:warning'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('access_token=***');
    expect((error as Error).message).toContain('busy: /busy?access_token=***&page=2');
    expect([everything(error), ...events].join('\n')).not.toContain(TOKEN);
  });

  it('show a path with an "@" in it as it is, the query token still masked', async () => {
    server = await startServer((_req, res) => res.writeHead(404).end('no such package'));
    http = createHttpProvider({ origin: server.origin, retry: { maxRetries: 0 } });

    const error = await http
      .request({ path: `/@scope/pkg?token=${TOKEN}` })
      .catch((e: unknown) => e);

    expect((error as { url?: string }).url).toBe(`${server.origin}/@scope/pkg?token=***`);
    expect(everything(error)).not.toContain(TOKEN);
  });

  it('keep every credential out of refused connects, timeouts, aborts and shutdown', async () => {
    server = await leakyServer();
    const events: string[] = [];
    stop = subscribeAll((payload, name) => events.push(`${name} ${JSON.stringify(payload)}`));
    const withCredentials = (origin: string) => origin.replace('//', `//bob:${PASSWORD}@`);
    const headers = { authorization: `Bearer ${TOKEN}`, 'x-api-key': TOKEN };
    const options = { connections: 1, headers, retry: { minDelayMs: 1, maxDelayMs: 2 } };
    http = createHttpProvider({
      ...options,
      origin: withCredentials(server.origin),
      headersTimeoutMs: 100,
      acquireTimeoutMs: 50,
    });
    const down = createHttpProvider({
      ...options,
      origin: withCredentials(`http://127.0.0.1:${await freePort()}`),
    });
    const provider = http;

    const errors = [
      await down.request({ path: '/' }).catch((e: unknown) => e),
      await provider.request({ path: '/hang' }).catch((e: unknown) => e),
      await provider
        .request({ path: '/hang', signal: AbortSignal.abort('gave up') })
        .catch((e: unknown) => e),
    ];
    const held = await provider.acquire();
    errors.push(await provider.request({ path: '/denied' }).catch((e: unknown) => e));
    const reports = [await down.check(), await provider.check()];
    const described = [provider.describe(), down.describe(), provider.stats(), down.stats()];
    await provider.close({ timeoutMs: 20 });
    await down.destroy();
    errors.push(await held.resource.request({ path: '/' }).catch((e: unknown) => e));
    errors.push(await provider.request({ path: '/' }).catch((e: unknown) => e));

    expect(errors.every((e) => e instanceof Error)).toBe(true);
    expect(errors.map((e) => (e as { code?: string }).code)).toEqual([
      'KG_HTTP_REQUEST',
      'KG_HTTP_TIMEOUT',
      'KG_ABORTED',
      'KG_ACQUIRE_TIMEOUT',
      'KG_LEASE_RELEASED',
      'KG_POOL_CLOSED',
    ]);
    const basic = Buffer.from(`bob:${PASSWORD}`).toString('base64');
    const text = [
      ...errors.map(everything),
      ...events,
      ...reports.map((r) => JSON.stringify(r)),
      ...described.map((d) => JSON.stringify(d)),
    ].join('\n');
    expect(text).toContain('ECONNREFUSED');
    for (const secret of [TOKEN, PASSWORD, basic]) expect(text).not.toContain(secret);
  });
});

describe('an origin whose password holds an unencoded reserved character', () => {
  // Each still parses as a URL, with the password in the port and path or fragment; the first
  // would have sent requests to the host "bob".
  it.each([
    ['a "/"', 'http://bob:2024/Summer@127.0.0.1:5990', 'Summer'],
    ['a "#"', 'http://bob:8080#Frag9@127.0.0.1:5990', 'Frag9'],
    ['a "?"', 'https://bob:443?Zq9Secret@127.0.0.1', 'Zq9Secret'],
    ['text that does not parse', 'http://bob:abc/Zq9Secret@127.0.0.1:5990', 'Zq9Secret'],
  ])('is refused with its credentials masked: %s', (_what, origin, secret) => {
    const events: string[] = [];
    stop = subscribeAll((payload, name) => events.push(`${name} ${JSON.stringify(payload)}`));
    let error: unknown;
    try {
      http = createHttpProvider({ origin });
    } catch (e) {
      error = e;
    }

    expect(error).toMatchObject({ code: 'KG_CONFIG_INVALID' });
    expect(String(error)).toContain('"origin"');
    expect(String(error)).toContain('percent-encode');
    expect(String(error)).toContain('://***@127.0.0.1');
    expect(http).toBeUndefined();
    const text = [everything(error), ...events].join('\n');
    for (const shown of [secret, 'bob']) expect(text).not.toContain(shown);
  });
});
