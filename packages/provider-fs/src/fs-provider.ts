import { constants, rmdirSync } from 'node:fs';
import { type FileHandle, access, mkdir, mkdtemp, open, realpath, rmdir } from 'node:fs/promises';
import path from 'node:path';
import {
  type AcquireOptions,
  AcquireTimeoutError,
  type CloseOptions,
  ConfigInvalidError,
  type HealthReport,
  type Lease,
  LeaseLedger,
  type Provider,
  type ProviderState,
  type ProviderStats,
  PoolClosedError,
  abortError,
  combineErrors,
  describe,
  errorInfo,
  publish,
  publishLazy,
} from '@kaygraph/core';
import { type ConfineBase, confineLexically, confinePath, confineReal } from './confine-path.js';
import { fsFailed } from './fs-errors.js';
import {
  type FsProviderOptions,
  type FsSettings,
  checkPrefix,
  resolveFsOptions,
} from './fs-options.js';
import { Semaphore } from './semaphore.js';
import { ScopedTempDir, type TempDir, type TempDirOptions } from './temp-dir.js';
import { TempTracker } from './temp-tracker.js';
import {
  type AtomicWriteResult,
  type AtomicWriteSource,
  type WriteAtomicOptions,
  writeAtomic,
} from './write-atomic.js';

/** Options of `FsProvider.acquire`. */
export interface FsAcquireOptions extends AcquireOptions {
  /** File to open, relative to the root (or absolute inside it). */
  path: string;
  /** `open(2)` flags, as for `fs.open`. @default 'r' */
  flags?: string | number;
  /** Permissions of a file the open creates. @default 0o600 (private to the user) */
  mode?: number;
}

/** `ProviderStats` plus what the file provider knows. */
export interface FsProviderStats extends ProviderStats {
  /** The handle cap. */
  maxOpenFiles: number;
  /** Temp files and directories created and not yet removed (not checked on disk). */
  tempEntries: number;
}

/**
 * File handles under a cap, confined to a root directory, plus temp directories that belong to a
 * scope and atomic writes. Every handle is lent through a lease; returning the lease closes it.
 */
export class FsProvider implements Provider<FileHandle> {
  readonly name: string;
  readonly kind = 'file';

  readonly #settings: FsSettings;
  readonly #ledger: LeaseLedger<FileHandle>;
  readonly #slots: Semaphore;
  readonly #temp = new TempTracker();
  readonly #bases: [ConfineBase, ConfineBase];
  #state: ProviderState = 'new';
  #tempRootReady: Promise<string> | undefined;
  #tempRootCreated = false;
  #shutdown: Promise<void> | undefined;
  #wakeCloser: (() => void) | undefined;
  #nextHandleId = 1;
  #openHandles = 0;
  #pending = 0;
  #created = 0;
  #destroyed = 0;
  #errors = 0;
  #acquireTimeouts = 0;

