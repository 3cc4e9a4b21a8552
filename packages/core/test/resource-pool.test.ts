import { describe, expect, it } from 'vitest';
import {
  CleanupError,
  ConfigInvalidError,
  PoolClosedError,
  ProviderNotFoundError,
  ResourcePool,
} from '../src/index.js';
import { TestProvider } from './support/test-provider.js';

function threeProviders(log: string[], failing: Partial<Record<'a' | 'b' | 'c', Error>> = {}) {
  return new ResourcePool()
    .add(new TestProvider({ name: 'a', log, ...(failing.a ? { openError: failing.a } : {}) }))
    .add(new TestProvider({ name: 'b', log, ...(failing.b ? { openError: failing.b } : {}) }))
    .add(new TestProvider({ name: 'c', log, ...(failing.c ? { openError: failing.c } : {}) }));
}

describe('ResourcePool registry', () => {
  it('adds providers in a chain and lists them in order', () => {
    const a = new TestProvider({ name: 'a' });
    const b = new TestProvider({ name: 'b' });
    const resources = new ResourcePool().add(a).add(b);

    expect(resources.list()).toEqual([a, b]);
    expect(resources.get<TestProvider>('b')).toBe(b);
    expect(resources.has('a')).toBe(true);
  });

  it('refuses a second provider with the same name', () => {
    const resources = new ResourcePool().add(new TestProvider({ name: 'db' }));

    expect(() => resources.add(new TestProvider({ name: 'db' }))).toThrow(ConfigInvalidError);
  });

  it('refuses something that is not a provider', () => {
    expect(() => new ResourcePool().add({ name: 'x' } as never)).toThrow(ConfigInvalidError);
  });

  it('names the missing provider and the known ones', () => {
    const resources = new ResourcePool()
      .add(new TestProvider({ name: 'db' }))
      .add(new TestProvider({ name: 'fs' }));

    let error: unknown;
    try {
      resources.get('http');
    } catch (e) {
      error = e;
    }

    expect(ProviderNotFoundError.isInstance(error)).toBe(true);
    expect((error as Error).message).toContain('"http"');
    expect((error as Error).message).toContain('db, fs');
  });

  it('reports stats of every provider by name', async () => {
    const resources = new ResourcePool().add(new TestProvider({ name: 'a', max: 3 }));
    await resources.open();
    const scope = resources.scope('s');
    await scope.acquire('a');

    expect(resources.stats()).toMatchObject({ a: { size: 3, inUse: 1, idle: 2 } });
    await scope.close();
    expect(resources.stats().a).toMatchObject({ inUse: 0, leaks: 1 });
    await resources.close();
  });
});

describe('ResourcePool lifecycle', () => {
  it('opens in order and closes in reverse order', async () => {
    const log: string[] = [];
    const resources = threeProviders(log);

    await resources.open();
    expect(resources.state).toBe('open');
    await resources.close();

    expect(log).toEqual(['open:a', 'open:b', 'open:c', 'close:c', 'close:b', 'close:a']);
    expect(resources.state).toBe('closed');
  });

  it('closes what it opened, in reverse, when one provider fails to open', async () => {
    const log: string[] = [];
    const failure = new Error('c cannot connect');
    const resources = threeProviders(log, { c: failure });

    await expect(resources.open()).rejects.toBe(failure);

    expect(log).toEqual(['open:a', 'open:b', 'open:c', 'close:c', 'close:b', 'close:a']);
    expect(resources.state).toBe('new');
  });

  it('keeps the open error when the rollback fails too', async () => {
    const openError = new Error('b cannot connect');
    const closeError = new Error('a cannot close');
    const resources = new ResourcePool()
      .add(new TestProvider({ name: 'a', closeError }))
      .add(new TestProvider({ name: 'b', openError }));

    const error = await resources.open().catch((e: unknown) => e);

    expect(CleanupError.isInstance(error)).toBe(true);
    expect((error as CleanupError).suppressed).toBe(openError);
    expect((error as CleanupError).error).toBe(closeError);
  });

  it('closes every provider when some fail to close and throws all failures', async () => {
    const log: string[] = [];
    const one = new Error('a failed');
    const two = new Error('c failed');
    const resources = new ResourcePool()
      .add(new TestProvider({ name: 'a', log, closeError: one }))
      .add(new TestProvider({ name: 'b', log }))
      .add(new TestProvider({ name: 'c', log, closeError: two }));
    await resources.open();

    const error = await resources.close().catch((e: unknown) => e);

    expect(error).toBeInstanceOf(AggregateError);
    expect((error as AggregateError).errors).toEqual([two, one]);
    const closes = log.filter((line) => line.startsWith('close:'));
    expect(closes).toEqual(['close:c', 'close:b', 'close:a']);
  });

  it('closes once, however often close is called', async () => {
    const log: string[] = [];
    const resources = threeProviders(log);
    await resources.open();

    const first = resources.close();
    expect(resources.close()).toBe(first);
    await first;
    await resources.close();

    expect(log.filter((line) => line.startsWith('close:'))).toHaveLength(3);
  });

  it('destroys in reverse order, once, and refuses to open again', async () => {
    const log: string[] = [];
    const resources = threeProviders(log);
    await resources.open();

    await Promise.all([resources.destroy(new Error('shutdown')), resources.destroy()]);

    expect(log.slice(3)).toEqual(['destroy:c', 'destroy:b', 'destroy:a']);
    await expect(resources.open()).rejects.toSatisfy((e) => PoolClosedError.isInstance(e));
    expect(() => resources.add(new TestProvider({ name: 'd' }))).toThrow(PoolClosedError);
  });

  it('fails acquires through its scopes once closed', async () => {
    const resources = new ResourcePool().add(new TestProvider());
    await resources.open();
    await resources.close();

    const scope = resources.scope('late');
    await expect(scope.acquire('test')).rejects.toSatisfy((e) => PoolClosedError.isInstance(e));
    await scope.close();
  });
});
