import { getEventListeners } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import {
  AbortedError,
  CleanupError,
  type KayGraphEvents,
  ProviderNotFoundError,
  ResourcePool,
  Scope,
  ScopeClosedError,
  subscribe,
} from '../src/index.js';
import { TestProvider, deferred } from './support/test-provider.js';

const stops: (() => void)[] = [];
afterEach(() => {
  for (const stop of stops.splice(0)) stop();
});

function collectLeaks(): KayGraphEvents['resource:leak'][] {
  const events: KayGraphEvents['resource:leak'][] = [];
  stops.push(subscribe('resource:leak', (event) => events.push(event)));
  return events;
}

describe('Scope defer', () => {
  it('runs cleanups in reverse order of registration', async () => {
    const scope = new Scope('s');
    const order: number[] = [];
    scope.defer(() => order.push(1));
    scope.defer(async () => {
      await new Promise((resolve) => setImmediate(resolve));
      order.push(2);
    });
    scope.defer(() => order.push(3));

    await scope.close();

    expect(order).toEqual([3, 2, 1]);
  });

  it('runs every cleanup when some fail, and throws the failure', async () => {
    const scope = new Scope('s');
    const ran: string[] = [];
    const boom = new Error('boom');
    scope.defer(() => ran.push('first'));
    scope.defer(() => {
      throw boom;
    });
    scope.defer(() => ran.push('last'));

    await expect(scope.close()).rejects.toBe(boom);
    expect(ran).toEqual(['last', 'first']);
  });

  it('collects several failures in an AggregateError', async () => {
    const scope = new Scope('s');
    const a = new Error('a');
    const b = new Error('b');
    scope.defer(() => Promise.reject(a));
    scope.defer(() => {
      throw b;
    });

    const error = await scope.close().catch((e: unknown) => e);

    expect(error).toBeInstanceOf(AggregateError);
    expect((error as AggregateError).errors).toEqual([b, a]);
  });

  it('keeps both the in-flight error and a cleanup failure', async () => {
    const scope = new Scope('s');
    const original = new Error('work failed');
    const cleanup = new Error('cleanup failed');
    scope.defer(() => {
      throw cleanup;
    });

    const error = await scope.close(original).catch((e: unknown) => e);

    expect(CleanupError.isInstance(error)).toBe(true);
    expect((error as CleanupError).error).toBe(cleanup);
    expect((error as CleanupError).suppressed).toBe(original);
  });

  it('resolves when closed with an in-flight error and every cleanup succeeds', async () => {
    const scope = new Scope('s');
    let ran = false;
    scope.defer(() => {
      ran = true;
    });

    await expect(scope.close(new Error('work failed'))).resolves.toBeUndefined();
    expect(ran).toBe(true);
  });

  it('closes once: a second close returns the same outcome and runs nothing again', async () => {
    const scope = new Scope('s');
    let runs = 0;
    scope.defer(() => {
      runs++;
    });

    const first = scope.close();
    const second = scope.close();
    await first;
    await second;
    await scope.close();

    expect(second).toBe(first);
    expect(runs).toBe(1);
    expect(scope.closed).toBe(true);
  });

  it('refuses defer and acquire after close', async () => {
    const resources = new ResourcePool().add(new TestProvider());
    const scope = resources.scope('s');
    await scope.close();

    expect(() => scope.defer(() => {})).toThrow(ScopeClosedError);
    await expect(scope.acquire('test')).rejects.toSatisfy((e) => ScopeClosedError.isInstance(e));
  });
});

describe('Scope signal', () => {
  it('aborts when the scope closes', async () => {
    const scope = new Scope('s');
    expect(scope.signal.aborted).toBe(false);

    await scope.close();

    expect(scope.signal.aborted).toBe(true);
    expect(AbortedError.isInstance(scope.signal.reason)).toBe(true);
  });

  it('aborts with the parent signal and its reason', () => {
    const controller = new AbortController();
    const scope = new Scope('s', { signal: controller.signal });
    const reason = new Error('stop');

    controller.abort(reason);

    expect(scope.signal.aborted).toBe(true);
    expect(scope.signal.reason).toBe(reason);
  });
});

