import { describe, expect, it } from 'vitest';
import { ConfigInvalidError } from '../src/errors.js';
import { withoutCredentials } from '../src/secrets.js';
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
