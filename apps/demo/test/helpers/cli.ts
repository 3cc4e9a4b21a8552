import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExportReport } from '../../src/report.js';

const here = dirname(fileURLToPath(import.meta.url));
/** The built CLI: the tests run what `pnpm demo` runs. */
export const CLI = join(here, '..', '..', 'dist', 'cli.js');

/** Prefix of the run's temp directory (as in `src/export-resources.ts`). */
export const TEMP_PREFIX = 'kaygraph-export-';

/** A private folder for one CLI run: its cwd (outbox), its TMPDIR, its report. */
export interface Workspace {
  root: string;
  tmp: string;
  report: string;
  outbox: string;
  remove(): Promise<void>;
}

export async function makeWorkspace(): Promise<Workspace> {
  const root = await mkdtemp(join(tmpdir(), 'kaygraph-demo-test-'));
  const tmp = join(root, 'tmp');
  await mkdir(tmp);
  return {
    root,
    tmp,
    report: join(root, 'report.json'),
    outbox: join(root, '.kaygraph-outbox'),
    remove: () => rm(root, { recursive: true, force: true }),
  };
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliProcess {
  child: ChildProcess;
  /** Output so far. */
  output(): { stdout: string; stderr: string };
  done: Promise<CliResult>;
}

/** Environment for the CLI: no service URLs inherited, so what is not given runs embedded. */
function cliEnv(workspace: Workspace, extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, TMPDIR: workspace.tmp, ...extra };
  const serviceVariables = [
    'KAYGRAPH_DB_URL',
    'KAYGRAPH_API_URL',
    'KAYGRAPH_API_TOKEN',
    'KAYGRAPH_SMTP_URL',
  ];
  for (const name of serviceVariables) {
    if (!(name in extra)) delete env[name];
  }
  return env;
}

export function spawnCli(
  args: string[],
  workspace: Workspace,
  env: Record<string, string> = {},
): CliProcess {
  if (!existsSync(CLI)) throw new Error(`build the demo first: ${CLI} is missing`);
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: workspace.root,
    env: cliEnv(workspace, env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (text: string) => {
    stdout += text;
  });
  child.stderr!.setEncoding('utf8').on('data', (text: string) => {
    stderr += text;
  });
  const done = new Promise<CliResult>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, output: () => ({ stdout, stderr }), done };
}

export function runCli(
  args: string[],
  workspace: Workspace,
  env: Record<string, string> = {},
): Promise<CliResult> {
  return spawnCli(args, workspace, env).done;
}

export async function readReport(workspace: Workspace): Promise<ExportReport> {
  return JSON.parse(await readFile(workspace.report, 'utf8')) as ExportReport;
}

/** Entries the demo left in its TMPDIR (it should leave none of its own). */
export async function tempLeft(workspace: Workspace): Promise<string[]> {
  const entries = await readdir(workspace.tmp);
  return entries.filter((name) => name.startsWith('kaygraph'));
}

/** The lines the CLI wrote to stderr. */
export function errorLines(result: CliResult): string[] {
  return result.stderr.split('\n').filter((line) => line.trim().length > 0);
}

/** Wait until `check` is true, polling; fails after `timeoutMs`. */
export async function waitFor(check: () => boolean, timeoutMs: number, what: string) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/**
 * Flags for a small export source: the real PostgreSQL from `KAYGRAPH_TEST_PG_URL` when there is
 * one (quick to start), else nothing, so the embedded database and its sample table are used.
 * Either way the source has at least `rows` rows.
 */
export function sourceFlags(rows = 20_000): string[] {
  const url = process.env.KAYGRAPH_TEST_PG_URL;
  if (url === undefined) return [];
  const query = `SELECT g AS id, md5(g::text) AS payload FROM generate_series(1, ${rows}) AS g`;
  return ['--db-url', url, '--query', query];
}
