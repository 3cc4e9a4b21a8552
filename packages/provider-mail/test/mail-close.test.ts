import { PoolClosedError, subscribe } from '@kaygraph/core';
import { afterEach, describe, expect, it } from 'vitest';
import { type MailProvider, createMailProvider } from '../src/index.js';
import {
  type SmtpTestOptions,
  type SmtpTestServer,
  startSmtp,
} from './support/smtp-test-server.js';

let smtp: SmtpTestServer | undefined;
let mail: MailProvider | undefined;

afterEach(async () => {
  await mail?.destroy();
  mail = undefined;
  await smtp?.close();
  smtp = undefined;
});

const message = { to: 'ann@example.test', subject: 's', text: 't' };

async function setup(options: SmtpTestOptions = {}) {
  smtp = await startSmtp(options);
  mail = createMailProvider({ url: `smtp://127.0.0.1:${smtp.port}`, from: 'bot@example.test' });
  return { smtp, mail };
}

/** Answers MAIL FROM after a pause, so sends stay in flight for a while. */
const slowServer: SmtpTestOptions = {
  onMailFrom(_address, _session, callback) {
    setTimeout(() => callback(), 200);
  },
};

function closeEvents() {
  const forced: boolean[] = [];
  const stop = subscribe('provider:close', (e) => forced.push(e.forced));
  return { forced, stop };
}

describe('close', () => {
  it('is idempotent and refuses sends afterwards with PoolClosedError', async () => {
    const { mail } = await setup();
    await mail.send(message);
    const events = closeEvents();

    const first = mail.close();
    const second = mail.close();
    await first;
    await mail.destroy();
    events.stop();

    expect(second).toBe(first);
    expect(mail.state).toBe('closed');
    expect(events.forced).toEqual([false]);
    const error = await mail.send(message).catch((e: unknown) => e);
    expect(PoolClosedError.isInstance(error)).toBe(true);
    await expect(mail.acquire()).rejects.toMatchObject({ code: 'KG_POOL_CLOSED' });
    expect((await mail.check()).ok).toBe(false);
  });

  it('waits for in-flight sends and fails queued ones', async () => {
    const { smtp, mail } = await setup(slowServer);

    const inFlight = [mail.send(message), mail.send(message)];
    const queued = mail.send(message).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 50));
    await mail.close();
    const receivedAtClose = smtp.received.length;
    const sent = await Promise.all(inFlight);

    expect(receivedAtClose).toBe(2);
    expect(sent.map((r) => r.accepted)).toEqual([['ann@example.test'], ['ann@example.test']]);
    expect(PoolClosedError.isInstance(await queued)).toBe(true);
    expect(mail.stats().inUse).toBe(0);
  });

  it('stops waiting for a held slot at the timeout', async () => {
    const { mail } = await setup();
    const lease = await mail.acquire();
    const events = closeEvents();

    await mail.close({ timeoutMs: 50 });
    events.stop();

    expect(events.forced).toEqual([true]);
    // Written off by the close: the slot is dead and the holder's late release is refused.
    expect(mail.stats()).toMatchObject({ inUse: 0, leaks: 1 });
    await expect(lease.resource.send(message)).rejects.toMatchObject({ code: 'KG_LEASE_RELEASED' });
    await expect(lease.release()).rejects.toMatchObject({ code: 'KG_LEASE_REVOKED' });
  });
});

describe('destroy', () => {
  it('stops the wait for a send in flight and is idempotent', async () => {
    const { mail } = await setup(slowServer);

    const inFlight = mail.send(message).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 50));
    const first = mail.destroy();
    const second = mail.destroy();
    await first;

    expect(second).toBe(first);
    expect(PoolClosedError.isInstance(await inFlight)).toBe(true);
    expect(mail.state).toBe('closed');
    await expect(mail.send(message)).rejects.toMatchObject({ code: 'KG_POOL_CLOSED' });
  });
});
