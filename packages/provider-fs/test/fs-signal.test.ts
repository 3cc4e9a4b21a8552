import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { useTempRoots } from './helpers.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const child = path.join(here, 'fixtures', 'sigint-child.mjs');
const makeRoot = useTempRoots();
const running: ChildProcess[] = [];

beforeAll(() => {
  // The child runs plain Node, so it loads the built package.
  if (!existsSync(path.join(here, '..', 'dist', 'index.js'))) {
    throw new Error('build @kaygraph/provider-fs before running this test');
  }
});

afterEach(() => {
  for (const process of running.splice(0)) process.kill('SIGKILL');
});

function firstLine(proc: ChildProcess): Promise<{ dir: string; left: number }> {
  return new Promise((resolve, reject) => {
    let text = '';
    let errors = '';
    proc.stderr?.on('data', (chunk) => {
      errors += chunk;
    });
    proc.stdout?.on('data', (chunk) => {
      text += chunk;
      const end = text.indexOf('\n');
      if (end >= 0) resolve(JSON.parse(text.slice(0, end)));
    });
    proc.once('exit', (code) => reject(new Error(`child exited early (${code}): ${errors}`)));
  });
}

function exitCode(proc: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => proc.once('exit', (code) => resolve(code)));
}

describe.each(['sync', 'close'])('on SIGINT, a CLI that cleans up with %s', (how) => {
  it('exits 130 and leaves no temp entry', async () => {
    const root = await makeRoot();
    const proc = spawn(process.execPath, [child, root, how], { stdio: ['ignore', 'pipe', 'pipe'] });
    running.push(proc);
    const ready = await firstLine(proc);
    expect(ready.left).toBe(1);
    expect((await stat(ready.dir)).isDirectory()).toBe(true);

    const exited = exitCode(proc);
    proc.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(existsSync(ready.dir)).toBe(false);
    expect(await readdir(root)).toEqual([]);
  });
});
