import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigInvalidError } from '../src/errors.js';
import { maskUserinfo, redactText, redactUrl, withoutCredentials } from '../src/secrets.js';
import { checkUrl } from '../src/validate.js';

/** What `checkUrl` throws for `value` (undefined when it accepts the value). */
function rejection(value: unknown): unknown {
  try {
    checkUrl('createThing', 'url', value);
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('withoutCredentials', () => {
  it('drops user and password from a URL', () => {
    expect(withoutCredentials('smtp://bobby:hunter22@mail.test:2525')).toBe(
      'smtp://mail.test:2525',
    );
  });

  it('masks the userinfo of text that does not parse as a URL', () => {
    const shown = withoutCredentials('http://bobby:hunter22@exa mple');

    expect(shown).not.toContain('bobby');
    expect(shown).not.toContain('hunter22');
  });
});

describe('checkUrl', () => {
  it('returns the parsed URL', () => {
    const url = checkUrl('createThing', 'url', 'https://user:pw@example.test:8443');

    expect(url.host).toBe('example.test:8443');
    expect(url.password).toBe('pw');
  });

  it.each([
    ['a missing value', undefined],
    ['an empty string', ''],
    ['a number', 42],
    ['text that is not a URL', 'not a url'],
  ])('rejects %s with KG_CONFIG_INVALID, naming the option', (_what, value) => {
    const error = rejection(value);

    expect(ConfigInvalidError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ code: 'KG_CONFIG_INVALID' });
    expect(String(error)).toContain('"url"');
  });

  it('never shows the credentials of a value that does not parse', () => {
    const error = rejection('http://bobby:hunter22@exa mple');
    const message = String(error);

    expect(ConfigInvalidError.isInstance(error)).toBe(true);
    expect(message).not.toContain('bobby');
    expect(message).not.toContain('hunter22');
  });
});

// Passwords with an unencoded reserved character, as a new user typed them: each still parses
// as a URL, with the password in the port and path, query or fragment.
const ambiguous = [
  ['a "/" in the password', 'postgres://postgres:2024/Summer@127.0.0.1:5432/test', 'Summer'],
  ['a "/" in an http password', 'http://bob:2024/Summer@127.0.0.1:5990/up', 'Summer'],
  ['a "/" in an smtp password', 'smtp://bob:2024/Summer@127.0.0.1:2525', 'Summer'],
  ['a "#" in the password', 'http://bob:8080#Frag9@127.0.0.1:5990/up', 'Frag9'],
  ['a "?" in the password', 'http://bob:80?Quer9@127.0.0.1:5990/up', 'Quer9'],
  ['a "@" and "/" in the password', 'http://bob:p@ss/Slash9@127.0.0.1/', 'Slash9'],
] as const;

describe('a URL whose password holds an unencoded reserved character', () => {
  it.each(ambiguous)('checkUrl refuses %s, masked and with the fix', (_what, value, secret) => {
    const error = rejection(value);
    const message = String(error);

    expect(ConfigInvalidError.isInstance(error)).toBe(true);
    expect(message).toContain('"url"');
    expect(message).toContain('percent-encode');
    expect(message).not.toContain(secret);
    expect(message).not.toContain('2024');
    expect(message).toContain('://***@');
  });

  it.each(ambiguous)('redactUrl, redactText and withoutCredentials mask %s', (_w, value, secret) => {
    for (const shown of [
      redactUrl(value),
      redactText(`cannot reach ${value}: refused`),
      redactText(JSON.stringify({ url: value })),
      withoutCredentials(value),
      maskUserinfo(value),
    ]) {
      expect(shown).not.toContain(secret);
      expect(shown).toContain('***@');
    }
  });

  it('leaves messages about well-formed URLs as they were', () => {
    expect(redactUrl('postgres://bob:hunter22@db.test:5432/app')).toBe(
      'postgres://bob:***@db.test:5432/app',
    );
    expect(redactText('at http://bob:hunter22@db.test/x now')).toBe('at http://bob:***@db.test/x now');
    expect(redactText('at http://db.test:80/x now')).toBe('at http://db.test:80/x now');
    expect(withoutCredentials('smtp://bob:hunter22@mail.test:2525')).toBe('smtp://mail.test:2525');
    expect(rejection('https://user:pw@example.test:8443')).toBeUndefined();
  });

  it('leaves file: URLs of a stack trace alone, which cannot hold credentials', () => {
    const line = 'at x (file:///w/node_modules/.pnpm/pg@8.16.3/node_modules/pg/lib/client.js:9:5)';

    expect(redactText(line)).toBe(line);
  });

  it('masks the whole password when it holds an unencoded "@"', () => {
    expect(redactText('at http://bob:p@ss@db.test/x')).toBe('at http://bob:***@db.test/x');
  });
});

describe('a libpq keyword/value string', () => {
  it.each([
    ['host=127.0.0.1 port=5432 dbname=test user=postgres password=Zq9Secret', 'Zq9Secret'],
    ["host=127.0.0.1 password='Zq9 Secret' dbname=test", 'Zq9'],
    ['host=127.0.0.1 password = "Zq9Secret"', 'Zq9Secret'],
  ])('has its password masked wherever it is shown: %s', (value, secret) => {
    const error = rejection(value);

    expect(ConfigInvalidError.isInstance(error)).toBe(true);
    for (const shown of [String(error), redactUrl(value), redactText(value), maskUserinfo(value)]) {
      expect(shown).not.toContain(secret);
      expect(shown).toContain('password');
    }
  });
});

describe('redaction, for random passwords with reserved characters', () => {
  const reserved = fc.constantFrom('/', '?', '#', '@', ':', '/', '#');
  const plain = fc.stringMatching(/^Z[A-Za-z0-9]{2,7}$/);
  // A password with at least one reserved character, and a marker that never occurs by chance.
  const password = fc
    .tuple(plain, fc.array(fc.tuple(reserved, plain), { minLength: 1, maxLength: 3 }))
    .map(([head, tail]) => `Pw${head}${tail.map(([r, p]) => r + p).join('')}`);
  const scheme = fc.constantFrom('postgres', 'postgresql', 'http', 'https', 'smtp', 'smtps');
  const rest = fc.constantFrom('127.0.0.1:5432/test', 'db.test/app?sslmode=require', 'h', '[::1]:25');

  it('never shows the password, in any helper or in checkUrl’s refusal', () => {
    fc.assert(
      fc.property(scheme, fc.stringMatching(/^[a-z]{1,6}$/), password, rest, (s, user, pw, host) => {
        const value = `${s}://${user}:${pw}@${host}`;
        const tail = pw.slice(pw.search(/[/?#@:]/));
        const error = rejection(value);
        const shown = [
          redactUrl(value),
          redactText(`at ${value}: failed`),
          withoutCredentials(value),
          maskUserinfo(value),
          error === undefined ? '' : String(error),
        ];
        for (const text of shown) {
          expect(text).not.toContain(pw);
          expect(text).not.toContain(pw.slice(2));
          // Every piece of the password after its first reserved character, too.
          for (const piece of tail.split(/[/?#@:]/).filter((p) => p.length >= 3)) {
            expect(text).not.toContain(piece);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