  constructor(options: FsProviderOptions) {
    this.#settings = resolveFsOptions(options);
    this.name = this.#settings.name;
    this.#ledger = new LeaseLedger({
      provider: this.name,
      leakDetectionMs: this.#settings.leakDetectionMs,
    });
    this.#slots = new Semaphore(this.#settings.maxOpenFiles);
    const { root, rootReal, tempRoot } = this.#settings;
    this.#bases = [
      { given: root, real: rootReal },
      { given: tempRoot, real: undefined },
    ];
  }

  get state(): ProviderState {
    return this.#state;
  }

  /** Mark the provider open. Nothing needs starting; acquires work before it too. Idempotent. */
  async open(): Promise<void> {
    this.#assertUsable();
    if (this.#state !== 'new') return;
    this.#state = 'open';
    publish('provider:open', { provider: this.name, time: Date.now(), kind: this.kind });
  }

  /**
   * Open a file as a lease, counted against `maxOpenFiles`; waits in line (FIFO) for a slot up to
   * `timeoutMs` (`AcquireTimeoutError`). Returning the lease closes the handle.
   *
   * @example
   * await using lease = await fs.acquire({ path: 'data/in.csv' });
   * const text = await lease.resource.readFile('utf8');
   */
  async acquire(options: FsAcquireOptions): Promise<Lease<FileHandle>> {
    this.#assertUsable();
    if (typeof options !== 'object' || options === null) {
      throw new ConfigInvalidError('acquire: options with a "path" are required');
    }
    const mode = checkMode('acquire', options.mode);
    const flags = checkFlags(options.flags);
    const lexical = confineLexically(options.path, this.#bases);
    const started = Date.now();
    // Taken before the wait: after it, the stack is that of whoever freed the slot.
    const stack = this.#ledger.borrowerStack();
    // The slot is asked for before anything is awaited, so waiters queue in call order; the
    // symlink half of the path check runs once the slot is held.
    await this.#takeSlot(options, started);
    let target: string;
    try {
      target = await confineReal(options.path, lexical, this.#bases);
    } catch (error) {
      this.#slots.give();
      throw error;
    }
    return this.#openLeased(target, options.path, flags, mode, options, started, stack);
  }

  /**
   * The absolute path `path` names inside the root, symlinks resolved. Throws `FsPathError`
   * (`KG_FS_PATH`) for a `..` escape, an absolute path outside the root, or a symlink that leads
   * out. Missing files are fine, so it can name a file about to be created.
   */
  resolve(path: string): Promise<string> {
    return confinePath(path, this.#bases);
  }

  /**
   * Create a private (mode 0700) temp directory under `tempRoot`. With a `scope`, it is removed
   * when the scope ends, however it ends; in any case, `close()` removes what is left.
   */
  async tempDir(options: TempDirOptions = {}): Promise<TempDir> {
    this.#assertUsable();
    const prefix = checkPrefix('tempDir', 'prefix', options.prefix, this.#settings.tempPrefix);
    const tempRoot = await this.#ensureTempRoot();
    if (options.signal?.aborted) throw abortError(options.signal, 'tempDir');
    let created: string;
    try {
      created = await mkdtemp(path.join(tempRoot, prefix));
    } catch (error) {
      throw fsFailed('creating a temp directory in', tempRoot, error);
    }
    this.#temp.add(created);
    const dir = new ScopedTempDir(created, this.#temp);
    try {
      options.scope?.defer(() => dir.remove());
      if (options.signal?.aborted) throw abortError(options.signal, 'tempDir');
      const refusal = this.#closedError(); // closed while the directory was being made
      if (refusal !== undefined) throw refusal;
    } catch (error) {
      // A scope that is already closed refuses the cleanup: nobody would remove the directory.
      await dir.remove();
      throw error;
    }
    return dir;
  }

  /**
   * Write a whole file atomically: a temp file (mode `mode`) in the same directory, streamed with
   * backpressure, fsynced, renamed over `path`, its directory fsynced. On any failure — the source
   * throws, the signal aborts, the disk fails — the temp file is removed and nothing appears at
   * `path`. `durable: false` skips the two fsyncs for scratch files a crash may lose; the rename
   * is atomic either way.
   *
   * @example
   * await fs.writeAtomic('out/report.json', JSON.stringify(report));
   * await fs.writeAtomic('out/rows.ndjson', rowsAsChunks(), { signal });
   * await fs.writeAtomic(tmp.join('part-1.ndjson'), lines, { durable: false });
   */
  async writeAtomic(
    path: string,
    data: AtomicWriteSource,
    options: WriteAtomicOptions = {},
  ): Promise<AtomicWriteResult> {
    this.#assertUsable();
    const mode = checkMode('writeAtomic', options.mode);
    const durable = options.durable ?? true;
    if (typeof durable !== 'boolean') {
      throw new ConfigInvalidError('writeAtomic: option "durable" must be true or false');
    }
    const stack = this.#ledger.borrowerStack();
    const target = await this.resolve(path);
    const deps = {
      tracker: this.#temp,
      tempPrefix: this.#settings.tempPrefix,
      openTemp: async (tempPath: string, tempMode: number) => {
        const started = Date.now();
        await this.#takeSlot(options, started);
        return this.#openLeased(tempPath, path, 'wx', tempMode, options, started, stack);
      },
    };
    return writeAtomic(path, target, data, { ...options, mode, durable }, deps);
  }

  /** How many temp files and directories this provider created still exist (checked on disk). */
  tempEntriesLeft(): number {
    return this.#temp.leftOnDisk();
  }

  /**
   * Remove every temp file and directory this provider created, synchronously, for a signal
   * handler that is about to exit. Open handles are left to the exiting process. Returns how many
   * entries were removed.
   *
   * @example
   * process.once('SIGINT', () => { fs.removeTempSync(); process.exit(130); });
   */
  removeTempSync(): number {
    const removed = this.#temp.removeAllSync();
    if (this.#tempRootCreated) {
      try {
        rmdirSync(this.#settings.tempRoot);
      } catch {
        // Not empty (someone else's files) or already gone: leave it.
      }
    }
    return removed;
  }

  stats(): FsProviderStats {
    return {
      size: this.#openHandles,
      inUse: this.#ledger.size,
      idle: 0,
      waiting: this.#slots.waiting,
      pending: this.#pending,
      created: this.#created,
      destroyed: this.#destroyed,
      errors: this.#errors,
      acquireTimeouts: this.#acquireTimeouts,
      leaks: this.#ledger.leaks,
      acquired: this.#ledger.acquired,
      released: this.#ledger.returned,
      maxOpenFiles: this.#settings.maxOpenFiles,
      tempEntries: this.#temp.size,
    };
  }

  /** Is the root readable and writable? Never throws. */
  async check(): Promise<HealthReport> {
    const started = Date.now();
    let error: unknown;
    try {
      await access(this.#settings.rootReal, constants.R_OK | constants.W_OK);
    } catch (caught) {
      error = caught;
    }
    const latencyMs = Date.now() - started;
    const details = { openFiles: this.#openHandles, tempEntries: this.#temp.size };
    publish('provider:health', {
      provider: this.name,
      time: Date.now(),
      ok: error === undefined,
      latencyMs,
      ...(error === undefined ? {} : { error: errorInfo(error) }),
    });
    if (error === undefined) return { ok: true, latencyMs, details };
    return { ok: false, latencyMs, error: `root is not usable: ${describe(error)}`, details };
  }

  /**
   * Graceful shutdown: refuse new acquires, fail queued ones with `PoolClosedError`, wait up to
   * `timeoutMs` (default: the `closeTimeoutMs` option) for leases to come back, then report the
   * rest as leaks and close their handles, and remove every temp entry left. Idempotent.
   */
  close(options: CloseOptions = {}): Promise<void> {
    this.#shutdown ??= this.#shutDown(false, options.timeoutMs ?? this.#settings.closeTimeoutMs);
    return this.#shutdown;
  }

  /** Forced shutdown: close every handle now, lent or not, and remove temp entries. Idempotent. */
  destroy(reason?: unknown): Promise<void> {
    this.#wakeCloser?.(); // a close() waiting for leases stops waiting
    this.#shutdown ??= this.#shutDown(true, 0, reason);
    return this.#shutdown;
  }

  /** Configuration facts for the monitor. */
  /** Count a lease as leaked (a scope ended with it still out), with the borrower's stack. */
  reportLeak(lease: Lease<FileHandle>, details?: { stack?: string }): void {
    this.#ledger.reportLeak(lease, details);
  }

  describe(): Record<string, unknown> {
    const { root, rootReal, tempRoot, maxOpenFiles, acquireTimeoutMs, tempPrefix } = this.#settings;
    return { root, rootReal, tempRoot, maxOpenFiles, acquireTimeoutMs, tempPrefix };
  }

  /** Open `target` with a slot already held and lend the handle. */
  async #openLeased(
    target: string,
    given: string,
    flags: string | number,
    mode: number,
    options: AcquireOptions,
    started: number,
    stack: string | undefined,
  ): Promise<Lease<FileHandle>> {
    const handle = await this.#openFile(target, given, flags, mode, options.signal);
    const id = this.#nextHandleId++;
    this.#created++;
    publishLazy('resource:create', () => ({
      provider: this.name,
      time: Date.now(),
      resourceId: id,
      durationMs: Date.now() - started,
    }));
    const hooks = {
      release: (file: FileHandle) => this.#closeHandle(file, id, 'released'),
      destroy: (file: FileHandle, reason: unknown) => this.#closeHandle(file, id, describe(reason)),
    };
    return this.#ledger.issue(handle, id, hooks, Date.now() - started, options.owner, stack);
  }

  async #takeSlot(options: AcquireOptions, started: number): Promise<void> {
    const timeoutMs = options.timeoutMs ?? this.#settings.acquireTimeoutMs;
    await this.#slots.take({
      signal: options.signal,
      timeoutMs,
      onTimeout: (waitMs) => {
        this.#acquireTimeouts++;
        publish('resource:acquire-timeout', {
          provider: this.name,
          time: started + waitMs,
          waitMs,
          ...(options.owner ? { owner: options.owner } : {}),
        });
        return new AcquireTimeoutError(
          `no file handle of provider "${this.name}" became free within ${timeoutMs} ms ` +
            `(maxOpenFiles ${this.#settings.maxOpenFiles})`,
        );
      },
    });
  }

  /** Open with a slot already held; on any failure the slot is given back. */
  async #openFile(
    target: string,
    given: string,
    flags: string | number,
    mode: number,
    signal: AbortSignal | undefined,
  ): Promise<FileHandle> {
    this.#pending++;
    let handle: FileHandle;
    try {
      handle = await open(target, flags, mode);
    } catch (error) {
      this.#slots.give();
      this.#errors++;
      publish('resource:create-error', {
        provider: this.name,
        time: Date.now(),
        durationMs: 0,
        error: errorInfo(error),
      });
      throw fsFailed('opening', given, error);
    } finally {
      this.#pending--;
      this.#wakeCloserIfIdle();
    }
    this.#openHandles++;
    // The caller may have given up, or the provider may have closed, while the open ran.
    const refusal = signal?.aborted ? abortError(signal, 'acquire') : this.#closedError();
    if (refusal !== undefined) {
      await handle.close().catch(() => undefined);
      this.#handleGone();
      throw refusal;
    }
    return handle;
  }

  /** A handle was closed (or never lent): its slot goes to the next in line. */
  #handleGone(): void {
    this.#openHandles--;
    this.#slots.give();
    this.#wakeCloserIfIdle();
  }

  async #closeHandle(handle: FileHandle, id: number, reason: string): Promise<void> {
    try {
      await handle.close();
    } catch (error) {
      this.#errors++;
      const info = { resourceId: id, error: errorInfo(error) };
      publish('resource:error', { provider: this.name, time: Date.now(), ...info });
      throw fsFailed('closing a handle of', this.#settings.root, error);
    } finally {
      this.#destroyed++;
      const time = Date.now();
      publish('resource:destroy', { provider: this.name, time, resourceId: id, reason });
      this.#handleGone();
    }
  }

  async #ensureTempRoot(): Promise<string> {
    this.#tempRootReady ??= (async () => {
      const { tempRoot } = this.#settings;
      try {
        const first = await mkdir(tempRoot, { recursive: true, mode: 0o700 });
        this.#tempRootCreated = first !== undefined;
        const real = await realpath(tempRoot);
        this.#bases[1].real = real;
        return real;
      } catch (error) {
        this.#tempRootReady = undefined; // let a later call try again
        throw fsFailed('creating the temp root', tempRoot, error);
      }
    })();
    return this.#tempRootReady;
  }

  async #shutDown(forced: boolean, timeoutMs: number, reason?: unknown): Promise<void> {
    this.#state = 'closing';
    this.#slots.failAll(new PoolClosedError(`provider "${this.name}" is closing`));
    if (!forced) await this.#waitForHandles(timeoutMs);
    const failures: unknown[] = [];
    const why = reason ?? new PoolClosedError(`provider "${this.name}" closed`);
    for (const lease of this.#ledger.outstanding()) {
      if (lease.returned) continue;
      if (!forced) this.#ledger.reportLeak(lease);
      await this.#ledger.revoke(lease, why).catch((error: unknown) => failures.push(error));
    }
    failures.push(...(await this.#temp.removeAll()));
    if (this.#tempRootCreated) await rmdir(this.#settings.tempRoot).catch(() => undefined);
    this.#ledger.close();
    this.#state = 'closed';
    publish('provider:close', { provider: this.name, time: Date.now(), kind: this.kind, forced });
    const failure = combineErrors(failures, `closing provider "${this.name}"`);
    if (failure !== undefined) throw failure;
  }

  /** Wait until no handle is open or being opened, or until the timeout. */
  #waitForHandles(timeoutMs: number): Promise<void> {
    if (this.#openHandles === 0 && this.#pending === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      // Not unref'd: with a handle that never comes back and nothing else to do, the process
      // must still reach the timeout and finish closing (temp entries included) rather than
      // exit half-closed.
      const timer = Number.isFinite(timeoutMs) ? setTimeout(done, timeoutMs) : undefined;
      const self = this;
      function done() {
        if (timer !== undefined) clearTimeout(timer);
        self.#wakeCloser = undefined;
        resolve();
      }
      this.#wakeCloser = done;
    });
  }

  #wakeCloserIfIdle(): void {
    if (this.#openHandles === 0 && this.#pending === 0) this.#wakeCloser?.();
  }

  #assertUsable(): void {
    const error = this.#closedError();
    if (error !== undefined) throw error;
  }

  #closedError(): PoolClosedError | undefined {
    if (this.#state !== 'closing' && this.#state !== 'closed') return undefined;
    return new PoolClosedError(`provider "${this.name}" is ${this.#state}; no new acquires`);
  }
}

