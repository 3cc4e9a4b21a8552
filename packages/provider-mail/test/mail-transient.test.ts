import { describe, expect, it } from 'vitest';
import { MailError, isTransientMailError } from '../src/index.js';

// Which failed sends are worth another try: the rule the provider's own retries follow, exported
// so callers that retry a whole notification (the demo) use the same one.

const at = { host: '127.0.0.1', port: 2525 };

describe('isTransientMailError', () => {
  it('is true for a 4xx reply and for connections that failed before an answer', () => {
    expect(isTransientMailError(new MailError('busy', { ...at, responseCode: 421 }))).toBe(true);
    for (const driverCode of ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ESOCKET']) {
      expect(isTransientMailError(new MailError('down', { ...at, driverCode }))).toBe(true);
    }
  });

  it('is false for a 5xx reply, a refused login and anything not a MailError', () => {
    expect(isTransientMailError(new MailError('go away', { ...at, responseCode: 554 }))).toBe(false);
    expect(isTransientMailError(new MailError('bad login', { ...at, responseCode: 535 }))).toBe(
      false,
    );
    expect(isTransientMailError(new MailError('auth', { ...at, driverCode: 'EAUTH' }))).toBe(false);
    expect(isTransientMailError(new Error('ECONNREFUSED'))).toBe(false);
  });
});
