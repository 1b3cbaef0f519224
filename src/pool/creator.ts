// Calls of the `create` hook: each bounded by `createTimeoutMs`, retried after failures
// with backoff, and guarded by a circuit breaker that fails waiters fast while the
// factory is down. A resource that arrives becomes a slot with its lifetime and limit.
import type { TimerHandle } from '../internal/clock.js';
import { TimeoutError } from '../internal/errors.js';
import { checkInt } from '../internal/options.js';
import { type Backoff, exponentialBackoff } from '../resilience/backoff.js';
import { CircuitBreaker } from '../resilience/breaker.js';
import { CreateFailedError } from './errors.js';
import type { ResolvedPoolOptions } from './options.js';
import { type DestroyReason, Slot } from './slot.js';
import type { Totals } from './stats.js';
import type { Waiter, WaiterJob, WaiterQueue } from './waiters.js';

/** @internal One call of the `create` hook. */
interface CreateJob<T> extends WaiterJob<T> {
  controller: AbortController;
  timer: TimerHandle;
  settled: boolean;
  startedAt: number;
  /** It holds one of the breaker's permits, to give back with its outcome. */
  permit: boolean;
}

/** @internal What the creator tells its pool. */
export interface CreatorHost<T> {
  /** The pool still takes resources. */
  isOpen(): boolean;
  /** A new resource for the pool. */
  created(slot: Slot<T>, durationMs: number): void;
  /** A create failed (reported before the waiter it was made for is rejected). */
  failed(error: unknown, attempt: number, retryInMs: number): void;
  /** Destroys a resource nobody may use (late, after shutdown, or with a bad lease limit). */
  discard(value: T, reason: DestroyReason, cause?: unknown): void;
  /** Something changed that may let waiters be served or creates start: a failure, the backoff's end. */
  pump(): void;
  breakerChanged(from: string, to: string): void;
}

/** @internal Starts creates and keeps the backoff and the breaker. */
export class Creator<T> {
  readonly #o: ResolvedPoolOptions<T>;
  readonly #host: CreatorHost<T>;
  readonly #totals: Totals;
  readonly #waiters: WaiterQueue<T>;
  readonly #jobs = new Set<CreateJob<T>>();
  readonly #backoff: Backoff;
  readonly #breaker: CircuitBreaker | undefined;
  #unwatchBreaker: () => void = () => {};
  #failures = 0;
  #lastError: unknown;
  #retryTimer: TimerHandle;
  #retryPending = false;
  /**
   * How many waiters a create in flight is expected to serve: the lease limit of the last
   * resource made (or set by `setLeaseLimit`), `maxLeasesPerResource` before any.
   */
  expectedLeases: number;

