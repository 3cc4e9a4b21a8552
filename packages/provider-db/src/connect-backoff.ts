import { backoffDelay } from '@kaygraph/core';

/** One acquire's place in line for a new connection while connects fail. */
export interface ConnectTurn {
  /** Resolves when this acquire may connect; rejects with the error of a failed attempt. */
  readonly ready: Promise<void>;
  /** Call when `ready` resolved, just before connecting: false if the acquire gave up meanwhile. */
  begin(): boolean;
  /** The acquire gave up (timeout, abort, close): leave the line, or pass the turn on. */
  cancel(): void;
}

/**
 * Paces new connections while the server refuses them. pg-pool makes a connect for every
 * acquire that finds nothing idle, so callers retrying against a server that is down would make
 * connects as fast as they can fail. After a failed connect, an acquire that needs a new
 * connection waits for the next attempt instead: one attempt (the probe) after a backoff that
 * doubles per failure, up to a cap. A failed probe fails every acquire waiting with its error, so
 * callers learn the cause at the pace of the backoff; a connect that works ends the backoff and
 * lets everyone waiting connect.
 */
export class ConnectBackoff {
  #failures = 0;
  #retryAt = 0;
  #probing = false;
  #line: Turn[] = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly baseMs: number,
    private readonly maxMs: number,
  ) {}

  /** True while the last connect failed: new connections go through `turn()`. */
  get failing(): boolean {
    return this.#failures > 0;
  }

  /** Take a place in line for a new connection. */
  turn(): ConnectTurn {
    const turn = new Turn(this);
    if (!this.#probing && Date.now() >= this.#retryAt && this.#line.length === 0) {
      this.#probing = true;
      turn.admit();
    } else {
      this.#line.push(turn);
      this.#arm();
    }
    return turn;
  }

  /**
   * A connect failed: back off further and fail everyone waiting with its error. `probe` says
   * whether it was the attempt this backoff allowed; other failures (connects that started before
   * the first failure was known) fail the line but count as one failure, not one each.
   */
  failed(error: unknown, probe: boolean): void {
    if (probe || this.#failures === 0) {
      this.#failures++;
      this.#probing = false;
      this.#retryAt = Date.now() + backoffDelay(this.#failures, this.baseMs, this.maxMs);
    }
    this.#disarm();
    for (const turn of this.#line.splice(0)) turn.fail(error);
  }

  /** A connect worked: the server is back, everyone waiting may connect. */
  succeeded(): void {
    if (this.#failures === 0) return;
    this.#failures = 0;
    this.#probing = false;
    this.#retryAt = 0;
    this.#disarm();
    for (const turn of this.#line.splice(0)) turn.admit();
  }

  /** The provider is shutting down: no timer left behind (waiters are failed by their race). */
  close(): void {
    this.#disarm();
    this.#line = [];
  }

  /** @internal called by a turn that gives up. */
  leave(turn: Turn, admitted: boolean, connecting: boolean): void {
    // A probe already connecting ends through failed() or succeeded().
    if (connecting) return;
    if (admitted) {
      // The probe gave up before it connected: the next in line probes instead.
      if (this.#probing && this.#failures > 0) {
        this.#probing = false;
        this.#next();
      }
      return;
    }
    const at = this.#line.indexOf(turn);
    if (at >= 0) this.#line.splice(at, 1);
    if (this.#line.length === 0) this.#disarm();
  }

  #arm(): void {
    if (this.#timer !== undefined || this.#probing) return;
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        this.#next();
      },
      Math.max(0, this.#retryAt - Date.now()),
    );
  }

  #disarm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Start the next probe, if its time has come and someone waits. */
  #next(): void {
    if (this.#probing || this.#line.length === 0) return;
    if (Date.now() < this.#retryAt) {
      this.#arm();
      return;
    }
    this.#probing = true;
    this.#line.shift()!.admit();
  }
}

class Turn implements ConnectTurn {
  readonly ready: Promise<void>;
  #cancelled = false;
  #admitted = false;
  #connecting = false;
  #resolve!: () => void;
  #reject!: (error: unknown) => void;

  constructor(private readonly backoff: ConnectBackoff) {
    this.ready = new Promise<void>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    // A turn failed after its acquire gave up has nobody to tell.
    this.ready.catch(() => {});
  }

  admit(): void {
    this.#admitted = true;
    this.#resolve();
  }

  fail(error: unknown): void {
    this.#reject(error);
  }

  begin(): boolean {
    if (this.#cancelled) return false;
    this.#connecting = true;
    return true;
  }

  cancel(): void {
    if (this.#cancelled) return;
    this.#cancelled = true;
    this.backoff.leave(this, this.#admitted, this.#connecting);
  }
}
