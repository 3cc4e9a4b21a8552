// Runs one measured child process: wall time from spawn to exit, taken by the parent, and the
// child's own peak RSS and CPU time, written by the child-rss.js preload as it exits.
import { spawn } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';

const RSS_PRELOAD = new URL('./child-rss.js', import.meta.url).href;

/** Output kept from a child, for the error message when it fails. */
const KEEP_BYTES = 64 * 1024;

let serial = 0;

/**
 * Run `node [--import p]... script args` and wait for it to exit. `tmp` is a scratch directory
 * for the RSS file. Resolves `{ wallMs, maxRssKb, cpuMs, stdout }`; rejects with the tail of stderr
 * when the child exits with anything but 0.
 */
export async function runNodeChild(script, args, { tmp, env = {}, preload = [], cwd = tmp }) {
  const rssFile = join(tmp, `rss-${process.pid}-${++serial}.json`);
  const imports = [RSS_PRELOAD, ...preload].flatMap((url) => ['--import', url]);
  const started = performance.now();
  const { code, signal, stdout, stderr } = await spawnAndWait(
    process.execPath,
    [...imports, script, ...args],
    { cwd, env: { ...process.env, ...env, KAYGRAPH_BENCH_RSS_FILE: rssFile } },
  );
  const wallMs = performance.now() - started;
  if (code !== 0) {
    throw new Error(
      `${script} exited with ${code ?? signal}:\n${tail(stderr) || tail(stdout) || '(no output)'}`,
    );
  }
  const { maxRssKb, cpuMs } = JSON.parse(await readFile(rssFile, 'utf8'));
  await rm(rssFile, { force: true });
  return { wallMs, maxRssKb, cpuMs, stdout };
}

/** Run a shell pipeline under bash with pipefail, so a failure anywhere in it is seen. */
export async function runShell(command, { env = {} } = {}) {
  const started = performance.now();
  const { code, stderr } = await spawnAndWait('bash', ['-o', 'pipefail', '-c', command], {
    env: { ...process.env, ...env },
  });
  const wallMs = performance.now() - started;
  if (code !== 0) throw new Error(`\`${command}\` exited with ${code}:\n${tail(stderr)}`);
  return { wallMs };
}

function spawnAndWait(command, args, options) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (text) => {
      stdout = (stdout + text).slice(-KEEP_BYTES);
    });
    child.stderr.setEncoding('utf8').on('data', (text) => {
      stderr = (stderr + text).slice(-KEEP_BYTES);
    });
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

function tail(text) {
  return text.trim().split('\n').slice(-20).join('\n');
}