/**
 * Create a file provider confined to `root`.
 *
 * @example
 * const fs = createFsProvider({ root: '/srv/export', maxOpenFiles: 32 });
 * await using tmp = await fs.tempDir();
 * await fs.writeAtomic(tmp.join('chunk-1.ndjson'), lines);
 */
export function createFsProvider(options: FsProviderOptions): FsProvider {
  return new FsProvider(options);
}

/** The string flags `fs.open` takes (aliases included). */
const openFlags = new Set(
  ['r', 'rs', 'r+', 'rs+', 'w', 'wx', 'xw', 'w+', 'wx+', 'xw+']
    .concat(['a', 'ax', 'xa', 'as', 'sa', 'a+', 'ax+', 'xa+', 'as+', 'sa+']),
);

/** Checked before a slot is taken: a bad value is the caller's mistake, not a file-system error. */
function checkFlags(value: unknown): string | number {
  if (value === undefined) return 'r';
  if (typeof value === 'string' && openFlags.has(value)) return value;
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return value;
  throw new ConfigInvalidError(
    `acquire: option "flags" must be open(2) flags like 'r', 'w' or 'a+', or a number, got ` +
      `${typeof value === 'string' ? JSON.stringify(value) : String(value)}`,
  );
}

function checkMode(where: string, value: unknown): number {
  if (value === undefined) return 0o600;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0o7777) {
    throw new ConfigInvalidError(`${where}: option "mode" must be a file mode like 0o600`);
  }
  return value;
}
