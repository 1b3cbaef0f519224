// The resource hooks other than `create`: `reset` on return, `validate` before a borrow
// and periodically, `destroy` at the end, each bounded so that none can hold the pool
// (or its shutdown) forever.
import type { Clock, TimerHandle } from '../internal/clock.js';
import { TimeoutError } from '../internal/errors.js';
import type { ResolvedPoolOptions } from './options.js';
import { type DestroyReason, FREE, RESETTING, type Slot, VALIDATING } from './slot.js';
import type { PoolEvents, Totals } from './stats.js';
import type { Waiter } from './waiters.js';

/** One validation in progress: shutdown aborts it and clears its deadline. */
interface Check {
  controller: AbortController;
  timer: TimerHandle;
}

/** @internal What the hooks tell their pool. */
export interface HooksHost<T> {
  /** The pool is open (not draining or closed). */
  isOpen(): boolean;
  /** `reset` finished; `failed` with its `error` if it threw or rejected. */
  afterReset(slot: Slot<T>, failed: boolean, error: unknown): void;
  /** `validate` on behalf of `w` finished: `ok`, or failed with `error` (if it threw). */
  afterValidate(slot: Slot<T>, w: Waiter<T>, ok: boolean, error: unknown): void;
  /** Someone listens to `destroy` events (so they are worth building). */
  reportsDestroy(): boolean;
  /** `destroy` finished, with `error` if it failed or timed out. */
  destroyed(event: Parameters<PoolEvents<T>['destroy']>[0]): void;
}

/** @internal Runs the reset, validate and destroy hooks and keeps track of them. */
export class Hooks<T> {
  /** Live resources being reset (neither idle nor leased). */
  resetting = 0;
  /** Live resources being validated (neither idle nor leased). */
  validating = 0;
  readonly #o: ResolvedPoolOptions<T>;
  readonly #host: HooksHost<T>;
  readonly #totals: Totals;
  readonly #checks = new Set<Check>();
  // Settle when a reset or validation, and what the pool does after it, is done.
  readonly #running = new Set<Promise<void>>();
  readonly #destroying = new Set<Promise<void>>();

  constructor(o: ResolvedPoolOptions<T>, totals: Totals, host: HooksHost<T>) {
    this.#o = o;
    this.#totals = totals;
    this.#host = host;
  }

