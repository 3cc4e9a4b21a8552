import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type TestServer, startServer } from './support/test-server.js';

const child = fileURLToPath(new URL('./fixtures/exit-child.mjs', import.meta.url));
let server: TestServer | undefined;

beforeAll(() => {
  // The child runs plain Node, so it loads the built package.
  if (!existsSync(fileURLToPath(new URL('../dist/index.js', import.meta.url)))) {
    throw new Error('build @kaygraph/provider-http before running this test');
  }
});

afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('a process that closed its provider', () => {
  it('exits on its own: no socket or timer is left', async () => {
    let busy = true;
    server = await startServer((req, res) => {
      if (req.url === '/busy-once' && busy) {
        busy = false;
        res.writeHead(503).end('busy');
        return;
      }
      res.end('ok');
    });
    const proc = fork(child, {
      env: { ...process.env, CHILD_ORIGIN: server.origin },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let report: { stats: Record<string, number>; state: string } | undefined;
    proc.on('message', (message) => {
      report = message as typeof report;
    });
    // A live handle would keep the child running; the guard turns that into a failure.
    const guard = setTimeout(() => proc.kill('SIGKILL'), 20_000);
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
      proc.on('exit', (c, s) => resolve([c, s])),
    );
    clearTimeout(guard);

    expect(signal).toBeNull();
    expect(code).toBe(0);
    expect(report?.state).toBe('closed');
    expect(report?.stats).toMatchObject({ inUse: 0, waiting: 0, acquireTimeouts: 1, size: 0 });
    expect(busy).toBe(false);
  });
});