  /** `waiters` is the pool's queue: a failed create rejects the waiter it was made for. */
  constructor(
    o: ResolvedPoolOptions<T>,
    totals: Totals,
    waiters: WaiterQueue<T>,
    host: CreatorHost<T>,
  ) {
    this.#o = o;
    this.#totals = totals;
    this.#waiters = waiters;
    this.#host = host;
    this.expectedLeases = o.maxLeasesPerResource;
    // "Equal jitter": at least half the delay, so retries cannot bunch up at zero.
    this.#backoff = exponentialBackoff({
      initialMs: o.retryInitialDelayMs,
      maxMs: o.retryMaxDelayMs,
      jitter: 'equal',
    });
    const b = o.breaker;
    if (b !== false) {
      this.#breaker =
        b instanceof CircuitBreaker
          ? b
          : new CircuitBreaker({ name: `${o.name} create`, clock: o.clock, ...b });
      // Removed at shutdown: a breaker the caller passed in may outlive this pool.
      this.#unwatchBreaker = this.#breaker.on('stateChange', (e) =>
        host.breakerChanged(e.from, e.to),
      );
    }
  }

  /** Creates in flight. */
  get size(): number {
    return this.#jobs.size;
  }

  /** How many waiters the creates in flight are expected to serve. */
  get serving(): number {
    return this.#jobs.size * this.expectedLeases;
  }

  /** Waiting out the backoff after a failure. */
  get retryPending(): boolean {
    return this.#retryPending;
  }

  get breakerOpen(): boolean {
    return this.#breaker?.state === 'open';
  }

  get breakerState(): 'closed' | 'open' | 'half-open' | 'off' {
    return this.#breaker?.state ?? 'off';
  }

  /** The last create failure since the last success, for timeout errors' `cause`. */
  get lastError(): unknown {
    return this.#lastError;
  }

  /** Whether the breaker lets one more create start (always, without a breaker). */
  permit(): boolean {
    return this.#breaker === undefined || this.#breaker.tryAcquirePermit();
  }

  /** The breaker is open: the newest `n` waiters that would need a create fail at once. */
  failFast(n: number): void {
    this.#waiters.failNewest(n, () => this.#breaker!.openError(this.#lastError));
  }

  /** Starts a create (after {@link permit}), for waiter `cause` or to keep `min`. */
  start(cause: Waiter<T> | null): void {
    const o = this.#o;
    const job: CreateJob<T> = {
      cause,
      controller: new AbortController(),
      timer: undefined,
      settled: false,
      startedAt: o.clock.now(),
      permit: this.#breaker !== undefined,
    };
    if (cause !== null) cause.job = job;
    this.#jobs.add(job);
    job.timer = o.clock.setTimeout(
      () => {
        const error = new TimeoutError(`create did not finish within ${o.createTimeoutMs} ms`, {
          code: 'ERR_POOL_CREATE_TIMEOUT',
        });
        job.controller.abort(error);
        this.#failed(job, error, true);
      },
      o.createTimeoutMs,
      // The create's own I/O keeps the process alive while it matters; a waiter it serves
      // has its own deadline timer.
      true,
    );
    let result: T | Promise<T>;
    try {
      result = o.create(job.controller.signal);
    } catch (error) {
      result = Promise.reject(error);
    }
    // Even a synchronous failure is handled on a later job, never in this call stack:
    // a factory that throws at once cannot make the pool spin.
    Promise.resolve(result).then(
      (value) => this.#created(job, value),
      (error: unknown) => this.#failed(job, error, false),
    );
  }

  #finish(job: CreateJob<T>): void {
    job.settled = true;
    this.#o.clock.clearTimeout(job.timer);
    this.#jobs.delete(job);
    if (job.cause !== null) {
      job.cause.job = null;
      job.cause = null;
    }
  }

  #created(job: CreateJob<T>, value: T): void {
    if (job.settled) {
      // It arrived after its timeout or after shutdown: nobody may use it.
      this.#host.discard(value, 'late');
      return;
    }
    this.#finish(job);
    if (!this.#host.isOpen()) {
      this.#host.discard(value, 'drain');
      return;
    }
    if (job.permit) this.#breaker!.recordSuccess();
    this.#failures = 0;
    this.#lastError = undefined;
    const o = this.#o;
    const now = o.clock.now();
    const lifetime = o.maxLifetimeMs * (1 - o.lifetimeJitter * o.random());
    let maxLeases = o.maxLeasesPerResource;
    if (o.leaseLimit !== undefined) {
      try {
        maxLeases = checkInt('leaseLimit()', o.leaseLimit(value), 1);
      } catch (error) {
        this.#host.discard(value, 'broken', error);
        this.#host.pump();
        return;
      }
      this.expectedLeases = maxLeases;
    }
    this.#host.created(new Slot(value, maxLeases, now, now + lifetime), now - job.startedAt);
  }

  #failed(job: CreateJob<T>, error: unknown, timedOut: boolean): void {
    if (job.settled) return;
    const cause = job.cause;
    this.#finish(job);
    if (!this.#host.isOpen()) {
      if (job.permit) this.#breaker!.releasePermit();
      return;
    }
    this.#failures++;
    this.#totals.createErrors++;
    this.#totals.recent.createErrors.record(this.#o.clock.now());
    this.#lastError = error;
    if (job.permit) this.#breaker!.recordFailure(error);
    const o = this.#o;
    const failure = new CreateFailedError(o.name, error, timedOut ? o.createTimeoutMs : undefined);
    const retryInMs = this.scheduleRetry();
    this.#host.failed(error, this.#failures, retryInMs);
    if (cause?.queued) {
      this.#waiters.settle(cause);
      cause.reject(failure);
    }
    this.#host.pump();
  }

  /** Arms the retry timer with exponential backoff and jitter; returns its delay. */
  scheduleRetry(): number {
    const o = this.#o;
    // The exponent stops growing at 2^30: past it every delay is the ceiling anyway, and
    // an infinite power times a zero initial delay would not be a number.
    let delay = this.#backoff(Math.min(this.#failures, 31), 0, o.random);
    if (this.#breaker?.state === 'open') {
      delay = Math.max(delay, this.#breaker.retryAt - o.clock.now());
    }
    if (this.#retryPending) o.clock.clearTimeout(this.#retryTimer);
    this.#retryPending = true;
    this.#retryTimer = o.clock.setTimeout(
      () => {
        this.#retryPending = false;
        this.#retryTimer = undefined;
        this.#host.pump();
      },
      delay,
      // Only housekeeping (min) depends on it when nobody waits; waiters have their own deadline.
      true,
    );
    return delay;
  }

  /** Shutdown: no more retries, stops listening to the breaker, aborts every create. */
  stop(reason: unknown): void {
    this.#o.clock.clearTimeout(this.#retryTimer);
    this.#retryPending = false;
    this.#unwatchBreaker();
    for (const job of [...this.#jobs]) {
      this.#finish(job);
      if (job.permit) this.#breaker!.releasePermit();
      job.controller.abort(reason);
    }
  }
}
