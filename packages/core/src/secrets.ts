/**
 * Secrets (passwords in URLs, tokens, auth headers) must never reach an event, an error message,
 * a log line or a report. These helpers mask them where text is made.
 */

const MASK = '***';

/** A URL with its password (and any token-like query value) replaced by `***`. Non-URLs pass through `redactText`. */
export function redactUrl(input: string): string {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    return redactText(input);
  }
  if (url.password) url.password = MASK;
  for (const key of [...url.searchParams.keys()]) {
    if (/pass|secret|token|key|auth/i.test(key)) url.searchParams.set(key, MASK);
  }
  return url.toString();
}

/** Text with `user:password@` userinfo and bearer tokens masked, plus any listed secrets. */
export function redactText(text: string, secrets: readonly string[] = []): string {
  let out = text
    .replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^/\s:@]*:)[^@\s/]*@/gi, `$1${MASK}@`)
    .replace(/(bearer\s+)[^\s"',;]+/gi, `$1${MASK}`)
    .replace(/(password\s*[=:]\s*)[^\s&;"',]+/gi, `$1${MASK}`);
  for (const secret of secrets) {
    if (secret.length >= 3) out = out.split(secret).join(MASK);
  }
  return out;
}

/**
 * A URL with its user and password removed entirely, for messages about a URL option: not even
 * the user name shows. Text that is not a URL has its userinfo masked instead.
 */
export function withoutCredentials(input: string): string {
  try {
    const url = new URL(input);
    url.username = '';
    url.password = '';
    return url.toString();
  } catch {
    return redactText(input.replace(/\/\/[^/@\s]*@/, '//***@'));
  }
}
