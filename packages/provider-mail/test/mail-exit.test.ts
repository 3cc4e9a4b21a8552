import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type SmtpTestServer, smtpError, startSmtp } from './support/smtp-test-server.js';

const child = fileURLToPath(new URL('./fixtures/exit-child.mjs', import.meta.url));
let smtp: SmtpTestServer | undefined;

beforeAll(() => {
  // The child runs plain Node, so it loads the built package.
  if (!existsSync(fileURLToPath(new URL('../dist/index.js', import.meta.url)))) {
    throw new Error('build @kaygraph/provider-mail before running this test');
  }
});

afterEach(async () => {
  await smtp?.close();
  smtp = undefined;
});

describe('a process that closed its provider', () => {
  it('exits on its own: no connection or timer is left', async () => {
    let deferred = false;
    smtp = await startSmtp({
      judge: (mail) => {
        if (!mail.data.includes('Subject: deferred-once') || deferred) return undefined;
        deferred = true;
        return smtpError(451, 'try again later');
      },
    });
    const proc = fork(child, {
      env: { ...process.env, CHILD_SMTP_PORT: String(smtp.port) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let report: { stats: Record<string, number>; state: string } | undefined;
    proc.on('message', (message) => {
      report = message as typeof report;
    });
    // A live handle would keep the child running; the guard turns that into a failure.
    const guard = setTimeout(() => proc.kill('SIGKILL'), 20_000);
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
      proc.on('exit', (c, s) => resolve([c, s])),
    );
    clearTimeout(guard);

    expect(signal).toBeNull();
    expect(code).toBe(0);
    expect(report?.state).toBe('closed');
    expect(report?.stats).toMatchObject({ inUse: 0, waiting: 0, acquireTimeouts: 1, sent: 4 });
    expect(report?.stats.retries).toBe(1);
    expect(smtp.received).toHaveLength(4);
  });
});
