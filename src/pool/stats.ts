// What a pool reports: its stats snapshot, its typed events, and the samples behind them.
import type { PoolState } from './errors.js';
import { HealthWindow } from './health.js';
import type { Lease } from './lease.js';

/** Summary of recent acquire waits, in milliseconds. */
export interface WaitSummary {
  p50: number;
  p99: number;
  max: number;
  /** How many acquires the summary covers: one in 16, sampled, of the most recent (up to 1024 samples). */
  samples: number;
}

/** A snapshot returned by `pool.stats()`. Counts are totals since the pool was created. */
export interface PoolStats {
  name: string;
  state: 'open' | 'draining' | 'closed';
  /** Resources open or being created: `idle + active + validating + resetting + creating`. */
  size: number;
  /** Resources with no borrower, ready to lend. */
  idle: number;
  /** Resources with at least one borrower. */
  active: number;
  /** Resources being validated (before a borrow, or the periodic check): neither idle nor leased. */
  validating: number;
  /** Resources being reset after their last borrower returned them: neither idle nor leased. */
  resetting: number;
  /** Leases out (a shared resource counts once per borrower). */
  leased: number;
  /** `create` calls in flight. */
  creating: number;
  /** Callers waiting in `acquire`. */
  pending: number;
  min: number;
  max: number;
  created: number;
  destroyed: number;
  acquired: number;
  released: number;
  timeouts: number;
  createErrors: number;
  validationFailures: number;
  /** Acquires refused because `maxWaiting` callers already waited. */
  exhausted: number;
  leaks: number;
  /** Summed weight of open resources (0 without `weigh`). */
  weight: number;
  maxWeight: number;
  waitMs: WaitSummary;
  breaker: 'closed' | 'open' | 'half-open' | 'off';
}

/** Typed events of a pool; subscribe with `pool.on(name, listener)`. */
export interface PoolEvents<T> {
  create: (e: { resource: T; durationMs: number }) => void;
  createError: (e: { error: unknown; attempt: number; retryInMs: number }) => void;
  destroy: (e: { resource: T; reason: string; cause?: unknown; error?: unknown }) => void;
  /**
   * A lease was handed out. `waitedMs` is 0 on the fast path; a queued borrower's wait is
   * counted from the end of the run of microtasks it joined the queue in (the pool reads the
   * clock once for all who joined meanwhile), so it can read short by that run's length,
   * microseconds unless something blocks the event loop. Its deadline counts from there
   * too: never early.
   */
  acquire: (e: { resource: T; waitedMs: number; lease: Lease<T> }) => void;
  /** A lease came back (`broken`: it was destroyed). */
  release: (e: { resource: T; broken: boolean; reason: unknown; lease: Lease<T> }) => void;
  timeout: (e: { waitedMs: number; state: PoolState }) => void;
  validationFailure: (e: { resource: T; error: unknown }) => void;
  leak: (e: { resource: T; heldMs: number; stack: string }) => void;
  breaker: (e: { from: string; to: string }) => void;
  resize: (e: {
    from: { min: number; max: number };
    to: { min: number; max: number };
    reason: string;
  }) => void;
}

/** @internal Counts since the pool was created, shared by the pool's parts. */
export class Totals {
  created = 0;
  destroyed = 0;
  acquired = 0;
  released = 0;
  timeouts = 0;
  createErrors = 0;
  validationFailures = 0;
  exhausted = 0;
  leaks = 0;
  // Private, so that spreading the totals into `stats()` leaves it out.
  readonly #recent = new HealthWindow();

  /** When timeouts and create errors happened, and marks in the waits, for `health()`. */
  get recent(): HealthWindow {
    return this.#recent;
  }
}

const WINDOW = 1024;

/** @internal A ring of the most recent acquire waits. Adding is one store. */
export class WaitSamples {
  #ring = new Float64Array(WINDOW);
  #count = 0;
  #taken = 0;

  add(ms: number): void {
    this.#ring[this.#count++ & (WINDOW - 1)] = ms;
  }

  /** The most recent `n` samples (at most the window), oldest first is not kept. */
  #last(n: number): Float64Array {
    const out = new Float64Array(Math.min(n, WINDOW));
    for (let i = 0; i < out.length; i++) out[i] = this.#ring[(this.#count - 1 - i) & (WINDOW - 1)]!;
    return out;
  }

  /** Samples added since the last `take()` (at most the window). */
  take(): Float64Array {
    const out = this.#last(this.#count - this.#taken);
    this.#taken = this.#count;
    return out;
  }

  summary(): WaitSummary {
    return summarize(this.#last(this.#count));
  }

  /** How many samples were ever added. */
  get count(): number {
    return this.#count;
  }

  /** The samples added after the first `count` (at most the window). */
  since(count: number): Float64Array {
    return this.#last(Math.max(0, this.#count - count));
  }
}

/** @internal p50, p99 and max of a sample of waits, in ms, and its size (zeros when empty); sorts it in place. */
export function summarize(sample: Float64Array): WaitSummary {
  const n = sample.length;
  if (n === 0) return { p50: 0, p99: 0, max: 0, samples: 0 };
  sample.sort();
  const at = (p: number): number => sample[Math.min(n - 1, Math.floor(p * n))]!;
  return { p50: at(0.5), p99: at(0.99), max: sample[n - 1]!, samples: n };
}
