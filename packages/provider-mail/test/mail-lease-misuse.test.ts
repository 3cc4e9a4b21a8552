import {
  ConfigInvalidError,
  type KayGraphEvents,
  LeaseReleasedError,
  LeaseRevokedError,
  PoolClosedError,
  ResourcePool,
  subscribe,
} from '@kaygraph/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type MailProvider, createMailProvider } from '../src/index.js';
import {
  type SmtpTestOptions,
  type SmtpTestServer,
  startSmtp,
} from './support/smtp-test-server.js';

// A slot returned twice, used after its return, still held when the provider shuts down, or left
// in a scope: each ends in a typed error or a reported leak, and the counters stay true.

let smtp: SmtpTestServer | undefined;
let mail: MailProvider | undefined;
const stops: (() => void)[] = [];

afterEach(async () => {
  for (const stop of stops.splice(0)) stop();
  await mail?.destroy();
  mail = undefined;
  await smtp?.close();
  smtp = undefined;
});

const message = { to: 'ann@example.test', subject: 's', text: 't' };

async function setup(options: SmtpTestOptions = {}) {
  smtp = await startSmtp(options);
  mail = createMailProvider({
    name: 'notify',
    url: `smtp://127.0.0.1:${smtp.port}`,
    from: 'bot@example.test',
    maxConnections: 1,
  });
  return mail;
}

function leaks(): KayGraphEvents['resource:leak'][] {
  const seen: KayGraphEvents['resource:leak'][] = [];
  stops.push(subscribe('resource:leak', (e) => e.provider === 'notify' && seen.push(e)));
  return seen;
}

describe('returning a slot the wrong way', () => {
  it('a second release or destroy rejects, typed; counters unchanged', async () => {
    const provider = await setup();
    const lease = await provider.acquire();
    await lease.resource.send(message);
    await lease.release();
    const before = provider.stats();

    const again = await lease.release().catch((e: unknown) => e);
    const destroyAfter = await lease.destroy(new Error('late')).catch((e: unknown) => e);
    const useAfter = await lease.resource.send(message).catch((e: unknown) => e);

    expect(LeaseReleasedError.isInstance(again)).toBe(true);
    expect(LeaseReleasedError.isInstance(destroyAfter)).toBe(true);
    expect(LeaseReleasedError.isInstance(useAfter)).toBe(true);
    expect(provider.stats()).toEqual(before);
  });

  it('destroy writes off a held slot at once; a late release rejects', async () => {
    const provider = await setup();
    const lease = await provider.acquire();

    await provider.destroy(new Error('shutting down'));

    expect(lease.returned).toBe(true);
    expect(provider.stats().inUse).toBe(0);
    const before = provider.stats();
    await expect(lease.release()).rejects.toSatisfy((e) => LeaseRevokedError.isInstance(e));
    expect(provider.stats()).toEqual(before);
  });

  it('close reports a slot still held at its timeout as a leak and writes it off', async () => {
    const provider = await setup();
    const reported = leaks();
    const lease = await provider.acquire({ owner: { runId: 'r1', node: 'notify' } });

    await provider.close({ timeoutMs: 50 });

    expect(lease.returned).toBe(true);
    expect(reported).toEqual([expect.objectContaining({ owner: { runId: 'r1', node: 'notify' } })]);
    expect(provider.stats()).toMatchObject({ inUse: 0, leaks: 1 });
    const before = provider.stats();
    await expect(lease.release()).rejects.toSatisfy((e) => LeaseRevokedError.isInstance(e));
    expect(provider.stats()).toEqual(before);
  });

  it('a slot given a bad message rejects, typed, instead of throwing', async () => {
    const provider = await setup();
    const lease = await provider.acquire();

    let sent: Promise<unknown> | undefined;
    expect(() => {
      sent = lease.resource.send({ ...message, subject: 42 as unknown as string });
    }).not.toThrow();

    await expect(sent).rejects.toSatisfy((e) => ConfigInvalidError.isInstance(e));
    await lease.release();
    expect(provider.stats()).toMatchObject({ inUse: 0 });
  });

  it('a send still transferring when destroy writes off its slot settles cleanly', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    stops.push(() => process.off('unhandledRejection', onUnhandled));
    let answered = 0;
    const provider = await setup({
      onMailFrom(_address, _session, callback) {
        setTimeout(() => {
          answered++;
          callback();
        }, 200);
      },
    });

    const sending = provider.send(message).catch((e: unknown) => e);
    await vi.waitFor(() => expect(provider.stats().inUse).toBe(1));
    await provider.destroy();

    expect(PoolClosedError.isInstance(await sending)).toBe(true);
    expect(provider.stats().inUse).toBe(0);
    // The driver finishes the transfer on its own; giving its slot back then is not an error.
    await vi.waitFor(() => expect(answered).toBe(1));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(unhandled).toEqual([]);
  });

  it('a slot left in a scope is returned when it ends and counted as a leak', async () => {
    const provider = await setup();
    const reported = leaks();
    const scope = new ResourcePool().add(provider).scope('notify-step');

    const lease = await scope.acquire('notify');
    await scope.close();

    expect(lease.returned).toBe(true);
    expect(reported).toHaveLength(1);
    expect(reported[0]?.stack).toContain('mail-lease-misuse.test.ts');
    expect(provider.stats()).toMatchObject({ leaks: 1, inUse: 0 });
  });

  it('a slot held past leakDetectionMs is reported with the borrower stack', async () => {
    smtp = await startSmtp();
    mail = createMailProvider({
      name: 'notify',
      url: `smtp://127.0.0.1:${smtp.port}`,
      leakDetectionMs: 20,
    });
    const reported = leaks();

    const lease = await mail.acquire();
    await vi.waitFor(() => expect(reported).toHaveLength(1));
    await lease.release();

    expect(reported[0]?.stack).toContain('mail-lease-misuse.test.ts');
  });
});
