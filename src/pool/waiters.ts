// The callers waiting in `acquire`: admitted within `maxWaiting`, queued in an intrusive
// list ordered by priority, linked to the resource being validated for them and to the
// create they caused, and timed out by one timer for all their deadlines.
import type { Clock, TimerHandle } from '../internal/clock.js';
import { type Linked, LinkedList } from '../internal/linked-list.js';
import { onAbort } from '../internal/signals.js';
import { PoolExhaustedError, type PoolState, PoolTimeoutError } from './errors.js';
import type { Lease } from './lease.js';
import type { AcquireOptions, ResolvedPoolOptions } from './options.js';
import type { Slot } from './slot.js';
import type { Totals } from './stats.js';

/** @internal What the queue asks of its pool. */
export interface QueueHost<_T> {
  isOpen(): boolean;
  /** Serve waiters and start creates: one left, or timed out. */
  pump(): void;
  /** A waiter joined: serve and start creates if that may change anything. */
  joined(): void;
  /**
   * How many waiters the pool will serve without a lease coming back: by resources being
   * created, idle ones (awaiting validation) and creates still possible.
   */
  servable(): number;
  snapshot(): PoolState;
  /** A waiter timed out (reported before it is rejected). */
  timedOut(waitedMs: number, state: PoolState): void;
  /** The last create failure, the `cause` of a timeout. */
  lastCreateError(): unknown;
}

/** The create a waiter caused, as the queue sees it: unlinked when the waiter leaves. */
export interface WaiterJob<T> {
  cause: Waiter<T> | null;
}

/** @internal A caller queued in `acquire`, linked into {@link WaiterQueue}. */
export interface Waiter<T> extends Linked<Waiter<T>> {
  resolve: (lease: Lease<T>) => void;
  reject: (error: unknown) => void;
  priority: number;
  /** When it joined; NaN until stamped (see {@link WaiterQueue}). */
  startedAt: number;
  deadline: number;
  timeoutMs: number;
  /** A resource being validated for this waiter; the waiter is skipped while set. */
  holding: Slot<T> | null;
  /** The create call this waiter caused, failed together with it. */
  job: WaiterJob<T> | null;
  disposeAbort: () => void;
  /** The acquirer's stack, kept only for leak detection. */
  stack: string | undefined;
}

/** @internal A waiter not yet in any queue. */
export function newWaiter<T>(
  resolve: (lease: Lease<T>) => void,
  reject: (error: unknown) => void,
  priority: number,
  startedAt: number,
  deadline: number,
  stack: string | undefined,
): Waiter<T> {
  return {
    resolve,
    reject,
    priority,
    startedAt,
    deadline,
    timeoutMs: deadline - startedAt,
    prev: null,
    next: null,
    queued: false,
    holding: null,
    job: null,
    disposeAbort: noop,
    stack,
  };
}

const noop = (): void => {};

// The executor of every queued acquire's promise: one shared function instead of a
// closure per acquire; it hands the settle functions over through these two.
let takenResolve: (lease: never) => void = noop;
let takenReject: (error: unknown) => void = noop;
const take = (resolve: (lease: never) => void, reject: (error: unknown) => void): void => {
  takenResolve = resolve;
  takenReject = reject;
};

/**
 * @internal An intrusive doubly linked list ordered by priority (higher first), FIFO
 * among equals. O(1) append for equal priorities and O(1) removal on abort or timeout,
 * so cancelled waiters never linger.
 *
 * One timer serves every waiter's deadline: it is armed for the earliest one, and on
 * firing hands each waiter that is due to `expire` and re-arms for the next. A timer per
 * waiter would cost a setTimeout/clearTimeout pair on every contended acquire. The timer
 * keeps the process alive: it is what settles a caller's promise, and it runs only while
 * someone waits.
 *
 * Reading the clock costs about as much as the rest of a queued acquire, so a waiter that
 * joins while the timer is already armed for an earlier deadline than its own can be is
 * not stamped at once: every such waiter of a batch is stamped by the next read of the
 * clock, at the latest in a microtask queued by the first of them. A waiter's
 * `startedAt` (and its deadline, and the `waitedMs` it reports) so count from the end of
 * the run of microtasks it joined in: a deadline is never early, and a wait reads short
 * by at most that run's length, which is microseconds unless a job blocks the event loop.
 */
export class WaiterQueue<T> extends LinkedList<Waiter<T>> {
  /** Queued waiters holding a resource under validation (skipped when serving). */
  holders = 0;
  readonly #o: ResolvedPoolOptions<T>;
  readonly #clock: Clock;
  readonly #totals: Totals;
  readonly #host: QueueHost<T>;
  #timer: TimerHandle;
  #timerAt = Number.POSITIVE_INFINITY;
  /** The latest clock reading: the present is no earlier. */
  #lastNow = Number.NEGATIVE_INFINITY;
  /** Waiters queued since the last clock reading, to stamp with the next one. */
  readonly #unstamped: Waiter<T>[] = [];
  #stampQueued = false;
  readonly #stampLater = (): void => {
    this.#stampQueued = false;
    if (this.#unstamped.length > 0) this.now();
  };

  constructor(o: ResolvedPoolOptions<T>, totals: Totals, host: QueueHost<T>) {
    super();
    this.#o = o;
    this.#clock = o.clock;
    this.#totals = totals;
    this.#host = host;
  }

