import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The built CLI, from `src/chaos` (tests) and `dist/chaos` (the runner) alike. */
export const DEMO_CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

/** Variables that would point the demo at other services than the flags do. */
const SERVICE_VARIABLES = [
  'KAYGRAPH_DB_URL',
  'KAYGRAPH_API_URL',
  'KAYGRAPH_API_TOKEN',
  'KAYGRAPH_SMTP_URL',
];

export interface DemoProcessOptions {
  args: string[];
  cwd: string;
  /** The demo's temp root: its temp directories go here, so what it leaves can be listed. */
  tmpdir: string;
  /** The report file among `args`; once it exists the process has `exitGraceMs` to end. */
  report: string;
  /** Longest the whole run may take before the process is killed. */
  deadlineMs: number;
  /** Time the process gets to end on its own after writing its report. Default 15 s. */
  exitGraceMs?: number;
  /** Aborting sends the demo SIGINT, as Ctrl-C would. */
  signal?: AbortSignal;
}

/** How the demo's process ended. */
export interface DemoExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  durationMs: number;
  /** False when it had to be killed: past the deadline, or still alive after its report. */
  endedOnItsOwn: boolean;
  /** Why it was killed, when it was. */
  killedBecause?: string;
  stdout: string;
  stderr: string;
}

/**
 * Run the demo CLI as a child process and wait for it to end. A demo that finished its work
 * (its report is written) must also leave on its own: a timer, socket or pool left open would
 * keep it alive, which is a failure in itself, so it is killed after a grace period and said so.
 */
export async function runDemoProcess(options: DemoProcessOptions): Promise<DemoExit> {
  if (!existsSync(DEMO_CLI)) throw new Error(`build the demo first: ${DEMO_CLI} is missing`);
  const started = performance.now();
  const child = spawn(process.execPath, [DEMO_CLI, ...options.args], {
    cwd: options.cwd,
    env: demoEnv(options.tmpdir),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = { stdout: '', stderr: '' };
  child.stdout.setEncoding('utf8').on('data', (text: string) => {
    output.stdout += text;
  });
  child.stderr.setEncoding('utf8').on('data', (text: string) => {
    output.stderr += text;
  });
  const ended = new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve([code, signal]));
  });

  let killedBecause: string | undefined;
  const watch = watchForHang(options, started, (reason) => {
    killedBecause ??= reason;
    child.kill('SIGKILL');
  });
  const onAbort = () => child.kill('SIGINT');
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const [code, signal] = await ended;
    return {
      code,
      signal,
      durationMs: performance.now() - started,
      endedOnItsOwn: killedBecause === undefined,
      ...(killedBecause === undefined ? {} : { killedBecause }),
      ...output,
    };
  } finally {
    clearInterval(watch);
    options.signal?.removeEventListener('abort', onAbort);
  }
}

/** Poll for the deadline and for a process that outlives its report. */
function watchForHang(
  options: DemoProcessOptions,
  started: number,
  kill: (reason: string) => void,
): NodeJS.Timeout {
  const graceMs = options.exitGraceMs ?? 15_000;
  let reportSeenAt: number | undefined;
  return setInterval(() => {
    const now = performance.now();
    if (reportSeenAt === undefined && existsSync(options.report)) reportSeenAt = now;
    if (reportSeenAt !== undefined && now - reportSeenAt > graceMs) {
      kill(`still running ${Math.round(graceMs / 1000)} s after writing its report`);
    } else if (now - started > options.deadlineMs) {
      kill(`not finished after ${Math.round(options.deadlineMs / 1000)} s`);
    }
  }, 250);
}

function demoEnv(tmpdir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, TMPDIR: tmpdir };
  for (const name of SERVICE_VARIABLES) delete env[name];
  return env;
}
