import { getEventListeners } from 'node:events';
import { subscribe } from '@kaygraph/core';
import { afterEach, describe, expect, it } from 'vitest';
import { type MailProvider, createMailProvider } from '../src/index.js';
import { type SmtpTestServer, startSmtp } from './support/smtp-test-server.js';

let smtp: SmtpTestServer | undefined;
let mail: MailProvider | undefined;

afterEach(async () => {
  await mail?.destroy();
  mail = undefined;
  await smtp?.close();
  smtp = undefined;
});

async function setup() {
  smtp = await startSmtp();
  mail = createMailProvider({ url: `smtp://127.0.0.1:${smtp.port}`, from: 'bot@example.test' });
  return { smtp, mail };
}

describe('send', () => {
  it('delivers the message and returns the server answer', async () => {
    const { smtp, mail } = await setup();

    const result = await mail.send({
      to: ['ann@example.test', 'bo@example.test'],
      subject: 'Export finished',
      text: 'All 12 chunks uploaded.',
    });

    expect(result.accepted).toEqual(['ann@example.test', 'bo@example.test']);
    expect(result.rejected).toEqual([]);
    expect(result.response).toMatch(/^250 /);
    expect(result.messageId).toMatch(/@/);
    expect(result.attempts).toBe(1);
    expect(smtp.received).toHaveLength(1);
    const received = smtp.received[0];
    expect(received?.from).toBe('bot@example.test');
    expect(received?.to).toEqual(['ann@example.test', 'bo@example.test']);
    expect(received?.data).toContain('Subject: Export finished');
    expect(received?.data).toContain('All 12 chunks uploaded.');
    expect(received?.data).toContain(result.messageId);
  });

  it('uses the message sender over the default, and sends HTML', async () => {
    const { smtp, mail } = await setup();

    await mail.send({
      from: 'ops@example.test',
      to: 'ann@example.test',
      subject: 's',
      html: '<b>hi</b>',
    });

    expect(smtp.received[0]?.from).toBe('ops@example.test');
    expect(smtp.received[0]?.data).toContain('<b>hi</b>');
  });

  it('sends many messages over the pooled connections and returns every slot', async () => {
    const { smtp, mail } = await setup();

    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        mail.send({ to: `u${i}@example.test`, subject: `m${i}`, text: 'x' }),
      ),
    );

    expect(results).toHaveLength(10);
    expect(smtp.received).toHaveLength(10);
    const stats = mail.stats();
    expect(stats.inUse).toBe(0);
    expect(stats.waiting).toBe(0);
    expect(stats.sent).toBe(10);
    expect(stats.acquired).toBe(10);
    expect(stats.released).toBe(10);
  });

  it('counts slots in use and waiters while sends are queued', async () => {
    const { mail } = await setup();
    const holders = [await mail.acquire(), await mail.acquire()];

    const queued = mail.send({ to: 'a@example.test', subject: 's', text: 't' });
    await new Promise((r) => setImmediate(r));
    const during = mail.stats();
    for (const lease of holders) await lease.release();
    await queued;

    expect(during.inUse).toBe(2);
    expect(during.waiting).toBe(1);
    expect(during.idle).toBe(0);
    expect(mail.stats().inUse).toBe(0);
  });

  it('sends through a leased slot and publishes the owner', async () => {
    const { smtp, mail } = await setup();
    const owners: unknown[] = [];
    const stop = subscribe('resource:acquire', (e) => {
      if (e.provider === 'mail') owners.push(e.owner);
    });

    const lease = await mail.acquire({ owner: { runId: 'r1', node: 'notify' } });
    await lease.resource.send({ to: 'a@example.test', subject: 's', text: 't' });
    await lease.release();
    stop();

    expect(smtp.received).toHaveLength(1);
    expect(owners).toEqual([{ runId: 'r1', node: 'notify' }]);
    const late = lease.resource.send({ to: 'a@example.test', subject: 's' });
    await expect(late).rejects.toMatchObject({ code: 'KG_LEASE_RELEASED' });
  });

  it('reports a reachable server as healthy', async () => {
    const { mail } = await setup();

    const report = await mail.check();

    expect(report.ok).toBe(true);
  });

  it('reports a check whose signal aborted as failed, without throwing', async () => {
    const { mail } = await setup();
    const controller = new AbortController();
    controller.abort();

    const report = await mail.check({ signal: controller.signal });

    expect(report.ok).toBe(false);
  });

  it('leaves no listener on the signal it was given once it is done', async () => {
    const { mail } = await setup();
    const controller = new AbortController();
    const message = { to: 'ann@example.test', subject: 's', text: 't' };

    await mail.send(message, { signal: controller.signal });
    await mail.check({ signal: controller.signal });

    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });
});

describe('leak detection', () => {
  it('reports a slot held past leakDetectionMs, and its return', async () => {
    smtp = await startSmtp();
    mail = createMailProvider({ url: `smtp://127.0.0.1:${smtp.port}`, leakDetectionMs: 20 });
    const events: string[] = [];
    const stops = [
      subscribe('resource:leak', (e) => events.push(`leak ${e.provider} ${Boolean(e.stack)}`)),
      subscribe('resource:leak-returned', (e) => events.push(`returned ${e.provider}`)),
    ];

    const lease = await mail.acquire();
    await new Promise((r) => setTimeout(r, 100));
    await lease.release();
    for (const stop of stops) stop();

    expect(events).toEqual(['leak mail true', 'returned mail']);
    expect(mail.stats().leaks).toBe(1);
  });
});