  /**
   * Queues a caller of `acquire` (`options` already checked), or refuses it with
   * `ERR_POOL_EXHAUSTED` when `maxWaiting` callers already wait for a busy pool: those the
   * pool will serve without a lease coming back do not count.
   */
  enqueue(options: AcquireOptions | undefined, stack: string | undefined): Promise<Lease<T>> {
    const o = this.#o;
    const timeoutMs = options?.timeoutMs ?? o.acquireTimeoutMs;
    const priority = options?.priority ?? 0;
    // The cheap test first: only a queue at its bound needs the closer look.
    if (
      this.size >= o.maxWaiting &&
      this.size + 1 - this.holders - this.#host.servable() > o.maxWaiting
    ) {
      this.#totals.exhausted++;
      return Promise.reject(new PoolExhaustedError(o.name, o.maxWaiting, this.#host.snapshot()));
    }
    const promise = new Promise<Lease<T>>(take);
    const resolve = takenResolve as (lease: Lease<T>) => void;
    const w = newWaiter<T>(resolve, takenReject, priority, 0, timeoutMs, stack);
    takenResolve = takenReject = noop;
    // The timer is due no later than this waiter's deadline can be: its time can wait.
    if (this.#timerAt <= this.#lastNow + timeoutMs) {
      w.startedAt = w.deadline = Number.NaN;
      this.#unstamped.push(w);
      if (!this.#stampQueued) {
        this.#stampQueued = true;
        queueMicrotask(this.#stampLater);
      }
    } else {
      w.startedAt = this.now();
      w.deadline = w.startedAt + timeoutMs;
    }
    this.add(w);
    const signal = options?.signal;
    if (signal !== undefined) w.disposeAbort = onAbort(signal, (reason) => this.#abort(w, reason));
    this.#host.joined();
    return promise;
  }

  /** Reads the clock, stamping the waiters that joined since the last reading. */
  now(): number {
    const now = this.#clock.now();
    this.#lastNow = now;
    const list = this.#unstamped;
    if (list.length > 0) {
      for (const w of list) {
        w.startedAt = now;
        w.deadline = now + w.timeoutMs;
      }
      list.length = 0;
    }
    return now;
  }

  #abort(w: Waiter<T>, reason: unknown): void {
    if (!w.queued) return;
    this.settle(w);
    w.reject(reason);
    // A waiter that leaves may free a create for someone else, or end the deadline timer.
    if (this.#host.isOpen()) this.#host.pump();
  }

  #expire(w: Waiter<T>, now: number): void {
    const waited = now - w.startedAt;
    const state = this.#host.snapshot();
    this.#totals.timeouts++;
    this.#totals.recent.timeouts.record(now);
    this.#host.timedOut(waited, state);
    this.settle(w);
    w.reject(new PoolTimeoutError(this.#o.name, waited, state, this.#host.lastCreateError()));
  }

  /** Queues `w` by priority and makes sure the deadline timer covers it. */
  add(w: Waiter<T>): void {
    let after = this.tail;
    while (after !== null && after.priority < w.priority) after = after.prev;
    this.insertAfter(after, w);
    // An unstamped deadline (NaN) is known to come after the timer's.
    if (w.deadline < this.#timerAt) this.#arm(w.deadline);
  }

  /**
   * Takes `w` out of the queue (it is about to be resolved or rejected): drops its abort
   * listener, its hold on a resource under validation and its link to a create; the
   * deadline timer goes with the last waiter.
   */
  settle(w: Waiter<T>): void {
    this.remove(w);
    w.disposeAbort();
    if (w.holding !== null) {
      w.holding = null;
      this.holders--;
    }
    if (w.job !== null) {
      w.job.cause = null;
      w.job = null;
    }
    if (this.size === 0 && this.#timer !== undefined) this.stop();
  }

  /** First waiter not busy with a validation, or null. */
  first(): Waiter<T> | null {
    let w = this.head;
    while (w !== null && w.holding !== null) w = w.next;
    return w;
  }

  /** The oldest waiter that has neither a create of its own nor a resource under validation. */
  nextCause(): Waiter<T> | null {
    for (let w = this.head; w !== null; w = w.next) {
      if (w.job === null && w.holding === null) return w;
    }
    return null;
  }

  /** `slot` is validated for `w`, which is skipped while it waits for it. */
  hold(w: Waiter<T>, slot: Slot<T>): void {
    w.holding = slot;
    if (w.queued) this.holders++;
  }

  /** The validation of `slot` for `w` ended. */
  letGo(w: Waiter<T>, slot: Slot<T>): void {
    if (w.holding !== slot) return;
    w.holding = null;
    if (w.queued) this.holders--;
  }

  /** Rejects the newest `n` waiters that would need a create, each with `error()`. */
  failNewest(n: number, error: () => unknown): void {
    for (let w = this.tail; w !== null && n > 0; ) {
      const prev = w.prev;
      if (w.holding === null && w.job === null) {
        this.settle(w);
        w.reject(error());
        n--;
      }
      w = prev;
    }
  }

  /** Rejects every waiter with `error` (shutdown). */
  rejectAll(error: unknown): void {
    for (let w = this.head; w !== null; w = this.head) {
      this.settle(w);
      w.reject(error);
    }
    this.stop();
  }

  /** Clears the deadline timer. */
  stop(): void {
    this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
  }

  #arm(at: number): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = this.#clock.setTimeout(() => this.#onTimer(), Math.max(0, at - this.now()));
  }

  #onTimer(): void {
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    const now = this.now();
    let next = Number.POSITIVE_INFINITY;
    for (let w = this.head; w !== null; ) {
      const following = w.next;
      // Timers may fire a fraction of a millisecond early against performance.now().
      if (w.deadline <= now + 1) this.#expire(w, now);
      else if (w.deadline < next) next = w.deadline;
      w = following;
    }
    if (next !== Number.POSITIVE_INFINITY && this.size > 0) this.#arm(next);
    this.#host.pump();
  }
}