describe('Scope signal, created on first read', () => {
  it('is aborted with the parent signal reason when first read after the parent aborted', () => {
    const controller = new AbortController();
    const run = new Scope('run', { signal: controller.signal });
    const node = run.child('graph').child('node');
    const reason = new Error('cancelled');

    controller.abort(reason);

    expect(node.signal.aborted).toBe(true);
    expect(node.signal.reason).toBe(reason);
  });

  it('aborts a signal read earlier as soon as an ancestor aborts, with its reason', () => {
    const controller = new AbortController();
    const node = new Scope('run', { signal: controller.signal }).child('graph').child('node');
    const seen: unknown[] = [];
    node.signal.addEventListener('abort', () => seen.push(node.signal.reason));
    const reason = new Error('cancelled');

    controller.abort(reason);

    expect(seen).toEqual([reason]);
  });

  it('keeps the reason of whichever of two upstreams aborted first', () => {
    const parent = new AbortController();
    const extra = new AbortController();
    const child = new Scope('run', { signal: parent.signal }).child('node', {
      signal: extra.signal,
    });
    const first = new Error('timed out');

    extra.abort(first);
    parent.abort(new Error('cancelled later'));

    expect(child.signal.reason).toBe(first);
  });

  it('gives a signal first read after close the close reason and in-flight error', async () => {
    const scope = new Scope('s');
    const failure = new Error('work failed');

    await scope.close(failure);

    expect(AbortedError.isInstance(scope.signal.reason)).toBe(true);
    expect((scope.signal.reason as Error).cause).toBe(failure);
  });

  it('aborts an open child, read or not, with the reason of the parent closing', async () => {
    const parent = new Scope('parent');
    const unread = parent.child('unread');
    const read = parent.child('read');
    const readSignal = read.signal;

    await parent.close();

    expect(readSignal.aborted).toBe(true);
    expect(unread.signal.reason).toBe(readSignal.reason);
    expect(AbortedError.isInstance(readSignal.reason)).toBe(true);
  });

  it('does not abort a child that closed on its own when the parent closes later', async () => {
    const parent = new Scope('parent');
    const child = parent.child('child');
    await child.close();

    await parent.close();

    expect((child.signal.reason as Error).message).toContain('"child"');
  });

  it('aborts its children in the order they started listening, after some of them closed', async () => {
    const controller = new AbortController();
    const parent = new Scope('run', { signal: controller.signal });
    const order: string[] = [];
    const listening = (name: string) => {
      const child = parent.child(name);
      child.signal.addEventListener('abort', () => order.push(name));
      return child;
    };
    // One child listens alone and leaves; then several listen and one of them leaves.
    await listening('a').close();
    listening('b');
    const c = listening('c');
    listening('d');
    await c.close();
    listening('e');

    controller.abort();

    expect(order).toEqual(['a', 'c', 'b', 'd', 'e']);
  });

  it('leaves no listener on the parent signal once it has closed', async () => {
    const controller = new AbortController();
    const scope = new Scope('s', { signal: controller.signal });
    scope.child('read').signal;

    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    await scope.close();
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });
});

describe('Scope owner', () => {
  it('merges the parent owner, the child owner fields and the child name', () => {
    const run = new Scope('run', { owner: { runId: 'r1' } });
    const node = run.child('node', { owner: { node: 'reader' } });
    const named = run.child('x', { owner: { scope: 'custom' } });

    expect(node.owner).toEqual({ runId: 'r1', node: 'reader', scope: 'node' });
    expect(named.owner).toEqual({ runId: 'r1', scope: 'custom' });
    expect(new Scope('bare').owner).toEqual({ scope: 'bare' });
  });

  it('copies the owner given to the constructor', () => {
    const owner = { runId: 'r1' };
    const scope = new Scope('s', { owner });
    owner.runId = 'changed';

    expect(scope.owner).toEqual({ runId: 'r1', scope: 's' });
  });
});

