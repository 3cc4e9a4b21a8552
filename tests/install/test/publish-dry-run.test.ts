import { execFile, execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, packPackages, removeDir, tarballFiles, workspaceRoot } from './pack.js';

/** Every package under packages/ that is published, by name. */
const published = readdirSync(join(workspaceRoot, 'packages'))
  .map((dir) => JSON.parse(readFileSync(join(workspaceRoot, 'packages', dir, 'package.json'), 'utf8')))
  .filter((manifest) => manifest.private !== true)
  .map((manifest) => manifest.name as string)
  .sort();

/** What a published tarball may hold: built code and types, docs, license, manifest. */
const allowed = /^(dist\/.+\.(js|d\.ts)|README\.md|CHANGELOG\.md|LICENSE|package\.json)$/;

/** The files each package's `npm notice` block lists, by package name. */
function listedFiles(output: string): Map<string, string[]> {
  const files = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of output.split('\n')) {
    const header = /npm notice 📦\s+(@kaygraph\/[\w-]+)@/.exec(line);
    if (header) {
      current = [];
      files.set(header[1]!, current);
      continue;
    }
    if (line.includes('Tarball Details')) current = undefined;
    const file = /^npm notice [\d.]+k?B\s+(\S+)$/.exec(line);
    if (current && file) current.push(file[1]!);
  }
  return files;
}

describe('pnpm publish:dry', () => {
  // A stand-in registry that records what is asked of it: the dry run must ask nothing.
  const requests: string[] = [];
  let registry: Server | undefined;
  let registryUrl = '';

  beforeAll(async () => {
    registry = createServer((req, res) => {
      requests.push(`${req.method} ${req.url}`);
      res.statusCode = 404;
      res.end('{}');
    });
    await new Promise<void>((ready) => registry!.listen(0, '127.0.0.1', ready));
    registryUrl = `http://127.0.0.1:${(registry.address() as AddressInfo).port}/`;
  });

  afterAll(async () => {
    registry?.closeAllConnections();
    await new Promise((done) => registry?.close(done));
  });

  it('lists only dist, README, CHANGELOG, LICENSE and package.json, and contacts no registry', async () => {
    const output = await new Promise<string>((done, fail) => {
      const env = { ...process.env, npm_config_registry: registryUrl, CI: 'true' };
      execFile(
        'pnpm',
        ['run', 'publish:dry'],
        { cwd: workspaceRoot, env, encoding: 'utf8', timeout: 240_000, maxBuffer: 1 << 24 },
        (error, stdout, stderr) =>
          error ? fail(new Error(`${error.message}\n${stdout}\n${stderr}`)) : done(stdout + stderr),
      );
    });

    expect(requests).toEqual([]);
    const files = listedFiles(output);
    expect([...files.keys()].sort()).toEqual(published);
    for (const [name, list] of files) {
      expect(list.filter((file) => !allowed.test(file)), name).toEqual([]);
      for (const needed of ['README.md', 'LICENSE', 'package.json', 'dist/index.js', 'dist/index.d.ts']) {
        expect(list, `${name} must ship ${needed}`).toContain(needed);
      }
    }
  });
});

describe('packed manifests', () => {
  let tarballDir: string | undefined;
  let tarballs: Map<string, string>;

  beforeAll(() => {
    tarballDir = makeTempDir('kaygraph-tarballs-');
    tarballs = packPackages(published, tarballDir);
  });

  afterAll(() => removeDir(tarballDir));

  it('have no workspace: ranges left and point exports at shipped files', () => {
    for (const [name, tarball] of tarballs) {
      const manifest = JSON.parse(
        execFileSync('tar', ['-xzOf', tarball, 'package/package.json'], { encoding: 'utf8' }),
      );
      const ranges = { ...manifest.dependencies, ...manifest.peerDependencies };
      for (const [dep, range] of Object.entries(ranges)) {
        expect(String(range), `${name} → ${dep}`).not.toMatch(/^workspace:/);
        if (dep.startsWith('@kaygraph/')) expect(range, `${name} → ${dep}`).toMatch(/^\d|^\^|^~/);
      }

      const shipped = new Set(tarballFiles(tarball));
      for (const target of Object.values<Record<string, string> | string>(manifest.exports)) {
        const paths = typeof target === 'string' ? [target] : Object.values(target);
        for (const path of paths) expect(shipped, `${name} exports ${path}`).toContain(path.slice(2));
      }
    }
  });
});
