import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
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

/** How a program run with {@link runProgram} ended. */
export interface ProgramResult {
  /** Exit code; `null` when the process was killed (e.g. it did not exit by the deadline). */
  code: number | null;
  /** The signal that killed it, if one did. */
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Run a program in the consumer project without blocking this process, so a server in the test
 * can answer it. The program must exit on its own: one still running after `timeoutMs` is killed
 * and reported with `signal` set, which the tests treat as a failure to close cleanly.
 */
export function runProgram(
  dir: string,
  file: string,
  source: string,
  env: NodeJS.ProcessEnv = {},
  timeoutMs = 60_000,
): Promise<ProgramResult> {
  writeFileSync(join(dir, file), source);
  return new Promise((done) => {
    const options = {
      cwd: dir,
      env: { ...process.env, ...env },
      encoding: 'utf8' as const,
      timeout: timeoutMs,
      killSignal: 'SIGKILL' as const,
    };
    execFile(process.execPath, [file], options, (error, stdout, stderr) => {
      const failure = error as (Error & { code?: unknown; signal?: NodeJS.Signals }) | null;
      done({
        code: failure === null ? 0 : typeof failure.code === 'number' ? failure.code : null,
        signal: failure?.signal ?? null,
        stdout,
        stderr,
      });
    });
  });
}

/**
 * Names of every package npm installed in the project, at any depth, read from the lockfile
 * npm wrote (`node_modules/a/node_modules/b` counts as `b`).
 */
export function installedPackages(dir: string): Set<string> {
  const lock = JSON.parse(readFileSync(join(dir, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, unknown>;
  };
  const names = new Set<string>();
  for (const key of Object.keys(lock.packages)) {
    const at = key.lastIndexOf('node_modules/');
    if (at >= 0) names.add(key.slice(at + 'node_modules/'.length));
  }
  return names;
}

/** The files inside a tarball, without the leading `package/`. */
export function tarballFiles(tarball: string): string[] {
  const listing = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' });
  return listing
    .split('\n')
    .filter((line) => line.length > 0 && !line.endsWith('/'))
    .map((line) => line.replace(/^package\//, ''))
    .sort();
}

/** A fresh directory in the OS temp dir; remove it with {@link removeDir}. */
export function makeTempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function removeDir(dir: string | undefined): void {
  if (dir) rmSync(dir, { recursive: true, force: true });
}