describe('Scope children', () => {
  it('closes children before the parent runs its own cleanups', async () => {
    const parent = new Scope('parent');
    const order: string[] = [];
    parent.defer(() => order.push('parent'));
    const child = parent.child('child');
    child.defer(() => order.push('child'));
    const grandchild = child.child('grandchild');
    grandchild.defer(() => order.push('grandchild'));

    await parent.close();

    expect(order).toEqual(['grandchild', 'child', 'parent']);
    expect(child.closed && grandchild.closed).toBe(true);
  });

  it('aborts a child when the parent closes, and lets a child close on its own', async () => {
    const parent = new Scope('parent', { owner: { runId: 'r1' } });
    const early = parent.child('early');
    const late = parent.child('late', { owner: { node: 'n' } });
    const order: string[] = [];
    early.defer(() => order.push('early'));
    late.defer(() => order.push('late'));

    await early.close();
    expect(order).toEqual(['early']);
    expect(late.signal.aborted).toBe(false);
    expect(late.owner).toEqual({ runId: 'r1', node: 'n', scope: 'late' });

    await parent.close();
    expect(order).toEqual(['early', 'late']);
    expect(late.signal.aborted).toBe(true);
  });

  it('closes an open child with its own error, so the child destroys its leases', async () => {
    const provider = new TestProvider({ max: 2 });
    const resources = new ResourcePool().add(provider);
    const parent = resources.scope('node');
    const child = parent.child('attempt');
    const failure = new Error('post failed');
    const childLease = await child.acquire<{ id: number }>('test');
    const parentLease = await parent.acquire<{ id: number }>('test');

    await parent.close(failure);

    expect(provider.returns).toEqual([
      `destroy:${parentLease.resource.id}`,
      `destroy:${childLease.resource.id}`,
    ]);
    expect(AbortedError.isInstance(child.signal.reason)).toBe(true);
  });

  it('releases the leases of a child that closed cleanly before its parent failed', async () => {
    const provider = new TestProvider({ max: 1 });
    const parent = new ResourcePool().add(provider).scope('node');
    const child = parent.child('attempt');
    const lease = await child.acquire<{ id: number }>('test');

    await child.close();
    await parent.close(new Error('later failure'));

    expect(provider.returns).toEqual([`release:${lease.resource.id}`]);
  });

  it("wraps a child's cleanup failure with the parent's error once", async () => {
    const parent = new Scope('node');
    const child = parent.child('attempt');
    const failure = new Error('exec failed');
    const broken = new Error('cleanup broke');
    child.defer(() => {
      throw broken;
    });

    const closing = parent.close(failure);

    await expect(closing).rejects.toBeInstanceOf(CleanupError);
    const error = (await closing.catch((e: unknown) => e)) as CleanupError;
    expect(error.error).toBe(broken);
    expect(error.suppressed).toBe(failure);
  });
});

