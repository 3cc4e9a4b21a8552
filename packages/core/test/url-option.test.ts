import { describe, expect, it } from 'vitest';
import { ConfigInvalidError } from '../src/errors.js';
import { withoutCredentials } from '../src/secrets.js';
import { checkUrl } from '../src/validate.js';

function configError(value: unknown): ConfigInvalidError {
  try {
    checkUrl('createThing', 'url', value);
  } catch (error) {
    expect(ConfigInvalidError.isInstance(error)).toBe(true);
    expect((error as ConfigInvalidError).code).toBe('KG_CONFIG_INVALID');
    return error as ConfigInvalidError;
  }
  throw new Error('checkUrl accepted the value');
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
  ])('rejects %s, naming the option', (_what, value) => {
    expect(configError(value).message).toContain('"url"');
  });

  it('never shows the credentials of a value that does not parse', () => {
    const message = configError('http://bobby:hunter22@exa mple').message;

    expect(message).not.toContain('bobby');
    expect(message).not.toContain('hunter22');
  });
});
