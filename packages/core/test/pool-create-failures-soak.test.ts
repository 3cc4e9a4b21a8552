import { type Socket, connect, createServer } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { AcquireTimeoutError, ResourceError } from '../src/errors.js';
import { Pool } from '../src/pool/pool.js';

// Case 6 on the real clock: a host that is down (every create is a TCP connect refused by the
// kernel) while callers keep asking for 10 s. Creates must back off rather than spin, callers must
// be told the cause, and nothing may pile up: the heap after a full GC is the same at the end as
// after the first seconds. CPU is not asserted (tests assert no time); the counts below bound it.

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const SOAK_MS = 10_000;
const CALLERS = 8;
const ACQUIRE_TIMEOUT_MS = 200;

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function connectTo(port: number, signal: AbortSignal): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, signal });
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}

function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

describe('a pool whose creates always fail, for 10 s', () => {
  it('backs off, tells every caller the cause, and keeps the heap flat', async () => {
    const port = await closedPort();
    let connects = 0;
    const pool = new Pool<Socket>({
      name: 'host-down',
      max: 4,
      acquireTimeoutMs: ACQUIRE_TIMEOUT_MS,
      create: (signal) => {
        connects++;
        return connectTo(port, signal);
      },
      destroy: (socket) => {
        socket.destroy();
      },
    });

    const failures = { withCause: 0, other: [] as unknown[] };
    let acquires = 0;
    let heapEarly = 0;
    const endAt = Date.now() + SOAK_MS;
    const caller = async () => {
      while (Date.now() < endAt) {
        acquires++;
        try {
          const lease = await pool.acquire();
          failures.other.push(new Error('a create to a closed port succeeded'));
          await lease.release();
        } catch (error) {
          const cause = (error as Error).cause as NodeJS.ErrnoException | undefined;
          const typed = ResourceError.isInstance(error) || AcquireTimeoutError.isInstance(error);
          if (typed && cause?.code === 'ECONNREFUSED') failures.withCause++;
          else failures.other.push(error);
        }
      }
    };
    const sampler = new Promise<void>((resolve) =>
      setTimeout(() => {
        heapEarly = heapAfterGc();
        resolve();
      }, 2_000),
    );

    await Promise.all([...Array.from({ length: CALLERS }, caller), sampler]);
    const heapEnd = heapAfterGc();
    await pool.close();

    expect(failures.other).toEqual([]);
    // Every failure but the very first ones (before any create had failed) names the cause.
    expect(failures.withCause).toBeGreaterThanOrEqual(acquires - CALLERS);
    // Backoff from 100 ms doubling: at most 9 attempts fit in 10 s (a spin would make thousands).
    expect(connects).toBeLessThanOrEqual(10);
    // Callers are paced by their acquire timeout, not by a failing create: no busy loop.
    expect(acquires).toBeLessThanOrEqual(CALLERS * (SOAK_MS / ACQUIRE_TIMEOUT_MS + 1) + connects);
    expect(pool.stats()).toMatchObject({ size: 0, pending: 0, waiting: 0, inUse: 0 });
    // Flat: 8 s of failures add less than 1 MiB to what the heap held after the first 2 s.
    expect(heapEnd - heapEarly).toBeLessThan(1024 * 1024);
  }, 30_000);
});