  /** Runs `reset` on `slot`; a hook that returns without a promise costs no extra tick. */
  reset(slot: Slot<T>): void {
    let result: void | Promise<void>;
    try {
      result = this.#o.reset!(slot.value);
    } catch (error) {
      this.#host.afterReset(slot, true, error);
      return;
    }
    if (result === undefined || typeof (result as Promise<void>).then !== 'function') {
      this.#host.afterReset(slot, false, undefined);
      return;
    }
    slot.busy = RESETTING;
    this.resetting++;
    this.#track(
      (result as Promise<void>).then(
        () => {
          this.release(slot);
          this.#host.afterReset(slot, false, undefined);
        },
        (error: unknown) => {
          this.release(slot);
          this.#host.afterReset(slot, true, error);
        },
      ),
    );
  }

  /**
   * Validates `slot` on behalf of waiter `w` (a placeholder for a periodic check), bounded
   * by `validateTimeoutMs`; shutdown aborts it.
   */
  validate(slot: Slot<T>, w: Waiter<T>): void {
    slot.busy = VALIDATING;
    this.validating++;
    const check: Check = { controller: new AbortController(), timer: undefined };
    this.#checks.add(check);
    this.#track(this.#runValidate(slot, w, check));
  }

  async #runValidate(slot: Slot<T>, w: Waiter<T>, check: Check): Promise<void> {
    const { controller } = check;
    const ms = this.#o.validateTimeoutMs;
    const clock = this.#o.clock;
    // A validate that ignores its signal must not hold the resource forever: it loses the race.
    const deadline = new Promise<never>((_, reject) => {
      check.timer = clock.setTimeout(
        () => {
          const error = new TimeoutError(`validate did not finish within ${ms} ms`);
          controller.abort(error);
          reject(error);
        },
        ms,
        // Bounds work the pool does; a waiter for this resource has a deadline of its own.
        true,
      );
    });
    let ok = false;
    let error: unknown;
    try {
      ok =
        (await Promise.race([this.#o.validate!(slot.value, controller.signal), deadline])) === true;
    } catch (e) {
      error = e;
    } finally {
      clock.clearTimeout(check.timer);
      this.#checks.delete(check);
    }
    this.release(slot);
    this.#host.afterValidate(slot, w, ok, error);
  }

  /** The reset or validation of `slot` ended, or shutdown gave up waiting for it. */
  release(slot: Slot<T>): void {
    if (slot.busy === RESETTING) this.resetting--;
    else if (slot.busy === VALIDATING) this.validating--;
    slot.busy = FREE;
  }

  /** Runs the destroy hook on `value`, bounded by `destroyTimeoutMs`; never throws. */
  destroy(value: T, reason: DestroyReason, cause?: unknown): void {
    this.#totals.destroyed++;
    const hook = this.#o.destroy;
    if (hook === undefined) {
      this.#report(value, reason, cause, undefined);
      return;
    }
    const clock = this.#o.clock;
    let timer: TimerHandle;
    const done = new Promise<void>((resolve) => {
      const end = (error: unknown): void => {
        clock.clearTimeout(timer);
        this.#report(value, reason, cause, error);
        resolve();
      };
      timer = clock.setTimeout(
        () => end(new TimeoutError(`destroy did not finish within ${this.#o.destroyTimeoutMs} ms`)),
        this.#o.destroyTimeoutMs,
        // While open it bounds background work; during shutdown a caller awaits it.
        this.#host.isOpen(),
      );
      let result: void | Promise<void>;
      try {
        result = hook(value);
      } catch (error) {
        result = Promise.reject(error);
      }
      Promise.resolve(result).then(
        () => end(undefined),
        (error: unknown) => end(error),
      );
    });
    this.#destroying.add(done);
    void done.then(() => this.#destroying.delete(done));
  }

  #report(value: T, reason: DestroyReason, cause: unknown, error: unknown): void {
    if (!this.#host.reportsDestroy()) return;
    this.#host.destroyed({
      resource: value,
      reason,
      ...(cause === undefined ? {} : { cause }),
      ...(error === undefined ? {} : { error }),
    });
  }

  /** Shutdown: every validation's signal aborts with `reason` and its deadline is cleared. */
  stopChecks(reason: unknown): void {
    for (const check of this.#checks) {
      this.#o.clock.clearTimeout(check.timer);
      check.timer = undefined;
      check.controller.abort(reason);
    }
  }

  /** A reset or validation is in progress. */
  get running(): boolean {
    return this.#running.size > 0;
  }

  /** Waits for every reset and validation in progress to end, for at most `ms`. */
  settle(ms: number): Promise<void> {
    const work = [...this.#running];
    return waitAtMost(this.#o.clock, ms, (done) => void Promise.allSettled(work).then(done));
  }

  /** Destroy calls in progress. */
  get destroying(): number {
    return this.#destroying.size;
  }

  /** Settles when every destroy call in progress ended (new ones may start meanwhile). */
  destroyed(): Promise<unknown> {
    return Promise.all(this.#destroying);
  }

  #track(done: Promise<void>): void {
    this.#running.add(done);
    void done.then(() => this.#running.delete(done));
  }
}

/**
 * @internal Settles when `start`'s `done` is called or after `ms`, whichever comes first
 * (a timer that keeps the process alive: someone awaits this).
 */
export function waitAtMost(
  clock: Clock,
  ms: number,
  start: (done: () => void) => void,
): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = clock.setTimeout(resolve, ms);
    start(() => {
      clock.clearTimeout(timer);
      resolve();
    });
  });
}
