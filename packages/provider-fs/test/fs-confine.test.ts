import { mkdir, readdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type FsProvider, FsPathError, createFsProvider } from '../src/index.js';
import { useTempRoots } from './helpers.js';

const makeRoot = useTempRoots();
const providers: FsProvider[] = [];
afterEach(async () => {
  await Promise.all(providers.splice(0).map((p) => p.destroy()));
});

async function setup() {
  const root = await makeRoot();
  const outside = await makeRoot();
  const fs = createFsProvider({ root });
  providers.push(fs);
  return { root, outside, fs };
}

async function expectRefused(promise: Promise<unknown>, badPath: string) {
  const error = await promise.then(
    () => {
      throw new Error(`expected ${badPath} to be refused`);
    },
    (caught: unknown) => caught,
  );
  expect(FsPathError.isInstance(error)).toBe(true);
  expect((error as FsPathError).code).toBe('KG_FS_PATH');
  expect((error as FsPathError).path).toBe(badPath);
  expect((error as Error).message).toContain(JSON.stringify(badPath));
}

describe('path confinement', () => {
  it('resolves relative paths inside the root, missing files included', async () => {
    const { root, fs } = await setup();
    expect(await fs.resolve('a/b.txt')).toBe(path.join(root, 'a/b.txt'));
    expect(await fs.resolve('a/../b.txt')).toBe(path.join(root, 'b.txt'));
    expect(await fs.resolve('.')).toBe(root);
    expect(await fs.resolve(path.join(root, 'c.txt'))).toBe(path.join(root, 'c.txt'));
  });

  it('refuses a ".." that climbs out of the root', async () => {
    const { fs } = await setup();
    await expectRefused(fs.resolve('../escape.txt'), '../escape.txt');
    await expectRefused(fs.resolve('a/../../escape.txt'), 'a/../../escape.txt');
  });

  it('refuses absolute paths outside the root, and non-paths', async () => {
    const { outside, fs } = await setup();
    await expectRefused(fs.resolve('/etc/passwd'), '/etc/passwd');
    await expectRefused(fs.resolve(path.join(outside, 'x')), path.join(outside, 'x'));
    await expectRefused(fs.resolve('a\0b'), 'a\0b');
    await expectRefused(fs.resolve(''), '');
  });

  it('refuses a symlink that leads outside, for existing and new files', async () => {
    const { root, outside, fs } = await setup();
    await writeFile(path.join(outside, 'secret.txt'), 'secret');
    await symlink(outside, path.join(root, 'out'));
    await symlink(path.join(outside, 'secret.txt'), path.join(root, 'secret-link'));
    await expectRefused(fs.resolve('out/secret.txt'), 'out/secret.txt');
    await expectRefused(fs.resolve('out/new/file.txt'), 'out/new/file.txt');
    await expectRefused(fs.resolve('secret-link'), 'secret-link');
    await expectRefused(fs.acquire({ path: 'out/secret.txt' }), 'out/secret.txt');
    await expectRefused(fs.writeAtomic('out/planted.txt', 'x'), 'out/planted.txt');
    expect(await readdir(outside)).toEqual(['secret.txt']);
    expect(fs.stats().size).toBe(0);
  });

  it('refuses a dangling symlink, which would create its target wherever it points', async () => {
    const { root, outside, fs } = await setup();
    await symlink(path.join(outside, 'not-yet.txt'), path.join(root, 'dangling'));
    await expectRefused(fs.resolve('dangling'), 'dangling');
    await expectRefused(fs.acquire({ path: 'dangling', flags: 'w' }), 'dangling');
    expect(await readdir(outside)).toEqual([]);
  });

  it('follows a symlink that stays inside the root', async () => {
    const { root, fs } = await setup();
    await mkdir(path.join(root, 'real'));
    await writeFile(path.join(root, 'real', 'data.txt'), 'hello');
    await symlink(path.join(root, 'real'), path.join(root, 'link'));
    expect(await fs.resolve('link/data.txt')).toBe(path.join(root, 'real', 'data.txt'));
    await using lease = await fs.acquire({ path: 'link/data.txt' });
    expect(await lease.resource.readFile('utf8')).toBe('hello');
  });

  it('accepts the absolute path of a root reached through a symlink', async () => {
    const base = await makeRoot();
    await mkdir(path.join(base, 'real-root'));
    await symlink(path.join(base, 'real-root'), path.join(base, 'root-link'));
    const fs = createFsProvider({ root: path.join(base, 'root-link') });
    providers.push(fs);
    const resolved = await fs.resolve(path.join(base, 'root-link', 'file.txt'));
    expect(resolved).toBe(path.join(base, 'real-root', 'file.txt'));
    await expectRefused(fs.resolve(path.join(base, 'file.txt')), path.join(base, 'file.txt'));
  });
});
