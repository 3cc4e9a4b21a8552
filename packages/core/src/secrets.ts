/**
 * Secrets (passwords in URLs, tokens, auth headers) must never reach an event, an error message,
 * a log line or a report. These helpers mask them where text is made.
 *
 * A password with an unencoded `/`, `?` or `#` in it still parses as a URL: the parser ends the
 * authority at that character, so `postgres://bob:2024/Summer@db/x` has no password at all, port
 * 2024 and the path `/Summer@db/x`. Nothing in the parsed URL says where the password was, so
 * any `@` after the authority is taken to mean one: everything between `scheme://` and the last
 * `@` is masked. That also masks a well-formed URL with an `@` in its path (`/@scope/pkg`), which
 * costs a less useful message but never shows a secret.
 */

const MASK = '***';

// `scheme://`, the authority (the parser ends it at the first `/`, `?`, `#`, or `\` in special
// schemes, taken here for every scheme so more is masked, never less), and the rest.
const URL_PARTS = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#\\]*)(.*)$/is;

// A URL-looking token in free text: up to whitespace, a quote or an angle bracket. `file:` URLs
// are left out: they cannot hold credentials, and the ones in ESM stack traces often have an `@`
// in their path (`.pnpm/pg@8.16.3/…`).
const URL_IN_TEXT = /\b(?!file:)[a-z][a-z0-9+.-]*:\/\/[^\s"'`<>]*/gi;

/**
 * Whether `text` starts like a URL and has an `@` after its authority (in the path, query or
 * fragment): an unencoded reserved character in a user name or password leaves it that way, and
 * the URL parser then finds no password to mask. URL options refuse such text.
 */
export function hasAtAfterAuthority(text: string): boolean {
  const parts = URL_PARTS.exec(text);
  return parts !== null && parts[3]!.includes('@') && parts[1]!.toLowerCase() !== 'file://';
}

/**
 * Text as it may be shown when it cannot be trusted to parse the way its author meant: for
 * `scheme://…@…`, everything between `scheme://` and the last `@` becomes `***`; other text goes
 * through `redactText` (which masks `password=…` of a libpq keyword/value string).
 */
export function maskUserinfo(text: string): string {
  const parts = URL_PARTS.exec(text);
  const at = text.lastIndexOf('@');
  if (parts === null || at === -1) return redactText(text);
  return redactText(`${parts[1]}${MASK}${text.slice(at)}`);
}

/** A URL with its password (and any token-like query value) replaced by `***`. Non-URLs pass through `redactText`. */
export function redactUrl(input: string): string {
  if (hasAtAfterAuthority(input) || !URL.canParse(input)) return maskUserinfo(input);
  const url = new URL(input);
  if (url.password) url.password = MASK;
  for (const key of [...url.searchParams.keys()]) {
    if (/pass|secret|token|key|auth/i.test(key)) url.searchParams.set(key, MASK);
  }
  return url.toString();
}

/**
 * Text with the passwords of URLs in it masked (`user:***@host`, or `scheme://***@` for a URL
 * with an `@` after its authority), bearer tokens and `password=…` values masked, plus any
 * listed secrets.
 */
export function redactText(text: string, secrets: readonly string[] = []): string {
  let out = text
    .replace(URL_IN_TEXT, maskUrlToken)
    .replace(/(bearer\s+)[^\s"',;]+/gi, `$1${MASK}`)
    .replace(/(password\s*[=:]\s*)('(?:[^'\\]|\\.)*'?|"(?:[^"\\]|\\.)*"?|[^\s&;"',]+)/gi, `$1${MASK}`);
  for (const secret of secrets) {
    if (secret.length >= 3) out = out.split(secret).join(MASK);
  }
  return out;
}

function maskUrlToken(token: string): string {
  const [, scheme, authority, rest] = URL_PARTS.exec(token) as unknown as string[];
  if (rest!.includes('@')) return `${scheme}${MASK}${token.slice(token.lastIndexOf('@'))}`;
  const at = authority!.lastIndexOf('@');
  const colon = authority!.indexOf(':');
  if (at === -1 || colon === -1 || colon > at) return token;
  return `${scheme}${authority!.slice(0, colon + 1)}${MASK}${authority!.slice(at)}${rest}`;
}

/**
 * A URL with its user and password removed entirely, for messages about a URL option: not even
 * the user name shows. Text that does not parse, or has an `@` after its authority, is shown
 * through `maskUserinfo` instead.
 */
export function withoutCredentials(input: string): string {
  if (hasAtAfterAuthority(input) || !URL.canParse(input)) return maskUserinfo(input);
  const url = new URL(input);
  url.username = '';
  url.password = '';
  return url.toString();
}
