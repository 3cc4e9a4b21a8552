import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type Workspace,
  errorLines,
  makeWorkspace,
  readReport,
  runCli,
  sourceFlags,
  tempLeft,
} from './helpers/cli.js';

/** A port nothing listens on: bound, read, released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('demo delivery: what counts as uploaded and mailed', () => {
  let workspace: Workspace;
  const cleanups: (() => Promise<void>)[] = [];

  beforeEach(async () => {
    workspace = await makeWorkspace();
  });

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup();
    await workspace.remove();
  });

  it('fails the run when the upload endpoint answers with a redirect', async () => {
    const nowhere = await closedPort();
    let requests = 0;
    const api = createHttpServer((req, res) => {
      requests++;
      req.resume();
      req.on('end', () => {
        res.writeHead(307, { location: `http://127.0.0.1:${nowhere}${req.url}` }).end();
      });
    });
    await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => api.close(() => resolve())));
    const { port } = api.address() as { port: number };

    const result = await runCli(
      [
        ...sourceFlags(500),
        '--api-url', `http://127.0.0.1:${port}/up`,
        '--api-token', 'redirect-token-1234',
        '--quiet',
        '--report', workspace.report,
      ],
      workspace,
    );

    expect(requests).toBeGreaterThan(0);
    expect(result.code).toBe(1);
    const lines = errorLines(result);
    expect(lines, result.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/chunk-000001\.ndjson\.gz/);
    expect(lines[0]).toMatch(/307/);
    expect(result.stderr).not.toContain('redirect-token-1234');
    const report = await readReport(workspace);
    expect(report.ok).toBe(false);
    expect(report.chunks.uploaded).toBe(0);
    expect(report.rows.uploaded).toBe(0);
    expect(report.chunks.failed).toBeGreaterThan(0);
    expect(report.notifications.sent).toBe(0);
    expect(await tempLeft(workspace)).toEqual([]);
  });

});
