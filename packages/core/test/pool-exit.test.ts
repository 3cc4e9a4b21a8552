import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const distEntry = join(packageDir, 'dist', 'index.js');
const tempDir = mkdtempSync(join(tmpdir(), 'kaygraph-pool-exit-'));

/** Build dist when it is missing or older than the pool's sources, so the child runs this code. */
function ensureBuilt(): void {
  const built = join(packageDir, 'dist', 'pool', 'pool.js');
  const sources = readdirSync(join(packageDir, 'src', 'pool')).map((file) =>
    statSync(join(packageDir, 'src', 'pool', file)).mtimeMs,
  );
  if (existsSync(built) && statSync(built).mtimeMs >= Math.max(...sources)) return;
  execFileSync(join(packageDir, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.build.json'], {
    cwd: packageDir,
    stdio: 'inherit',
  });
}

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  killed: boolean;
}

/** Run a module in a child node; kill it if it is still alive after `limitMs`. */
function runChild(body: string, limitMs = 8_000): Promise<Exit> {
  const file = join(tempDir, `child-${Math.random().toString(36).slice(2)}.mjs`);
  const entry = JSON.stringify(pathToFileURL(distEntry).href);
  writeFileSync(file, `import { Pool } from ${entry};\n${body}`);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let killed = false;
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    const guard = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, limitMs);
    child.on('exit', (code, signal) => {
      clearTimeout(guard);
      resolve({ code, signal, stdout, stderr, killed });
    });
  });
}

beforeAll(() => {
  ensureBuilt();
}, 120_000);

afterAll(() => {
  rmSync(tempDir, { recursive: true, force: true });
});

describe('a process using a Pool', () => {
  it('exits on its own after acquire, release, use and close', async () => {
    const exit = await runChild(`
      let next = 1;
      const pool = new Pool({
        name: 'exit',
        create: async () => ({ id: next++ }),
        destroy: async () => {},
        validate: () => true,
        min: 2,
        max: 3,
        idleTimeoutMs: 1000,
        maxLifetimeMs: 60000,
        validateOnBorrow: true,
        leakDetectionMs: 10000,
      });
      await pool.open();
      const leases = await Promise.all([pool.acquire(), pool.acquire(), pool.acquire()]);
      const waiting = pool.acquire({ timeoutMs: 50 }).catch((e) => e.code);
      console.log(await waiting);
      for (const lease of leases) await lease.release();
      console.log(await pool.use((thing) => thing.id));
      console.log((await pool.check()).ok);
      await pool.close();
      console.log(pool.state);
    `);

    expect(exit.killed).toBe(false);
    expect(exit.stderr).toBe('');
    expect(exit.code).toBe(0);
    expect(exit.stdout.trim().split('\n')).toEqual(['KG_ACQUIRE_TIMEOUT', '3', 'true', 'closed']);
  });

  it('exits on its own with idle resources and no close', async () => {
    const exit = await runChild(`
      const pool = new Pool({ create: async () => ({}), min: 2, idleTimeoutMs: 60000 });
      const lease = await pool.acquire();
      await lease.release();
      console.log(pool.stats().idle);
    `);

    expect(exit.killed).toBe(false);
    expect(exit.code).toBe(0);
    expect(exit.stdout.trim()).toBe('2');
  });

  it('exits on its own while failing creates back off, once nobody waits', async () => {
    const exit = await runChild(`
      const pool = new Pool({
        create: async () => { throw new Error('refused'); },
        min: 1,
        createRetryMs: 60000,
        createRetryMaxMs: 60000,
      });
      console.log(await pool.acquire().catch((e) => e.code));
      console.log(await pool.acquire({ timeoutMs: 20 }).catch((e) => e.code));
    `);

    expect(exit.killed).toBe(false);
    expect(exit.code).toBe(0);
    expect(exit.stdout.trim().split('\n')).toEqual(['KG_RESOURCE', 'KG_ACQUIRE_TIMEOUT']);
  });
});
