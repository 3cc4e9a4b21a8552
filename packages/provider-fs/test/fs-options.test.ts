import { ConfigInvalidError } from '@kaygraph/core';
import { afterEach, describe, expect, it } from 'vitest';
import { type FsProvider, createFsProvider } from '../src/index.js';
import { useTempRoots } from './helpers.js';

const makeRoot = useTempRoots();
const providers: FsProvider[] = [];
afterEach(async () => {
  await Promise.all(providers.splice(0).map((p) => p.destroy()));
});

function expectConfigError(build: () => unknown, mentions: string) {
  try {
    build();
  } catch (error) {
    expect(ConfigInvalidError.isInstance(error)).toBe(true);
    expect((error as ConfigInvalidError).code).toBe('KG_CONFIG_INVALID');
    expect((error as Error).message).toContain(mentions);
    return;
  }
  throw new Error('expected a ConfigInvalidError');
}

describe('createFsProvider options', () => {
  it('fills in the defaults and describes them', async () => {
    const root = await makeRoot();
    const fs = createFsProvider({ root });
    providers.push(fs);
    expect(fs.name).toBe('fs');
    expect(fs.kind).toBe('file');
    expect(fs.state).toBe('new');
    expect(fs.describe()).toEqual({
      root,
      rootReal: root,
      tempRoot: `${root}/.kaygraph-tmp`,
      maxOpenFiles: 64,
      acquireTimeoutMs: 30_000,
      tempPrefix: 'kaygraph-',
    });
    expect(fs.stats()).toMatchObject({ size: 0, inUse: 0, waiting: 0, maxOpenFiles: 64 });
  });

  it('takes a name, a cap, a prefix and a temp root', async () => {
    const root = await makeRoot();
    const elsewhere = await makeRoot();
    const fs = createFsProvider({
      root,
      name: 'files',
      maxOpenFiles: 3,
      acquireTimeoutMs: 10,
      tempPrefix: 'run-',
      tempRoot: elsewhere,
    });
    providers.push(fs);
    expect(fs.name).toBe('files');
    expect(fs.describe()).toMatchObject({
      maxOpenFiles: 3,
      tempPrefix: 'run-',
      tempRoot: elsewhere,
    });
  });

  it('requires an existing root directory', async () => {
    const root = await makeRoot();
    expectConfigError(() => createFsProvider({} as never), '"root" is required');
    expectConfigError(() => createFsProvider({ root: `${root}/missing` }), 'root');
    expectConfigError(() => createFsProvider({ root: 42 } as never), '"root"');
  });

  it('rejects unknown keys and bad values, naming the option', async () => {
    const root = await makeRoot();
    expectConfigError(() => createFsProvider({ root, maxOpenFile: 2 } as never), 'maxOpenFile');
    expectConfigError(() => createFsProvider({ root, maxOpenFiles: 0 }), 'maxOpenFiles');
    expectConfigError(() => createFsProvider({ root, maxOpenFiles: 1.5 }), 'maxOpenFiles');
    expectConfigError(() => createFsProvider({ root, acquireTimeoutMs: -1 }), 'acquireTimeoutMs');
    const closeTimeoutMs = '1' as unknown as number;
    expectConfigError(() => createFsProvider({ root, closeTimeoutMs }), 'closeTimeoutMs');
    expectConfigError(() => createFsProvider({ root, tempPrefix: 'a/b' }), 'tempPrefix');
    expectConfigError(() => createFsProvider({ root, tempPrefix: '..' }), 'tempPrefix');
    expectConfigError(() => createFsProvider({ root, name: '' }), 'name');
    expectConfigError(() => createFsProvider({ root, leakDetectionMs: -5 }), 'leakDetectionMs');
    expectConfigError(() => createFsProvider('root' as never), 'options must be an object');
  });

  it('accepts Infinity as an acquire timeout', async () => {
    const acquireTimeoutMs = Number.POSITIVE_INFINITY;
    const fs = createFsProvider({ root: await makeRoot(), acquireTimeoutMs });
    providers.push(fs);
    expect(fs.describe().acquireTimeoutMs).toBe(Number.POSITIVE_INFINITY);
  });

  it('reports health of the root without throwing', async () => {
    const fs = createFsProvider({ root: await makeRoot() });
    providers.push(fs);
    const report = await fs.check();
    expect(report.ok).toBe(true);
    expect(report.details).toMatchObject({ openFiles: 0 });
  });
});
