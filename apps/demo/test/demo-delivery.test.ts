import { createServer as createHttpServer } from 'node:http';
import { type Socket, createServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type Workspace,
  errorLines,
  makeWorkspace,
  readReport,
  runCli,
  sourceFlags,
  spawnCli,
  tempLeft,
  waitFor,
} from './helpers/cli.js';
import { closedPort } from './helpers/ports.js';

interface ScriptedSmtp {
  url: string;
  /** Connections accepted so far. */
  connections(): number;
  /** AUTH commands received so far. */
  authAttempts(): number;
  close(): Promise<void>;
}

/**
 * A line-based SMTP server on loopback that greets with `greeting` and refuses every AUTH with
 * `authReply`; enough for the client to fail the way a real server refusing it would.
 */
async function startScriptedSmtp(greeting: string, authReply = '535 5.7.8 bad credentials'):
  Promise<ScriptedSmtp> {
  let connections = 0;
  let auths = 0;
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.write(`${greeting}\r\n`);
    let pending = '';
    socket.setEncoding('utf8').on('data', (text: string) => {
      pending += text;
      for (let end = pending.indexOf('\r\n'); end >= 0; end = pending.indexOf('\r\n')) {
        const line = pending.slice(0, end);
        pending = pending.slice(end + 2);
        const verb = line.split(' ')[0]!.toUpperCase();
        if (verb === 'EHLO') socket.write('250-scripted\r\n250 AUTH PLAIN LOGIN\r\n');
        else if (verb === 'AUTH') {
          auths++;
          socket.write(`${authReply}\r\n`);
        } else if (verb === 'QUIT') socket.end('221 bye\r\n');
        else socket.write('502 not here\r\n');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `smtp://127.0.0.1:${port}`,
    connections: () => connections,
    authAttempts: () => auths,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
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

  it('does not send again to a server whose greeting is a permanent refusal (554)', async () => {
    const smtp = await startScriptedSmtp('554 5.7.1 no service for you');
    cleanups.push(() => smtp.close());

    const result = await runCli(
      [...sourceFlags(500), '--smtp-url', smtp.url, '--quiet', '--report', workspace.report],
      workspace,
    );

    expect(result.code).toBe(1);
    expect(errorLines(result)[0]).toMatch(/summary mail not sent/);
    expect(errorLines(result)[0]).toMatch(/554/);
    expect(smtp.connections()).toBe(1);
    const report = await readReport(workspace);
    expect(report.notifications.failed).toBe(1);
    expect(report.rows.uploaded).toBe(500);
  });

  it('does not try again after an authentication failure (535)', async () => {
    const smtp = await startScriptedSmtp('220 scripted ready');
    cleanups.push(() => smtp.close());
    const withUser = smtp.url.replace('smtp://', 'smtp://demo:Wr0ng-Secret-pw@');

    const result = await runCli(
      [...sourceFlags(500), '--smtp-url', withUser, '--quiet', '--report', workspace.report],
      workspace,
    );

    expect(result.code).toBe(1);
    expect(errorLines(result)[0]).toMatch(/535/);
    expect(result.stderr).not.toContain('Wr0ng-Secret-pw');
    expect(smtp.authAttempts()).toBe(1);
    const report = await readReport(workspace);
    expect(report.notifications.failed).toBe(1);
  });

  it('still tries again while the server says "try later" (421)', async () => {
    const smtp = await startScriptedSmtp('421 4.3.2 busy, try later');
    cleanups.push(() => smtp.close());

    const result = await runCli(
      [...sourceFlags(500), '--smtp-url', smtp.url, '--quiet', '--report', workspace.report],
      workspace,
    );

    expect(result.code).toBe(1);
    expect(errorLines(result)[0]).toMatch(/421/);
    // The provider's own tries (3) for each of the node's (3).
    expect(smtp.connections()).toBe(9);
  });

  it('refuses a --report in a folder that does not exist before anything starts', async () => {
    let requests = 0;
    const api = createHttpServer((req, res) => {
      requests++;
      req.resume();
      res.writeHead(200).end();
    });
    await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => api.close(() => resolve())));
    const { port } = api.address() as { port: number };
    const report = join(workspace.root, 'no-such-folder', 'r.json');

    const result = await runCli(
      [...sourceFlags(500), '--api-url', `http://127.0.0.1:${port}/up`, '--report', report],
      workspace,
    );

    expect(result.code).toBe(2);
    const lines = errorLines(result);
    expect(lines, result.stderr).toHaveLength(1);
    expect(lines[0]).toContain(report);
    expect(requests).toBe(0);
    expect(await tempLeft(workspace)).toEqual([]);
  });

  it('stops at once on SIGINT while the SMTP server has not greeted yet', async () => {
    let connections = 0;
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => {
      connections++;
      sockets.add(socket);
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    cleanups.push(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    });
    const { port } = silent.address() as { port: number };

    // The greeting is awaited for ten minutes, longer than the CLI's 20 s grace after a signal:
    // a run that ends cleanly ended because of the interrupt, not because a timeout fired.
    const cli = spawnCli(
      [
        ...sourceFlags(500),
        '--smtp-url', `smtp://127.0.0.1:${port}`,
        '--quiet',
        '--report', workspace.report,
      ],
      workspace,
      { KAYGRAPH_SMTP_TIMEOUT_MS: '600000' },
    );
    await waitFor(() => connections > 0, 100_000, 'the SMTP connection');
    cli.child.kill('SIGINT');
    const result = await cli.done;

    expect(connections).toBe(1);
    expect(result.code).toBe(130);
    // One line, and not the one of a shutdown cut short by the grace period.
    expect(errorLines(result)).toEqual(['kaygraph-demo: interrupted by SIGINT']);
    const report = await readReport(workspace);
    expect(report.ok).toBe(false);
    expect(report.rows.uploaded).toBe(500);
    expect(report.notifications.sent).toBe(0);
    for (const [name, stats] of Object.entries(report.resources)) {
      expect(stats.inUse, `${name} in use`).toBe(0);
      expect(stats.leaks, `${name} leaks`).toBe(0);
    }
    expect(await tempLeft(workspace)).toEqual([]);
  });
});
