import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { useTempRoots } from './helpers.js';

const child = fileURLToPath(new URL('./fixtures/exit-child.mjs', import.meta.url));
const makeRoot = useTempRoots();

beforeAll(() => {
  // The child runs plain Node, so it loads the built package.
  if (!existsSync(fileURLToPath(new URL('../dist/index.js', import.meta.url)))) {
    throw new Error('build @kaygraph/provider-fs before running this test');
  }
});

describe('a process that closed its provider', () => {
  it('settles a timed-out wait and close, removes its temp entries, exits', async () => {
    const root = await makeRoot();
    const proc = fork(child, [root], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let report:
      | { waited: string; stats: Record<string, number>; state: string; left: number }
      | undefined;
    proc.on('message', (message) => {
      report = message as typeof report;
    });
    // A live timer or handle would keep the child running; the guard turns that into a failure.
    const guard = setTimeout(() => proc.kill('SIGKILL'), 20_000);
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
      proc.on('exit', (c, s) => resolve([c, s])),
    );
    clearTimeout(guard);

    expect(signal).toBeNull();
    expect(code).toBe(0);
    expect(report?.waited).toBe('KG_ACQUIRE_TIMEOUT');
    expect(report?.state).toBe('closed');
    expect(report?.stats).toMatchObject({ inUse: 0, waiting: 0, acquireTimeouts: 1, leaks: 1 });
    expect(report?.left).toBe(0);
    expect(await readdir(root)).toEqual([]);
  });
});
