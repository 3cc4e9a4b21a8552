import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { useTempRoots } from './helpers.js';

// SIGINT while an atomic write is under way: its temp file sits beside the target, outside any
// temp directory, and must go too.

const here = path.dirname(fileURLToPath(import.meta.url));
const child = path.join(here, 'fixtures', 'sigint-write-child.mjs');
const makeRoot = useTempRoots();
const running: ChildProcess[] = [];

beforeAll(() => {
  // The child runs plain Node, so it loads the built package.
  if (!existsSync(path.join(here, '..', 'dist', 'index.js'))) {
    throw new Error('build @kaygraph/provider-fs before running this test');
  }
});

afterEach(() => {
  for (const proc of running.splice(0)) proc.kill('SIGKILL');
});

function firstLine(proc: ChildProcess): Promise<{ entries: string[]; left: number }> {
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

describe.each(['sync', 'close'])('on SIGINT during an atomic write, cleaning up with %s', (how) => {
  it('exits 130 and leaves neither the temp file nor a partial target', async () => {
    const root = await makeRoot();
    await mkdir(path.join(root, 'exports'));
    const proc = spawn(process.execPath, [child, root, how], { stdio: ['ignore', 'pipe', 'pipe'] });
    running.push(proc);
    const ready = await firstLine(proc);
    expect(ready.left).toBe(1);
    expect(ready.entries).toHaveLength(1);
    expect(ready.entries[0]).toMatch(/^\.out\.ndjson\..*\.tmp$/);

    const exited = new Promise((resolve) => proc.once('exit', (code) => resolve(code)));
    proc.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(await readdir(path.join(root, 'exports'))).toEqual([]);
  });
});
