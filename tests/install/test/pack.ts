import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/** The workspace root, three levels above this file. */
export const workspaceRoot = resolve(import.meta.dirname, '../../..');

/**
 * Pack the named workspace packages into tarballs, as `pnpm publish` would (workspace: ranges
 * rewritten to versions), and return their paths by package name.
 */
export function packPackages(names: string[], into: string): Map<string, string> {
  const tarballs = new Map<string, string>();
  for (const name of names) {
    const dir = join(workspaceRoot, 'packages', name.replace('@kaygraph/', ''));
    const before = new Set(readdirSync(into));
    execFileSync('pnpm', ['pack', '--pack-destination', into], { cwd: dir, stdio: 'pipe' });
    const made = readdirSync(into).find((file) => !before.has(file) && file.endsWith('.tgz'));
    if (made === undefined) throw new Error(`pnpm pack made no tarball for ${name}`);
    tarballs.set(name, join(into, made));
  }
  return tarballs;
}

/**
 * A fresh npm project outside the workspace with exactly these tarballs installed. Every
 * @kaygraph dependency is pinned to its tarball through `overrides`, so npm never asks the
 * registry for our own packages; third-party dependencies come from the registry as for a user.
 */
export function makeConsumer(install: string[], tarballs: Map<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'kaygraph-consumer-'));
  const overrides: Record<string, string> = {};
  for (const [name, path] of tarballs) overrides[name] = `file:${path}`;
  const dependencies: Record<string, string> = {};
  for (const name of install) dependencies[name] = `file:${tarballs.get(name)}`;
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ name: 'consumer', private: true, type: 'module', dependencies, overrides }),
  );
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd: dir,
    stdio: 'pipe',
  });
  return dir;
}

/** Run a program in the consumer project and return its stdout. */
export function runIn(dir: string, file: string, source: string, env: NodeJS.ProcessEnv = {}) {
  writeFileSync(join(dir, file), source);
  return execFileSync(process.execPath, [file], {
    cwd: dir,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
}

export function removeDir(dir: string | undefined): void {
  if (dir) rmSync(dir, { recursive: true, force: true });
}
