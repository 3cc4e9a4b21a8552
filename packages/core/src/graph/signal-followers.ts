import { type Scope, abortScope } from '../scope.js';

/**
 * @internal The run scopes that follow one `AbortSignal`, through one `abort` listener on it.
 *
 * A process often passes one long-lived signal (its shutdown signal) to every run. A listener per
 * run would cost an `addEventListener` and a `removeEventListener` each time, and would set off
 * Node's warning about more than 10 listeners as soon as 11 runs overlap.
 *
 * The listener goes when the last follower leaves, unless the signal has come back for another
 * run since the listener was added: then it stays, and each later run costs a field write. So a
 * signal used by one run at a time is left as it was found. A reused one keeps a listener holding
 * no scope, which goes with the signal (for `AbortSignal.timeout`, when its timer fires).
 */
export class SignalFollowers {
  /**
   * The one run scope following, while there is only one: runs on one signal usually come one
   * after another, and a Set that goes from one entry to none and back reallocates its table.
   */
  #scope: Scope | undefined;
  /** The others, when runs overlap. */
  #more: Set<Scope> | undefined;
  /** Whether the listener is on the signal. */
  listening = false;
  /** Whether the listener stays after the last follower leaves. */
  kept = false;
  readonly #signal: AbortSignal;
  readonly #onAbort = () => this.#abort();

  constructor(signal: AbortSignal) {
    this.#signal = signal;
  }

  listen(keep: boolean): void {
    this.#signal.addEventListener('abort', this.#onAbort, { once: true });
    this.listening = true;
    this.kept = keep;
  }

  /** The run of `scope` follows the signal from now on. */
  add(scope: Scope): void {
    if (this.#scope === undefined) {
      this.#scope = scope;
      return;
    }
    this.#more ??= new Set();
    this.#more.add(scope);
  }

  /** The run of `scope` has ended. */
  leave(scope: Scope): void {
    if (this.#scope === scope) this.#scope = undefined;
    else this.#more?.delete(scope);
    if (this.#scope !== undefined || (this.#more?.size ?? 0) > 0) return;
    if (!this.kept && this.listening) this.#stopListening();
  }

  // Not inlined in `leave`, which every run calls: it reads the signal (see `followSignal`).
  #stopListening(): void {
    this.#signal.removeEventListener('abort', this.#onAbort);
    this.listening = false;
  }

  #abort(): void {
    // A run that starts from now on finds the signal aborted in `startFollowing`.
    this.listening = false;
    const reason = this.#signal.reason;
    const first = this.#scope;
    const more = this.#more;
    this.#scope = undefined;
    this.#more = undefined;
    first?.[abortScope](reason);
    if (more !== undefined) for (const scope of more) scope[abortScope](reason);
  }
}

const followersOf = new WeakMap<AbortSignal, SignalFollowers>();

/**
 * @internal Abort `scope` when `signal` aborts (at once if it already has). Returns what the run
 * must `leave` when it ends, or undefined.
 *
 * The run follows its signal here rather than through the scope's `signal` option. Every
 * `AbortSignal` has a map of its own in V8, so optimized code that reads a signal is deoptimized
 * again for each new one, and with it the whole of `Graph.run` it was inlined into. The path every
 * run takes therefore reads no signal: only `startFollowing` and `#stopListening` do, once per
 * signal, from call sites too rarely taken to be inlined.
 */
export function followSignal(
  signal: AbortSignal | undefined,
  scope: Scope,
): SignalFollowers | undefined {
  if (signal === undefined) return undefined;
  const followers = followersOf.get(signal);
  if (followers === undefined || !followers.listening) {
    return startFollowing(signal, scope, followers);
  }
  followers.add(scope);
  return followers;
}

function startFollowing(
  signal: AbortSignal,
  scope: Scope,
  known: SignalFollowers | undefined,
): SignalFollowers | undefined {
  if (signal.aborted) {
    scope[abortScope](signal.reason);
    return undefined;
  }
  let followers = known;
  if (followers === undefined) {
    followers = new SignalFollowers(signal);
    followersOf.set(signal, followers);
  }
  // A signal that an earlier run brought is likely to come back again: keep listening.
  followers.listen(known !== undefined);
  followers.add(scope);
  return followers;
}