describe('Scope leases', () => {
  it('passes its owner and a signal that follows both the scope and the caller', async () => {
    const provider = new TestProvider({ max: 0 });
    const resources = new ResourcePool().add(provider);
    const scope = resources.scope('s', { owner: { runId: 'run-1', node: 'reader' } });
    const caller = new AbortController();

    const pending = scope.acquire('test', { signal: caller.signal });
    const seen = provider.acquireCalls[0]!;
    expect(seen.owner).toEqual({ runId: 'run-1', node: 'reader', scope: 's' });
    expect(seen.signal?.aborted).toBe(false);

    caller.abort();
    await expect(pending).rejects.toSatisfy((e) => AbortedError.isInstance(e));
    expect(seen.signal?.aborted).toBe(true);
    expect(scope.signal.aborted).toBe(false);
    await scope.close();
  });

  it('cancels an acquire still waiting when the scope closes', async () => {
    const provider = new TestProvider({ max: 0 });
    const scope = new ResourcePool().add(provider).scope('s');

    const pending = scope.acquire('test');
    const outcome = pending.catch((e: unknown) => e);
    await scope.close();

    expect(AbortedError.isInstance(await outcome)).toBe(true);
    expect(provider.stats().waiting).toBe(0);
  });

  it('releases a lease still out at close and reports it with the borrower stack', async () => {
    const leaks = collectLeaks();
    const provider = new TestProvider();
    const resources = new ResourcePool().add(provider);
    const scope = resources.scope('s', { owner: { runId: 'run-7' } });

    const kept = await scope.acquire('test');
    const returned = await scope.acquire('test');
    await returned.release();
    expect(provider.stats().inUse).toBe(1);

    await scope.close();

    expect(kept.returned).toBe(true);
    expect(provider.stats().inUse).toBe(0);
    expect(scope.leaks).toBe(1);
    expect(resources.leaks()).toBe(1);
    expect(provider.stats().leaks).toBe(1);
    expect(leaks).toHaveLength(1);
    expect(leaks[0]).toMatchObject({
      provider: 'test',
      leaseId: kept.id,
      owner: { runId: 'run-7', scope: 's' },
    });
    expect(leaks[0]!.stack).toContain('scope.test.ts');
  });

  it('releases a leftover lease after a clean end, destroys it after a failure', async () => {
    const provider = new TestProvider();
    const resources = new ResourcePool().add(provider);
    const clean = resources.scope('clean');
    const failed = resources.scope('failed');
    const kept = await clean.acquire('test');
    const broken = await failed.acquire('test');
    const failure = new Error('work failed');

    await clean.close();
    await failed.close(failure).catch(() => undefined);

    expect(provider.returns).toEqual([`release:${(kept.resource as { id: number }).id}`, `destroy:${(broken.resource as { id: number }).id}`]);
    expect(provider.stats().inUse).toBe(0);
    expect(resources.leaks()).toBe(2);
  });

  it('publishes the leak itself for a provider without reportLeak', async () => {
    const leaks = collectLeaks();
    const provider = new TestProvider({ name: 'plain', withoutReportLeak: true });
    const scope = new ResourcePool().add(provider).scope('s');

    const lease = await scope.acquire('plain');
    await scope.close();

    expect(leaks).toHaveLength(1);
    expect(leaks[0]).toMatchObject({ provider: 'plain', leaseId: lease.id });
    expect(leaks[0]!.stack).toContain('scope.test.ts');
    expect(provider.stats().inUse).toBe(0);
  });

  it('returns a lease after cleanups registered later, before earlier ones', async () => {
    const provider = new TestProvider();
    const scope = new ResourcePool().add(provider).scope('s');
    const seen: boolean[] = [];

    scope.defer(() => seen.push(lease.returned));
    const lease = await scope.acquire('test');
    scope.defer(() => seen.push(lease.returned));
    await scope.close();

    expect(seen).toEqual([false, true]);
  });

  it('counts leaks of child scopes in the pool', async () => {
    const resources = new ResourcePool().add(new TestProvider());
    const run = resources.scope('run');
    const node = run.child('node');

    await node.acquire('test');
    await run.close();

    expect(node.leaks).toBe(1);
    expect(resources.leaks()).toBe(1);
  });

  it('use() returns the lease when the callback ends, by value or by throw', async () => {
    const provider = new TestProvider({ max: 1 });
    const scope = new ResourcePool().add(provider).scope('s');
    const boom = new Error('boom');

    const id = await scope.use('test', (resource: { id: number }) => resource.id);
    const failed = scope.use('test', () => {
      throw boom;
    });

    expect(id).toBe(1);
    await expect(failed).rejects.toBe(boom);
    expect(provider.stats().inUse).toBe(0);
    await scope.close();
    expect(scope.leaks).toBe(0);
  });

  it('fails an acquire from an unknown provider with ProviderNotFoundError', async () => {
    const scope = new ResourcePool().add(new TestProvider()).scope('s');

    await expect(scope.acquire('nope')).rejects.toSatisfy((e) => ProviderNotFoundError.isInstance(e));
    await expect(new Scope('bare').acquire('test')).rejects.toSatisfy((e) =>
      ProviderNotFoundError.isInstance(e),
    );
    await scope.close();
  });

  it('waits for an acquire in flight and returns a lease that arrives during close', async () => {
    const gate = deferred();
    const provider = new TestProvider();
    const original = provider.acquire.bind(provider);
    // A provider that ignores the abort and hands the lease out late.
    provider.acquire = async (options) => {
      await gate.promise;
      return original({ ...options, signal: undefined });
    };
    const scope = new ResourcePool().add(provider).scope('s');

    const pending = scope.acquire('test').catch((e: unknown) => e);
    const closing = scope.close();
    gate.resolve();
    await closing;

    expect(ScopeClosedError.isInstance(await pending)).toBe(true);
    expect(provider.stats().inUse).toBe(0);
  });
});
