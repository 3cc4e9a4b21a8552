import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

const child = fileURLToPath(new URL('./fixtures/exit-child.mjs', import.meta.url));

beforeAll(() => {
  // The child runs plain Node, so it loads the built package.
  if (!existsSync(fileURLToPath(new URL('../dist/index.js', import.meta.url)))) {
    throw new Error('build @kaygraph/provider-memory before running this test');
  }
});

describe('a process that closed its provider', () => {
  it('settles a timed-out wait and a timed-out close, then exits on its own', async () => {
    const proc = fork(child, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let report: { waited: string; stats: Record<string, number>; state: string } | undefined;
    proc.on('message', (message) => {
      report = message as typeof report;
    });
    // A live timer would keep the child running; the guard turns that into a failure.
    const guard = setTimeout(() => proc.kill('SIGKILL'), 20_000);
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
      proc.on('exit', (c, s) => resolve([c, s])),
    );
    clearTimeout(guard);

    expect(signal).toBeNull();
    expect(code).toBe(0);
    expect(report?.waited).toBe('KG_MEMORY_BUDGET');
    expect(report?.state).toBe('closed');
    expect(report?.stats).toMatchObject({ inUse: 0, waiting: 0, acquireTimeouts: 1, leaks: 1 });
    expect(report?.stats).toMatchObject({ size: 0, bytesInUse: 0 });
  });
});
