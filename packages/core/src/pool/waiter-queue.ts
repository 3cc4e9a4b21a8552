import type { LeaseOwner } from '../events.js';
import type { Lease } from '../resource.js';
import { Deque } from './deque.js';

/** setTimeout overflows above this and fires at once. */
const maxTimerDelay = 2_147_483_647;

/** Dead entries tolerated in the queue before it is compacted. */
const compactAbove = 32;

/**
 * One `acquire()` waiting for a resource. It is its own abort listener (`handleEvent`), so
 * waiting with a signal costs no closure.
 *
 * @internal
 */
export class Waiter<T> {
  /** False once served, timed out, aborted or failed. */
  live = true;
  /** The borrower's stack, when the pool's leases record one. */
  stack: string | undefined = undefined;

  constructor(
    readonly queue: WaiterQueue<T>,
    readonly resolve: (lease: Lease<T>) => void,
    readonly reject: (error: unknown) => void,
    readonly startedAt: number,
    readonly deadline: number,
    readonly signal: AbortSignal | undefined,
    readonly owner: LeaseOwner | undefined,
  ) {}

  handleEvent(): void {
    this.queue.abort(this);
  }
}

/** What the queue reports back to the pool. @internal */
export interface WaiterQueueEvents<T> {
  /** The waiter's deadline passed; it is already out of the queue. */
  timeout(waiter: Waiter<T>): void;
  /** The waiter's signal aborted; it is already out of the queue. */
  abort(waiter: Waiter<T>): void;
}

/**
 * FIFO of waiting acquires with one deadline timer for the whole queue, armed for the earliest
 * deadline, instead of a timer per waiter: under contention every acquire waits, and a
 * setTimeout/clearTimeout pair per acquire costs more than the hand-off itself.
 *
 * Removed waiters (aborted) stay in the ring as dead entries until they reach the front or the
 * queue is compacted, so removal is O(1).
 *
 * @internal
 */
export class WaiterQueue<T> {
  #queue = new Deque<Waiter<T>>();
  #live = 0;
  #dead = 0;
  /** Deadlines were pushed in non-decreasing order, so expired waiters are all at the front. */
  #ordered = true;
  #lastDeadline = Number.NEGATIVE_INFINITY;
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Number.POSITIVE_INFINITY;
  #timerRefed = false;
  readonly #events: WaiterQueueEvents<T>;
  readonly #onTimer = () => this.#sweep();

  constructor(events: WaiterQueueEvents<T>) {
    this.#events = events;
  }

  /** Waiters still waiting. */
  get live(): number {
    return this.#live;
  }

  /** Queue a waiter; `now` is the time its deadline was computed from. */
  push(waiter: Waiter<T>, now: number): void {
    this.#queue.push(waiter);
    this.#live++;
    if (waiter.deadline < this.#lastDeadline) this.#ordered = false;
    else this.#lastDeadline = waiter.deadline;
    waiter.signal?.addEventListener('abort', waiter);
    if (waiter.deadline !== Number.POSITIVE_INFINITY) this.#armFor(waiter.deadline, now);
  }

  /** Take the longest-waiting live waiter out of the queue. */
  shift(): Waiter<T> | undefined {
    for (let waiter = this.#queue.shift(); waiter !== undefined; waiter = this.#queue.shift()) {
      if (!waiter.live) {
        this.#dead--;
        continue;
      }
      this.#take(waiter);
      this.#afterRemove();
      return waiter;
    }
    return undefined;
  }

  /** Remove an aborted waiter and report it. */
  abort(waiter: Waiter<T>): void {
    if (!waiter.live) return;
    this.#take(waiter);
    this.#dead++;
    this.#afterRemove();
    this.#events.abort(waiter);
  }

  /** Take every live waiter out, oldest first, and stop the timer. */
  drain(): Waiter<T>[] {
    const waiters: Waiter<T>[] = [];
    for (let waiter = this.shift(); waiter !== undefined; waiter = this.shift()) {
      waiters.push(waiter);
    }
    this.close();
    return waiters;
  }

  /** Stop the deadline timer. */
  close(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
  }

  #take(waiter: Waiter<T>): void {
    waiter.live = false;
    this.#live--;
    waiter.signal?.removeEventListener('abort', waiter);
  }

  #afterRemove(): void {
    if (this.#live === 0) {
      // Everything left is dead: start over, and let the process exit while nobody waits. The
      // timer stays armed, unref'd, so the next waiter can reuse it instead of making another.
      if (this.#queue.length > 0) this.#queue.clear();
      this.#dead = 0;
      this.#ordered = true;
      this.#lastDeadline = Number.NEGATIVE_INFINITY;
      if (this.#timerRefed) {
        this.#timer?.unref();
        this.#timerRefed = false;
      }
      return;
    }
    if (this.#dead > compactAbove && this.#dead > this.#live) this.#compact();
  }

  #compact(): void {
    this.#queue.retain((waiter) => waiter.live);
    this.#dead = 0;
  }

  #armFor(deadline: number, now: number): void {
    if (this.#timer !== undefined && this.#timerAt <= deadline) {
      if (!this.#timerRefed) {
        this.#timer.ref();
        this.#timerRefed = true;
      }
      return;
    }
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    const delay = Math.min(Math.max(deadline - now, 0), maxTimerDelay);
    this.#timer = setTimeout(this.#onTimer, delay);
    this.#timerAt = now + delay;
    this.#timerRefed = true;
  }

  #sweep(): void {
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    this.#timerRefed = false;
    if (this.#live === 0) return;

    // A timer can fire a millisecond early by the wall clock; such a waiter is due, not early.
    const now = Date.now();
    const expired: Waiter<T>[] = [];
    const next = this.#ordered
      ? this.#expireFront(now + 1, expired)
      : this.#expireAll(now + 1, expired);
    this.#afterRemove();
    if (this.#live > 0 && next !== Number.POSITIVE_INFINITY) this.#armFor(next, now);

    // Reported last: a listener may queue a new acquire, and the queue must be consistent by then.
    for (const waiter of expired) this.#events.timeout(waiter);
  }

  /** Take due waiters when deadlines are ordered; returns the next deadline. */
  #expireFront(due: number, expired: Waiter<T>[]): number {
    for (let waiter = this.#queue.peek(); waiter !== undefined; waiter = this.#queue.peek()) {
      if (waiter.live && waiter.deadline > due) return waiter.deadline;
      this.#queue.shift();
      if (!waiter.live) {
        this.#dead--;
        continue;
      }
      this.#take(waiter);
      expired.push(waiter);
    }
    return Number.POSITIVE_INFINITY;
  }

  /** Take due waiters anywhere in the queue; returns the earliest remaining deadline. */
  #expireAll(due: number, expired: Waiter<T>[]): number {
    let next = Number.POSITIVE_INFINITY;
    for (let i = 0; i < this.#queue.length; i++) {
      const waiter = this.#queue.at(i) as Waiter<T>;
      if (!waiter.live) continue;
      if (waiter.deadline <= due) {
        this.#take(waiter);
        this.#dead++;
        expired.push(waiter);
      } else if (waiter.deadline < next) {
        next = waiter.deadline;
      }
    }
    return next;
  }
}
