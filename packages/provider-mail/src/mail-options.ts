import {
  ConfigInvalidError,
  checkBoolean,
  checkInteger,
  checkObject,
  checkString,
  checkUrl,
  rejectUnknownKeys,
  withoutCredentials,
} from '@kaygraph/core';

/** How failed sends are retried: only connection failures and 4xx (transient) answers. */
export interface MailRetryOptions {
  /** Retries after the first attempt; 0 turns retrying off. Default `3`. */
  maxRetries?: number;
  /** Wait between two attempts. Default `500`. */
  delayMs?: number;
}

/** Options of {@link createMailProvider}. */
export interface MailProviderOptions {
  /** Registered provider name. Default `'mail'`. */
  name?: string;
  /**
   * The SMTP server: `smtp://user:pass@host:port` (plain, STARTTLS when offered) or
   * `smtps://...` (TLS from the first byte). Port defaults to 25 / 465. Required.
   * User and password are URL-decoded, used for AUTH, and never shown anywhere.
   * Reserved characters in them must be percent-encoded (`/` as `%2F`): a URL with an `@` after
   * its host is refused, since the parser would read part of the password as the port and path.
   */
  url: string;
  /** Sender used when a message names none. */
  from?: string;
  /** Most SMTP connections open at once, and most sends in flight. Default `2`. */
  maxConnections?: number;
  /** Messages sent over one connection before it is replaced. Default `100`. */
  maxMessages?: number;
  /** Longest wait for the TCP (and TLS) connection. Default `10000`. */
  connectionTimeoutMs?: number;
  /** Longest wait for the server's greeting once connected. Default `10000`. */
  greetingTimeoutMs?: number;
  /** Longest silence on an open connection. Default `30000`. */
  socketTimeoutMs?: number;
  /** Longest wait for a free send slot. Default `30000`. */
  acquireTimeoutMs?: number;
  /**
   * Verify the server's TLS certificate. Turning it off must be explicit, shows in `describe()`
   * and publishes a `provider:warning` on open. Default `true`.
   */
  tlsRejectUnauthorized?: boolean;
  /** Retry policy. Defaults as in {@link MailRetryOptions}. */
  retry?: MailRetryOptions;
  /** Report a slot lease held longer than this many ms, with its stack; 0 = off. Default `0`. */
  leakDetectionMs?: number;
}

/** Options after validation, with defaults filled in. */
export interface ResolvedMailOptions {
  name: string;
  host: string;
  port: number;
  secure: boolean;
  auth: { user: string; pass: string } | undefined;
  from: string | undefined;
  maxConnections: number;
  maxMessages: number;
  connectionTimeoutMs: number;
  greetingTimeoutMs: number;
  socketTimeoutMs: number;
  acquireTimeoutMs: number;
  tlsRejectUnauthorized: boolean;
  retry: Required<MailRetryOptions>;
  leakDetectionMs: number;
  /** User and password, masked in any text the provider makes. */
  secrets: string[];
}

const WHERE = 'createMailProvider';
const KEYS = [
  'name',
  'url',
  'from',
  'maxConnections',
  'maxMessages',
  'connectionTimeoutMs',
  'greetingTimeoutMs',
  'socketTimeoutMs',
  'acquireTimeoutMs',
  'tlsRejectUnauthorized',
  'retry',
  'leakDetectionMs',
] as const;
const MAX_TIMEOUT = 2_147_483_647;

/** Validate factory options, one check per option, and fill in defaults. */
export function resolveMailOptions(input: unknown): ResolvedMailOptions {
  const options = checkObject(WHERE, input);
  rejectUnknownKeys(WHERE, options, KEYS);
  const server = parseSmtpUrl(checkUrl(WHERE, 'url', options.url));
  const timeout = (name: string, fallback: number) =>
    checkInteger(WHERE, name, options[name], fallback, { min: 1, max: MAX_TIMEOUT });

  return {
    ...server,
    name: checkString(WHERE, 'name', options.name, 'mail'),
    from: options.from === undefined ? undefined : checkString(WHERE, 'from', options.from),
    maxConnections: checkInteger(WHERE, 'maxConnections', options.maxConnections, 2, { min: 1 }),
    maxMessages: checkInteger(WHERE, 'maxMessages', options.maxMessages, 100, { min: 1 }),
    connectionTimeoutMs: timeout('connectionTimeoutMs', 10_000),
    greetingTimeoutMs: timeout('greetingTimeoutMs', 10_000),
    socketTimeoutMs: timeout('socketTimeoutMs', 30_000),
    acquireTimeoutMs: timeout('acquireTimeoutMs', 30_000),
    tlsRejectUnauthorized: checkBoolean(
      WHERE,
      'tlsRejectUnauthorized',
      options.tlsRejectUnauthorized,
      true,
    ),
    retry: resolveRetry(options.retry),
    leakDetectionMs: checkInteger(WHERE, 'leakDetectionMs', options.leakDetectionMs, 0, {
      min: 0,
    }),
  };
}

function resolveRetry(input: unknown): Required<MailRetryOptions> {
  const where = `${WHERE}: option "retry"`;
  const retry = checkObject(where, input);
  rejectUnknownKeys(where, retry, ['maxRetries', 'delayMs']);
  return {
    maxRetries: checkInteger(where, 'maxRetries', retry.maxRetries, 3, { min: 0, max: 100 }),
    delayMs: checkInteger(where, 'delayMs', retry.delayMs, 500, { min: 0, max: MAX_TIMEOUT }),
  };
}

type SmtpServer = Pick<ResolvedMailOptions, 'host' | 'port' | 'secure' | 'auth' | 'secrets'>;

/** Split an SMTP URL into host, port, TLS mode and credentials (which never reach a message). */
function parseSmtpUrl(url: URL): SmtpServer {
  const safe = withoutCredentials(url.href);
  if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') {
    throw new ConfigInvalidError(
      `${WHERE}: option "url" must be an smtp: or smtps: URL, got ${safe}`,
    );
  }
  if (url.hostname === '' || (url.pathname !== '' && url.pathname !== '/') || url.search !== '') {
    throw new ConfigInvalidError(
      `${WHERE}: option "url" must be scheme, credentials, host and port only, got ${safe}`,
    );
  }
  const secure = url.protocol === 'smtps:';
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = url.port === '' ? (secure ? 465 : 25) : Number(url.port);
  if (url.username === '' && url.password === '') {
    return { host, port, secure, auth: undefined, secrets: [] };
  }
  const user = decodeURIComponent(url.username);
  const pass = decodeURIComponent(url.password);
  const secrets = [user, pass, url.username, url.password].filter((s) => s.length >= 3);
  return { host, port, secure, auth: { user, pass }, secrets };
}
