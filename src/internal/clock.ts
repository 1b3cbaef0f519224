/**
 * The one source of time in weir. Every module takes an optional `clock`, so
 * tests drive time with {@link FakeClock} instead of sleeping. Import it from
 * `weir/testing` to write your own (a clock that logs, or one shared by several pools).
 */
export interface Clock {
  /** Monotonic time in milliseconds. */
  now(): number;
  /**
   * Calls `callback` after `ms` milliseconds. `unref: true` lets the process exit
   * while the timer is pending (for housekeeping, never for a promise someone awaits).
   * A non-finite `ms` schedules nothing.
   */
  setTimeout(callback: () => void, ms: number, unref?: boolean): TimerHandle;
  /** Cancels a timer; a no-op for a fired, cleared or empty handle. */
  clearTimeout(handle: TimerHandle): void;
}

/** Opaque timer handle returned by {@link Clock.setTimeout}. */
export type TimerHandle = unknown;

// Node turns delays above 2^31-1 ms into 1 ms; longer waits are re-armed in steps.
const MAX_DELAY = 2_147_483_647;

/** The real clock: `performance.now()` and Node's timers. */
export const realClock: Clock = {
  now: () => performance.now(),
  setTimeout(callback, ms, unref) {
    if (!Number.isFinite(ms)) return undefined;
    if (ms > MAX_DELAY) {
      const box: { t: NodeJS.Timeout | undefined } = { t: undefined };
      const deadline = performance.now() + ms;
      const arm = () => {
        const left = deadline - performance.now();
        box.t = globalThis.setTimeout(left > MAX_DELAY ? arm : callback, Math.min(left, MAX_DELAY));
        if (unref) box.t.unref();
      };
      arm();
      return box;
    }
    const t = globalThis.setTimeout(callback, Math.max(0, ms));
    if (unref) t.unref();
    return t;
  },
  clearTimeout(handle) {
    if (handle === undefined || handle === null) return;
    if (typeof handle === 'object' && 't' in handle) {
      globalThis.clearTimeout((handle as { t: NodeJS.Timeout }).t);
      return;
    }
    globalThis.clearTimeout(handle as NodeJS.Timeout);
  },
};

// A reading of the real clock shared by the calls of one turn of the event loop, for code
// that only needs to know which time bucket it is in (a breaker's rolling window): a
// performance.now() costs as much as the rest of such a call. A zero-delay immediate drops
// the reading at the end of the turn, and it is also renewed every COARSE_READS reads, so
// a long run of promise jobs that never yields still sees time move (by a few µs late).
const COARSE_READS = 1024;
let coarse = 0;
let coarseLeft = 0;
let coarseArmed = false;
const expireCoarse = (): void => {
  coarseLeft = 0;
  coarseArmed = false;
};

/**
 * @internal The real clock's time, read at most once per turn of the event loop (and once
 * per 1024 reads): late by at most the length of the current turn.
 */
export function coarseNow(): number {
  if (coarseLeft > 0) {
    coarseLeft--;
    return coarse;
  }
  coarse = performance.now();
  coarseLeft = COARSE_READS - 1;
  if (!coarseArmed) {
    coarseArmed = true;
    setImmediate(expireCoarse).unref();
  }
  return coarse;
}

interface FakeTimer {
  at: number;
  seq: number;
  callback: () => void;
  live: boolean;
}

/**
 * A manual clock for tests: time moves only when {@link FakeClock.advance} is called,
 * and timers fire in order of due time, then of creation, with promise jobs
 * flushed between them. Give it as the `clock` option of a pool, breaker, limiter,
 * channel timer or stream operator, and a 30-second timeout takes no time at all.
 * `unref` is ignored: a fake timer never holds the process open.
 * @example
 * import assert from 'node:assert/strict';
 * import { test } from 'node:test';
 * import { createPool } from 'weir/pool';
 * import { FakeClock } from 'weir/testing';
 *
 * test('a second borrower gives up after acquireTimeoutMs', async () => {
 *   const clock = new FakeClock();
 *   const pool = createPool({ create: () => ({}), max: 1, acquireTimeoutMs: 5_000, clock });
 *   const held = await pool.acquire();
 *   // Attach the assertion first: the rejection happens inside advance().
 *   const refused = assert.rejects(pool.acquire(), { code: 'ERR_POOL_TIMEOUT' });
 *   await clock.advance(4_999); // not yet
 *   await clock.advance(1);     // the deadline: the waiter is refused
 *   await refused;
 *   held.release();
 *   await pool.close();
 * });
 */
export class FakeClock implements Clock {
  #now: number;
  #seq = 0;
  #timers: FakeTimer[] = [];

  /** @param start the time `now()` reads before the first `advance`, in ms. @default 0 */
  constructor(start = 0) {
    this.#now = start;
  }

  /** The fake time in ms: `start` plus everything advanced so far. */
  now(): number {
    return this.#now;
  }

  /** Schedules `callback` at `now() + ms` (a non-finite `ms` schedules nothing). */
  setTimeout(callback: () => void, ms: number): TimerHandle {
    if (!Number.isFinite(ms)) return undefined;
    const timer: FakeTimer = {
      at: this.#now + Math.max(0, ms),
      seq: this.#seq++,
      callback,
      live: true,
    };
    // Keep the list sorted by (at, seq); appends are the common case.
    let i = this.#timers.length;
    while (i > 0) {
      const prev = this.#timers[i - 1]!;
      if (prev.at <= timer.at) break;
      i--;
    }
    this.#timers.splice(i, 0, timer);
    return timer;
  }

  /** Cancels a timer; a no-op for a fired, cleared or empty handle. */
  clearTimeout(handle: TimerHandle): void {
    if (handle === undefined || handle === null) return;
    const timer = handle as FakeTimer;
    if (!timer.live) return;
    timer.live = false;
    const i = this.#timers.indexOf(timer);
    if (i >= 0) this.#timers.splice(i, 1);
  }

  /** Number of timers scheduled and not yet fired or cleared. */
  get pendingTimers(): number {
    return this.#timers.length;
  }

  /** Due time of the next timer, or undefined. */
  get nextTimerAt(): number | undefined {
    return this.#timers[0]?.at;
  }

  /**
   * Moves time forward by `ms`, firing each due timer in order and letting
   * promise jobs settle after each one. Await it before asserting on what the timers did.
   */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    await flush();
    for (;;) {
      const next = this.#timers[0];
      if (next === undefined || next.at > target) break;
      this.#timers.shift();
      next.live = false;
      this.#now = Math.max(this.#now, next.at);
      next.callback();
      await flush();
    }
    this.#now = target;
    await flush();
  }

  /**
   * Fires timers until none is left (at most `limit`), advancing time to each.
   * @throws {Error} when timers keep re-arming past `limit` firings (a ticker, say).
   */
  async runAll(limit = 10_000): Promise<void> {
    await flush();
    for (let n = 0; n < limit; n++) {
      const next = this.#timers[0];
      if (next === undefined) return;
      await this.advance(next.at - this.#now);
    }
    throw new Error(`FakeClock.runAll: still ${this.#timers.length} timers after ${limit} firings`);
  }
}

/**
 * Lets every pending promise job (and jobs they queue) run. It yields to the
 * event loop a few times; it does not wait for any wall-clock time.
 */
export async function flush(rounds = 3): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
