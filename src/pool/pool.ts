import type { TimerHandle } from '../internal/clock.js';
import { Emitter } from '../internal/emitter.js';
import { describe, isWeirError, TimeoutError } from '../internal/errors.js';
import { checkInt, checkMs, checkObject } from '../internal/options.js';
import { abortReason, checkSignal, onAbort } from '../internal/signals.js';
import { CircuitBreaker } from '../resilience/breaker.js';
import {
  CreateFailedError,
  PoolClosedError,
  PoolExhaustedError,
  type PoolState,
  PoolTimeoutError,
} from './errors.js';
import { kReturn, Lease, type LeaseOwner } from './lease.js';
import { type PoolOptions, type ResolvedPoolOptions, resolveOptions } from './options.js';
import { type PoolEvents, type PoolStats, summarize, WaitSamples } from './stats.js';
import { newWaiter, type Waiter, WaiterQueue } from './waiters.js';

/** Options of one {@link Pool.acquire} call. */
export interface AcquireOptions {
  /** Aborts the wait; the promise rejects with `signal.reason`. */
  signal?: AbortSignal;
  /** Overrides the pool's `acquireTimeoutMs` for this call. */
  timeoutMs?: number;
  /** Higher is served first; equal priorities are first-come-first-served. @default 0 */
  priority?: number;
}

/** Why a resource was destroyed, as reported by the `destroy` event. */
export type DestroyReason =
  | 'idle'
  | 'lifetime'
  | 'uses'
  | 'broken'
  | 'validation'
  | 'reset'
  | 'resize'
  | 'drain'
  | 'weight'
  | 'late';

/** @internal The pool's record of one resource. */
interface Slot<T> {
  value: T;
  leases: number;
  /** Borrowers it may serve at once. */
  maxLeases: number;
  uses: number;
  createdAt: number;
  expiresAt: number;
  idleSince: number;
  validatedAt: number;
  weight: number;
  /** Being validated or reset ({@link VALIDATING}, {@link RESETTING}): not available. */
  busy: number;
  /** Takes no new leases; destroyed when the last one returns. */
  retire: DestroyReason | null;
  destroyed: boolean;
}

/** @internal One call of the `create` hook. */
interface CreateJob<T> {
  cause: Waiter<Lease<T>> | null;
  controller: AbortController;
  timer: TimerHandle;
  settled: boolean;
  startedAt: number;
  permit: boolean;
}

/** @internal One validation in progress: shutdown aborts it and clears its deadline. */
interface Check {
  controller: AbortController;
  timer: TimerHandle;
}

const OPEN = 0;
const DRAINING = 1;
const CLOSED = 2;

// What a slot's hook in progress is doing (0: none).
const VALIDATING = 1;
const RESETTING = 2;

/**
 * A pool of reusable resources (connections, sessions, workers). Create one with
 * {@link createPool}.
 *
 * Waiters are served first-come-first-served (higher `priority` first), idle resources
 * are reused warmest-first, a released resource goes straight to the oldest waiter, and
 * every wait can be aborted or timed out without leaving anything behind.
 */
export class Pool<T> extends Emitter<PoolEvents<T>> implements LeaseOwner<T> {
  readonly #o: ResolvedPoolOptions<T>;
  #min: number;
  #max: number;
  #state = OPEN;
  readonly #slots = new Set<Slot<T>>();
  readonly #byValue = new Map<T, Slot<T>>();
  // Idle resources, oldest first: LIFO takes from the end, FIFO from the front.
  readonly #idle: Slot<T>[] = [];
  readonly #waiters = new WaiterQueue<Lease<T>>();
  readonly #jobs = new Set<CreateJob<T>>();
  readonly #destroying = new Set<Promise<void>>();
  #leases = 0;
  // Live resources whose reset or validation is running (neither idle nor leased).
  #resetting = 0;
  #validating = 0;
  readonly #checks = new Set<Check>();
  // Settle when a reset or validation and what follows it is done; shutdown waits for them.
  readonly #inHooks = new Set<Promise<void>>();
  #tick = 0;
  #weight = 0;
  #scaleTimer: TimerHandle;
  #utilSum = 0;
  #utilSamples = 0;
  readonly #sampleMask: number;
  // Resources may be shared (fixed or per-resource lease limit): look for room before idle ones.
  readonly #shared: boolean;
  // How many waiters a create in flight is expected to serve: the last resource's limit.
  #expectedLeases: number;
  // Queued waiters that hold a resource under validation (skipped when serving).
  #holders = 0;
  #failures = 0;
  #lastCreateError: unknown;
  #retryTimer: TimerHandle;
  #retryPending = false;
  #deadlineTimer: TimerHandle;
  #deadlineAt = Number.POSITIVE_INFINITY;
  #reapTimer: TimerHandle;
  #reapPending = false;
  #pumping = false;
  #pumpAgain = false;
  #drainPromise: Promise<void> | undefined;
  #forceDrain: (() => void) | undefined;
  #leasesBack: (() => void) | undefined;
  readonly #breaker: CircuitBreaker | undefined;
  #unwatchBreaker: () => void = () => {};
  readonly #waits = new WaitSamples();
  readonly #totals = {
    created: 0,
    destroyed: 0,
    acquired: 0,
    released: 0,
    timeouts: 0,
    createErrors: 0,
    validationFailures: 0,
    exhausted: 0,
    leaks: 0,
  };

  /** @internal Use {@link createPool}. */
  constructor(options: PoolOptions<T>) {
    super();
    this.#o = resolveOptions(options);
    this.#min = this.#o.min;
    this.#max = this.#o.max;
    this.#sampleMask = this.#o.statsSampleEvery - 1;
    this.#shared = this.#o.maxLeasesPerResource > 1 || this.#o.leaseLimit !== undefined;
    this.#expectedLeases = this.#o.maxLeasesPerResource;
    const b = this.#o.breaker;
    if (b !== false) {
      this.#breaker =
        b instanceof CircuitBreaker
          ? b
          : new CircuitBreaker({ name: `${this.#o.name} create`, clock: this.#o.clock, ...b });
      // Removed at shutdown: a breaker the caller passed in may outlive this pool.
      this.#unwatchBreaker = this.#breaker.on('stateChange', (e) =>
        this.emit('breaker', { from: e.from, to: e.to }),
      );
    }
    if (this.#o.autoscale !== undefined) this.#armAutoscale();
    if (this.#min > 0) this.#pump();
  }

  /** The pool's name, as given in the options. */
  get name(): string {
    return this.#o.name;
  }

  /** Current lower bound of the pool's size. */
  get min(): number {
    return this.#min;
  }

  /** Current upper bound of the pool's size. */
  get max(): number {
    return this.#max;
  }

  /**
   * Borrows a resource, waiting for one if none is free.
   * @throws {PoolTimeoutError} `ERR_POOL_TIMEOUT` after `timeoutMs` (default `acquireTimeoutMs`).
   * @throws {PoolExhaustedError} `ERR_POOL_EXHAUSTED` at once when `maxWaiting` callers already wait.
   * @throws {PoolClosedError} `ERR_POOL_CLOSED` when the pool is draining or closed.
   * @throws {CreateFailedError} `ERR_POOL_CREATE_FAILED`/`ERR_POOL_CREATE_TIMEOUT` when the create call made for this caller failed.
   * @throws {CircuitOpenError} `ERR_CIRCUIT_OPEN` while the factory keeps failing.
   * @throws the signal's reason when `signal` aborts.
   * @example
   * await using lease = await pool.acquire({ signal: AbortSignal.timeout(1000) });
   */
  acquire(options?: AcquireOptions): Promise<Lease<T>> {
    if (this.#state !== OPEN) return Promise.reject(new PoolClosedError(this.#o.name));
    if (options !== undefined) {
      try {
        checkObject('options', options);
        if (checkSignal(options.signal)?.aborted)
          return Promise.reject(abortReason(options.signal!));
        if (options.timeoutMs !== undefined) checkMs('timeoutMs', options.timeoutMs);
        if (options.priority !== undefined && !Number.isFinite(options.priority)) {
          throw new TypeError(
            `Expected \`priority\` to be a finite number, got ${describe(options.priority)}`,
          );
        }
      } catch (error) {
        return Promise.reject(error);
      }
    }
    // The acquirer's stack, for leak reports; only taken when leak detection is on.
    const stack =
      this.#o.leakDetectionMs === Number.POSITIVE_INFINITY
        ? undefined
        : new Error('Lease acquired here').stack;
    // Fast path: nobody is ahead of us and a resource is ready without validation.
    if (this.#waiters.size === 0) {
      const slot = this.#takeReady();
      if (slot !== null) {
        if ((++this.#tick & this.#sampleMask) === 0) this.#waits.add(0);
        return Promise.resolve(this.#lease(slot, 0, stack));
      }
    }
    return this.#enqueue(options, stack);
  }

  /**
   * @internal Borrows a resource only if one is ready now (the fast path of `acquire`,
   * without its promise): returns null when the pool is not open, a caller is already
   * waiting (it keeps its turn), or none is free without creating or validating. Lets a
   * hot caller skip the promise and the AbortController it would need only for a wait.
   */
  tryAcquire(): Lease<T> | null {
    if (this.#state !== OPEN || this.#waiters.size !== 0) return null;
    const slot = this.#takeReady();
    if (slot === null) return null;
    if ((++this.#tick & this.#sampleMask) === 0) this.#waits.add(0);
    const stack =
      this.#o.leakDetectionMs === Number.POSITIVE_INFINITY
        ? undefined
        : new Error('Lease acquired here').stack;
    return this.#lease(slot, 0, stack);
  }

  /**
   * Acquires a resource, runs `fn` with it and releases it, also when `fn` throws.
   * A {@link BrokenResourceError} thrown by `fn` destroys the resource instead.
   * @throws whatever `acquire` or `fn` throws.
   * @example
   * const rows = await pool.use((conn) => conn.query('SELECT 1'));
   */
  async use<R>(fn: (resource: T) => R | Promise<R>, options?: AcquireOptions): Promise<R> {
    const lease = await this.acquire(options);
    try {
      const result = await fn(lease.value);
      lease.release();
      return result;
    } catch (error) {
      if (isWeirError(error, 'ERR_RESOURCE_BROKEN')) lease.destroy(error);
      else lease.release();
      throw error;
    }
  }

  /**
   * Changes the bounds at run time. Growing creates for waiters (and up to `min`) at once;
   * shrinking destroys surplus idle resources now and retires surplus leased ones on return.
   * @throws {RangeError} for bounds that are not integers, `max < 1` or `min > max`.
   */
  resize(bounds: { min?: number; max?: number }, reason = 'manual'): void {
    checkObject('bounds', bounds);
    const max = checkInt('max', bounds.max ?? this.#max, 1);
    const min = checkInt('min', bounds.min ?? Math.min(this.#min, max), 0);
    if (min > max) throw new RangeError(`Expected \`min\` (${min}) to be <= \`max\` (${max})`);
    if (this.#state !== OPEN) return;
    const from = { min: this.#min, max: this.#max };
    this.#min = min;
    this.#max = max;
    // Surplus idle resources go first, oldest first.
    while (this.#slots.size > max && this.#idle.length > 0) this.#destroy(this.#idle[0]!, 'resize');
    this.emit('resize', { from, to: { min, max }, reason });
    this.#pump();
  }

  /**
   * Takes a resource out of service from outside the pool (its connection reported an
   * error, a server sent GOAWAY): destroyed at once if idle, retired when its last lease
   * returns otherwise. Returns false if the pool does not hold `resource`.
   */
  retire(resource: T, reason: unknown = 'retired'): boolean {
    const slot = this.#byValue.get(resource);
    if (slot === undefined || slot.destroyed) return false;
    if (slot.leases === 0 && slot.busy === 0) {
      this.#destroy(slot, 'broken', reason);
      this.#pump();
    } else if (slot.retire === null) {
      slot.retire = 'broken';
    }
    return true;
  }

  /**
   * Changes how many borrowers `resource` may serve at once (an HTTP/2 server's
   * `maxConcurrentStreams`, learned after connecting). Lowering it takes effect as leases
   * return; raising it serves waiters at once. Returns false if the pool does not hold
   * `resource`.
   * @throws {RangeError} unless `limit` is an integer >= 1.
   */
  setLeaseLimit(resource: T, limit: number): boolean {
    checkInt('limit', limit, 1);
    const slot = this.#byValue.get(resource);
    if (slot === undefined || slot.destroyed) return false;
    slot.maxLeases = limit;
    this.#expectedLeases = limit;
    if (this.#state === OPEN && slot.leases > 0 && slot.busy === 0 && slot.retire === null) {
      this.#fillShared(slot);
      this.#pump();
    }
    return true;
  }

  /** A cheap snapshot of the pool's size, activity and totals. */
  stats(): PoolStats {
    let active = 0;
    for (const slot of this.#slots) if (slot.leases > 0) active++;
    return {
      name: this.#o.name,
      state: this.#state === OPEN ? 'open' : this.#state === DRAINING ? 'draining' : 'closed',
      size: this.#slots.size + this.#jobs.size,
      idle: this.#idle.length,
      active,
      leased: this.#leases,
      validating: this.#validating,
      resetting: this.#resetting,
      creating: this.#jobs.size,
      pending: this.#waiters.size,
      min: this.#min,
      max: this.#max,
      ...this.#totals,
      weight: this.#weight,
      maxWeight: this.#o.maxWeight,
      waitMs: this.#waits.summary(),
      breaker: this.#breaker?.state ?? 'off',
    };
  }

  /**
   * Graceful shutdown: refuses new acquires, fails every queued waiter with
   * `ERR_POOL_CLOSED`, waits up to `timeoutMs` for leases to come back, then destroys
   * everything (a `destroy` that hangs is abandoned after `destroyTimeoutMs`).
   * Idempotent: later calls return the same promise.
   * @default timeoutMs 30_000
   */
  drain(options?: { timeoutMs?: number }): Promise<void> {
    if (this.#drainPromise !== undefined) return this.#drainPromise;
    checkObject('options', options);
    const timeoutMs = checkMs('timeoutMs', options?.timeoutMs ?? 30_000);
    this.#drainPromise = this.#drain(timeoutMs);
    return this.#drainPromise;
  }

  /** Forced shutdown: like {@link Pool.drain} without waiting for leases. Idempotent. */
  close(): Promise<void> {
    const p = this.drain({ timeoutMs: 0 });
    this.#forceDrain?.();
    return p;
  }

  /** Same as {@link Pool.drain}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.drain();
  }

  // ---- acquiring ---------------------------------------------------------------------

  #enqueue(options: AcquireOptions | undefined, stack: string | undefined): Promise<Lease<T>> {
    const timeoutMs = options?.timeoutMs ?? this.#o.acquireTimeoutMs;
    const priority = options?.priority ?? 0;
    // The cheap test first: only a queue at its bound needs the closer look.
    if (this.#waiters.size >= this.#o.maxWaiting && this.#busyWaitersWith(1) > this.#o.maxWaiting) {
      this.#totals.exhausted++;
      return Promise.reject(
        new PoolExhaustedError(this.#o.name, this.#o.maxWaiting, this.#snapshot()),
      );
    }
    return new Promise<Lease<T>>((resolve, reject) => {
      const now = this.#o.clock.now();
      const w = newWaiter<Lease<T>>(resolve, reject, priority, now, now + timeoutMs, stack);
      this.#waiters.push(w);
      const signal = options?.signal;
      if (signal !== undefined) w.disposeAbort = onAbort(signal, (reason) => this.#fail(w, reason));
      if (w.deadline < this.#deadlineAt) this.#armDeadline(w.deadline);
      this.#pump();
    });
  }

  /**
   * How many queued waiters, with `extra` more, would wait for a busy pool: beyond those
   * that resources being created or validated, idle ones awaiting validation, and creates
   * still possible under `max` and the weight budget will serve. `maxWaiting` bounds these.
   */
  #busyWaitersWith(extra: number): number {
    const perCreate = this.#expectedLeases;
    let room = this.#max - this.#slots.size - this.#jobs.size;
    if (room > 0 && this.#o.weigh !== undefined && this.#weight > 0) {
      // The budget as #canCreate judges it; evictable idle resources are counted below.
      const expected = this.#weight / this.#slots.size;
      room = Math.min(
        room,
        Math.floor((this.#o.maxWeight - this.#weight) / expected) - this.#jobs.size,
      );
    }
    const served =
      this.#holders + this.#idle.length + (this.#jobs.size + Math.max(0, room)) * perCreate;
    return this.#waiters.size + extra - served;
  }

  /** Takes a resource that can be leased right now without validation, or returns null. */
  #takeReady(): Slot<T> | null {
    if (this.#shared) {
      const shared = this.#busiestShared();
      if (shared !== null) return shared;
    }
    const idle = this.#idle;
    while (idle.length > 0) {
      const slot = (this.#o.fifo ? idle[0] : idle[idle.length - 1])!;
      if (this.#o.validate === undefined && this.#o.maxLifetimeMs === Number.POSITIVE_INFINITY) {
        this.#o.fifo ? idle.shift() : idle.pop();
        if (this.#o.onIdle !== undefined) this.#notifyIdle(slot, false);
        return slot;
      }
      const now = this.#o.clock.now();
      if (slot.expiresAt <= now) {
        this.#destroy(slot, 'lifetime');
        continue;
      }
      if (this.#needsValidation(slot, now)) return null;
      this.#o.fifo ? idle.shift() : idle.pop();
      if (this.#o.onIdle !== undefined) this.#notifyIdle(slot, false);
      return slot;
    }
    return null;
  }

  /** The shared resource with the most leases that still has room (so idle ones can retire). */
  #busiestShared(): Slot<T> | null {
    let best: Slot<T> | null = null;
    for (const slot of this.#slots) {
      if (
        slot.leases > 0 &&
        slot.leases < slot.maxLeases &&
        slot.busy === 0 &&
        slot.retire === null &&
        (best === null || slot.leases > best.leases)
      ) {
        best = slot;
      }
    }
    return best;
  }

  #needsValidation(slot: Slot<T>, now: number): boolean {
    return (
      this.#o.validate !== undefined &&
      slot.leases === 0 &&
      now - Math.max(slot.idleSince, slot.validatedAt) > this.#o.validateAfterIdleMs
    );
  }

  #lease(slot: Slot<T>, waitedMs: number, stack: string | undefined): Lease<T> {
    slot.leases++;
    slot.uses++;
    this.#leases++;
    this.#totals.acquired++;
    const lease = new Lease<T>(this, slot.value, slot);
    if (stack !== undefined) this.#watchLeak(lease, stack);
    if (this.hasListeners('acquire')) this.emit('acquire', { resource: slot.value, waitedMs });
    return lease;
  }

  #watchLeak(lease: Lease<T>, stack: string): void {
    const acquiredAt = this.#o.clock.now();
    lease.leakTimer = this.#o.clock.setTimeout(
      () => {
        lease.leakTimer = undefined;
        this.#totals.leaks++;
        this.emit('leak', {
          resource: lease.value,
          heldMs: this.#o.clock.now() - acquiredAt,
          stack,
        });
      },
      this.#o.leakDetectionMs,
      true,
    );
  }

  /** Hands `slot` to waiter `w`, which leaves the queue. */
  #grant(w: Waiter<Lease<T>>, slot: Slot<T>): void {
    this.#settle(w);
    // Reading the clock is a large share of a contended acquire, so waits are sampled:
    // one acquire in `statsSampleEvery` (fast path included, so the sample is unbiased).
    let waited = Number.NaN;
    if ((++this.#tick & this.#sampleMask) === 0 || this.hasListeners('acquire')) {
      waited = this.#o.clock.now() - w.startedAt;
      this.#waits.add(waited);
    }
    w.resolve(this.#lease(slot, waited, w.stack));
  }

  /** Rejects waiter `w` (abort, timeout, create failure, shutdown). */
  #fail(w: Waiter<Lease<T>>, error: unknown): void {
    if (!w.queued) return;
    this.#settle(w);
    w.reject(error);
    // A waiter that leaves may free a create for someone else, or end the deadline timer.
    if (this.#state === OPEN) this.#pump();
  }

  #settle(w: Waiter<Lease<T>>): void {
    this.#waiters.remove(w);
    w.disposeAbort();
    if (w.holding !== null) {
      w.holding = null;
      this.#holders--;
    }
    if (w.job !== null) {
      (w.job as CreateJob<T>).cause = null;
      w.job = null;
    }
    if (this.#waiters.size === 0 && this.#deadlineTimer !== undefined) {
      this.#o.clock.clearTimeout(this.#deadlineTimer);
      this.#deadlineTimer = undefined;
      this.#deadlineAt = Number.POSITIVE_INFINITY;
    }
  }

  // One timer serves every waiter's deadline: it is armed for the earliest one, and on
  // firing expires all that are due and re-arms for the next. A timer per waiter would
  // cost a setTimeout/clearTimeout pair on every contended acquire.
  #armDeadline(at: number): void {
    if (this.#deadlineTimer !== undefined) this.#o.clock.clearTimeout(this.#deadlineTimer);
    this.#deadlineAt = at;
    this.#deadlineTimer = this.#o.clock.setTimeout(
      () => this.#onDeadline(),
      Math.max(0, at - this.#o.clock.now()),
    );
  }

  #onDeadline(): void {
    this.#deadlineTimer = undefined;
    this.#deadlineAt = Number.POSITIVE_INFINITY;
    const now = this.#o.clock.now();
    let next = Number.POSITIVE_INFINITY;
    for (let w = this.#waiters.head; w !== null; ) {
      const following = w.next;
      // Timers may fire a fraction of a millisecond early against performance.now().
      if (w.deadline <= now + 1) {
        const waited = now - w.startedAt;
        const state = this.#snapshot();
        this.#totals.timeouts++;
        this.emit('timeout', { waitedMs: waited, state });
        this.#settle(w);
        w.reject(new PoolTimeoutError(this.#o.name, waited, state, this.#lastCreateError));
      } else if (w.deadline < next) {
        next = w.deadline;
      }
      w = following;
    }
    if (next !== Number.POSITIVE_INFINITY && this.#waiters.size > 0) this.#armDeadline(next);
    this.#pump();
  }

  // ---- the scheduler -----------------------------------------------------------------

  /**
   * Serves waiters from free resources, starts creates for the rest (within `max`, the
   * backoff and the breaker) and keeps `min` resources. Re-entrant calls (from event
   * listeners or synchronous hooks) are folded into the running one.
   */
  #pump(): void {
    if (this.#pumping) {
      this.#pumpAgain = true;
      return;
    }
    this.#pumping = true;
    try {
      do {
        this.#pumpAgain = false;
        if (this.#state !== OPEN) return;
        this.#serve();
        this.#grow();
      } while (this.#pumpAgain);
    } finally {
      this.#pumping = false;
    }
  }

  #serve(): void {
    for (let w = this.#waiters.first(); w !== null; w = this.#waiters.first()) {
      let slot = this.#takeReady();
      if (slot === null) {
        // The next idle resource needs validation first: do it on this waiter's behalf.
        slot = this.#takeForValidation();
        if (slot === null) return;
        this.#validateFor(slot, w);
        continue;
      }
      this.#grant(w, slot);
    }
  }

  #takeForValidation(): Slot<T> | null {
    const idle = this.#idle;
    if (idle.length === 0) return null;
    const slot = (this.#o.fifo ? idle.shift() : idle.pop())!;
    if (this.#o.onIdle !== undefined) this.#notifyIdle(slot, false);
    return slot;
  }

  #grow(): void {
    // A create in flight will serve up to as many waiters as the last resource took.
    let deficit = this.#waiters.size - this.#holders - this.#jobs.size * this.#expectedLeases;
    while (deficit > 0 && this.#canCreate()) {
      if (this.#retryPending) {
        if (this.#breaker?.state === 'open') this.#failFast(deficit);
        return;
      }
      if (this.#breaker !== undefined && !this.#breaker.tryAcquirePermit()) {
        this.#failFast(deficit);
        return;
      }
      this.#startCreate(this.#nextCause());
      deficit--;
    }
    while (
      this.#slots.size + this.#jobs.size < this.#min &&
      !this.#retryPending &&
      this.#canCreate()
    ) {
      if (this.#breaker !== undefined && !this.#breaker.tryAcquirePermit()) {
        // Open: try again when a probe is allowed. Half-open: the probe's outcome pumps.
        if (this.#breaker.state === 'open') this.#scheduleRetry();
        return;
      }
      this.#startCreate(null);
    }
  }

  /**
   * Whether one more create fits under `max` and the weight budget. A new resource is
   * expected to weigh what the average one does; idle ones are evicted, oldest first,
   * to make room.
   */
  #canCreate(): boolean {
    if (this.#slots.size + this.#jobs.size >= this.#max) return false;
    if (this.#o.weigh === undefined) return true;
    for (;;) {
      const n = this.#slots.size;
      const expected = n === 0 ? 0 : this.#weight / n;
      if (this.#weight + expected * (this.#jobs.size + 1) <= this.#o.maxWeight) return true;
      const oldest = this.#idle[0];
      if (oldest === undefined) return false;
      this.#destroy(oldest, 'weight');
    }
  }

  /** Re-reads a resource's weight; returns false if weighing threw (the resource is then destroyed). */
  #reweigh(slot: Slot<T>): boolean {
    let w: number;
    try {
      w = this.#o.weigh!(slot.value);
      if (typeof w !== 'number' || !(w >= 0))
        throw new RangeError(`weigh() returned ${String(w)}, expected a number >= 0`);
    } catch (error) {
      this.#destroy(slot, 'broken', error);
      return false;
    }
    this.#weight += w - slot.weight;
    slot.weight = w;
    return true;
  }

  /** Evicts idle resources, oldest first, while the summed weight is over budget. */
  #trimWeight(): void {
    while (this.#weight > this.#o.maxWeight && this.#idle.length > 0)
      this.#destroy(this.#idle[0]!, 'weight');
  }

  /** The oldest waiter that has no create of its own yet. */
  #nextCause(): Waiter<Lease<T>> | null {
    for (let w = this.#waiters.head; w !== null; w = w.next) {
      if (w.job === null && w.holding === null) return w;
    }
    return null;
  }

  /** The breaker is open: the newest `n` waiters that would need a create fail at once. */
  #failFast(n: number): void {
    const breaker = this.#breaker!;
    for (let w = this.#waiters.tail; w !== null && n > 0; ) {
      const prev = w.prev;
      if (w.holding === null && w.job === null) {
        this.#settle(w);
        w.reject(breaker.openError(this.#lastCreateError));
        n--;
      }
      w = prev;
    }
  }

  // ---- creating ----------------------------------------------------------------------

  #startCreate(cause: Waiter<Lease<T>> | null): void {
    const job: CreateJob<T> = {
      cause,
      controller: new AbortController(),
      timer: undefined,
      settled: false,
      startedAt: this.#o.clock.now(),
      permit: this.#breaker !== undefined,
    };
    if (cause !== null) cause.job = job;
    this.#jobs.add(job);
    job.timer = this.#o.clock.setTimeout(
      () => {
        const error = new TimeoutError(
          `create did not finish within ${this.#o.createTimeoutMs} ms`,
          { code: 'ERR_POOL_CREATE_TIMEOUT' },
        );
        job.controller.abort(error);
        this.#createFailed(job, error, true);
      },
      this.#o.createTimeoutMs,
      // The create's own I/O keeps the process alive while it matters; a waiter it serves
      // has its own deadline timer.
      true,
    );
    let result: T | Promise<T>;
    try {
      result = this.#o.create(job.controller.signal);
    } catch (error) {
      result = Promise.reject(error);
    }
    // Even a synchronous failure is handled on a later job, never in this call stack:
    // a factory that throws at once cannot make the pool spin.
    Promise.resolve(result).then(
      (value) => this.#created(job, value),
      (error: unknown) => this.#createFailed(job, error, false),
    );
  }

  #finishJob(job: CreateJob<T>): void {
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
      this.#callDestroy(value, 'late');
      return;
    }
    this.#finishJob(job);
    if (this.#state !== OPEN) {
      this.#callDestroy(value, 'drain');
      return;
    }
    if (job.permit) this.#breaker!.recordSuccess();
    this.#failures = 0;
    this.#lastCreateError = undefined;
    const now = this.#o.clock.now();
    const lifetime = this.#o.maxLifetimeMs * (1 - this.#o.lifetimeJitter * this.#o.random());
    let maxLeases = this.#o.maxLeasesPerResource;
    if (this.#o.leaseLimit !== undefined) {
      try {
        maxLeases = checkInt('leaseLimit()', this.#o.leaseLimit(value), 1);
      } catch (error) {
        this.#callDestroy(value, 'broken', error);
        this.#pump();
        return;
      }
      this.#expectedLeases = maxLeases;
    }
    const slot: Slot<T> = {
      value,
      leases: 0,
      maxLeases,
      uses: 0,
      createdAt: now,
      expiresAt: now + lifetime,
      idleSince: now,
      validatedAt: now,
      busy: 0,
      retire: null,
      destroyed: false,
      weight: 0,
    };
    this.#slots.add(slot);
    this.#byValue.set(value, slot);
    if (this.#o.weigh !== undefined) {
      if (!this.#reweigh(slot)) {
        this.#pump();
        return;
      }
      this.#trimWeight();
    }
    this.#totals.created++;
    if (this.hasListeners('create')) {
      this.emit('create', { resource: value, durationMs: now - job.startedAt });
    }
    this.#armReaper();
    // FIFO order wins over who caused the create: the oldest waiter gets the resource.
    const w = this.#waiters.first();
    if (w !== null) this.#grant(w, slot);
    else this.#toIdle(slot);
    if (this.#shared) this.#fillShared(slot);
    this.#pump();
  }

  #createFailed(job: CreateJob<T>, error: unknown, timedOut: boolean): void {
    if (job.settled) return;
    const cause = job.cause;
    this.#finishJob(job);
    if (this.#state !== OPEN) {
      if (job.permit) this.#breaker!.releasePermit();
      return;
    }
    this.#failures++;
    this.#totals.createErrors++;
    this.#lastCreateError = error;
    if (job.permit) this.#breaker!.recordFailure(error);
    const failure = new CreateFailedError(
      this.#o.name,
      error,
      timedOut ? this.#o.createTimeoutMs : undefined,
    );
    const retryInMs = this.#scheduleRetry();
    this.emit('createError', { error, attempt: this.#failures, retryInMs });
    if (cause?.queued) {
      this.#settle(cause);
      cause.reject(failure);
    }
    this.#pump();
  }

  /** Arms the create retry timer with exponential backoff and jitter; returns its delay. */
  #scheduleRetry(): number {
    const exp = this.#o.retryInitialDelayMs * 2 ** Math.min(this.#failures - 1, 30);
    const capped = Math.min(this.#o.retryMaxDelayMs, exp);
    // "Equal jitter": at least half the delay, so retries cannot bunch up at zero.
    let delay = capped / 2 + (capped / 2) * this.#o.random();
    if (this.#breaker?.state === 'open') {
      delay = Math.max(delay, this.#breaker.retryAt - this.#o.clock.now());
    }
    if (this.#retryPending) this.#o.clock.clearTimeout(this.#retryTimer);
    this.#retryPending = true;
    this.#retryTimer = this.#o.clock.setTimeout(
      () => {
        this.#retryPending = false;
        this.#retryTimer = undefined;
        this.#pump();
      },
      delay,
      // Only housekeeping (min) depends on it when nobody waits; waiters have their own deadline.
      true,
    );
    return delay;
  }

  // ---- returning ---------------------------------------------------------------------

  /** @internal Called by {@link Lease.release} and {@link Lease.destroy}. */
  [kReturn](lease: Lease<T>, reason: unknown, broken: boolean): void {
    const slot = lease.slot as Slot<T>;
    if (lease.leakTimer !== undefined) {
      this.#o.clock.clearTimeout(lease.leakTimer);
      lease.leakTimer = undefined;
    }
    slot.leases--;
    this.#leases--;
    this.#totals.released++;
    if (this.hasListeners('release'))
      this.emit('release', { resource: slot.value, broken, reason });
    if (slot.destroyed) {
      this.#checkLeasesBack();
      return;
    }
    if (this.#state !== OPEN) {
      if (slot.leases === 0) this.#destroy(slot, 'drain');
      this.#checkLeasesBack();
      return;
    }
    if (slot.retire === null) {
      if (broken) slot.retire = 'broken';
      else if (slot.uses >= this.#o.maxUses) slot.retire = 'uses';
      else if (this.#slots.size > this.#max) slot.retire = 'resize';
      else if (
        slot.expiresAt !== Number.POSITIVE_INFINITY &&
        slot.expiresAt <= this.#o.clock.now()
      ) {
        slot.retire = 'lifetime';
      }
    }
    if (slot.retire !== null) {
      if (slot.leases === 0) {
        this.#destroy(slot, slot.retire);
        this.#pump();
      }
      return;
    }
    if (this.#o.weigh !== undefined) {
      if (!this.#reweigh(slot)) {
        this.#pump();
        return;
      }
      this.#trimWeight();
    }
    if (slot.leases === 0 && this.#o.reset !== undefined) {
      this.#resetThenReturn(slot);
      return;
    }
    this.#makeAvailable(slot);
  }

  /** A resource with room goes straight to the oldest waiter, else back to the idle list. */
  #makeAvailable(slot: Slot<T>): void {
    const w = this.#waiters.first();
    // A limit lowered by setLeaseLimit may leave a shared resource over its limit for now.
    if (w !== null && slot.leases < slot.maxLeases) {
      this.#grant(w, slot);
      if (this.#shared) this.#fillShared(slot);
      return;
    }
    if (slot.leases === 0) this.#toIdle(slot);
  }

  /** Gives a shared resource's remaining room to waiters. */
  #fillShared(slot: Slot<T>): void {
    for (let w = this.#waiters.first(); w !== null && slot.leases < slot.maxLeases; ) {
      if (slot.leases === 0) this.#leaveIdle(slot);
      this.#grant(w, slot);
      w = this.#waiters.first();
    }
  }

  #toIdle(slot: Slot<T>): void {
    // Reading the clock costs a fraction of a hot release; without `validate` the idle
    // time only matters to the reaper, which stamps the slot on its next pass instead.
    slot.idleSince = this.#o.validate === undefined ? UNSTAMPED : this.#o.clock.now();
    this.#idle.push(slot);
    if (this.#o.onIdle !== undefined) this.#notifyIdle(slot, true);
  }

  /** Takes an idle resource out of the idle list to use it (not to destroy it). */
  #leaveIdle(slot: Slot<T>): void {
    this.#removeIdle(slot);
    if (this.#o.onIdle !== undefined) this.#notifyIdle(slot, false);
  }

  #notifyIdle(slot: Slot<T>, idle: boolean): void {
    try {
      this.#o.onIdle!(slot.value, idle);
    } catch (error) {
      // As with a throwing event listener: reported, without leaving the pool half-updated.
      queueMicrotask(() => {
        throw error;
      });
    }
  }

  #removeIdle(slot: Slot<T>): void {
    const i = this.#idle.indexOf(slot);
    if (i >= 0) this.#idle.splice(i, 1);
  }

  /** Runs `reset`; a hook that returns without a promise costs no extra tick. */
  #resetThenReturn(slot: Slot<T>): void {
    let result: void | Promise<void>;
    try {
      result = this.#o.reset!(slot.value);
    } catch (error) {
      this.#afterReset(slot, true, error);
      return;
    }
    if (result === undefined || typeof (result as Promise<void>).then !== 'function') {
      this.#afterReset(slot, false, undefined);
      return;
    }
    slot.busy = RESETTING;
    this.#resetting++;
    const done = (result as Promise<void>).then(
      () => {
        this.#hookDone(slot, RESETTING);
        this.#afterReset(slot, false, undefined);
      },
      (error: unknown) => {
        this.#hookDone(slot, RESETTING);
        this.#afterReset(slot, true, error);
      },
    );
    this.#inHooks.add(done);
    void done.then(() => this.#inHooks.delete(done));
  }

  /** A reset or validation ended: the slot is countable again (unless shutdown gave up on it). */
  #hookDone(slot: Slot<T>, kind: number): void {
    if (slot.busy !== kind) return;
    slot.busy = 0;
    if (kind === RESETTING) this.#resetting--;
    else this.#validating--;
  }

  #afterReset(slot: Slot<T>, failed: boolean, error: unknown): void {
    if (failed) {
      this.#destroy(slot, 'reset', error);
      if (this.#state === OPEN) this.#pump();
      else this.#checkLeasesBack();
      return;
    }
    if (slot.destroyed) {
      this.#checkLeasesBack();
      return;
    }
    if (this.#state !== OPEN) {
      this.#destroy(slot, 'drain');
      this.#checkLeasesBack();
      return;
    }
    if (slot.retire !== null) {
      this.#destroy(slot, slot.retire);
      this.#pump();
      return;
    }
    this.#makeAvailable(slot);
  }

  /**
   * Validates `slot` on behalf of waiter `w`, which is skipped while it waits for this
   * resource. Bounded by `validateTimeoutMs`; shutdown aborts it (see {@link Pool.close}).
   */
  #validateFor(slot: Slot<T>, w: Waiter<Lease<T>>): void {
    slot.busy = VALIDATING;
    this.#validating++;
    w.holding = slot;
    if (w.queued) this.#holders++;
    const check: Check = { controller: new AbortController(), timer: undefined };
    this.#checks.add(check);
    const done = this.#runValidate(slot, w, check);
    this.#inHooks.add(done);
    void done.then(() => this.#inHooks.delete(done));
  }

  async #runValidate(slot: Slot<T>, w: Waiter<Lease<T>>, check: Check): Promise<void> {
    const { controller } = check;
    const ms = this.#o.validateTimeoutMs;
    // A validate that ignores its signal must not hold the resource forever: it loses the race.
    const deadline = new Promise<never>((_, reject) => {
      check.timer = this.#o.clock.setTimeout(
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
      this.#o.clock.clearTimeout(check.timer);
      this.#checks.delete(check);
    }
    this.#hookDone(slot, VALIDATING);
    if (w.holding === slot) {
      w.holding = null;
      if (w.queued) this.#holders--;
    }
    if (slot.destroyed) {
      this.#checkLeasesBack();
      return;
    }
    if (this.#state !== OPEN) {
      this.#destroy(slot, 'drain');
      this.#checkLeasesBack();
      return;
    }
    if (slot.retire !== null) ok = false;
    if (!ok) {
      this.#totals.validationFailures++;
      this.emit('validationFailure', { resource: slot.value, error });
      this.#destroy(slot, 'validation', error);
    } else {
      slot.validatedAt = this.#o.clock.now();
      // The waiter may have given up meanwhile; then the resource serves the next one.
      if (w.queued) this.#grant(w, slot);
      else this.#makeAvailable(slot);
    }
    this.#pump();
  }

  // ---- destroying --------------------------------------------------------------------

  #destroy(slot: Slot<T>, reason: DestroyReason, error?: unknown): void {
    if (slot.destroyed) return;
    slot.destroyed = true;
    // Only shutdown destroys a slot under a hook, after giving the hook its time.
    if (slot.busy !== 0) this.#hookDone(slot, slot.busy);
    this.#slots.delete(slot);
    this.#byValue.delete(slot.value);
    this.#weight -= slot.weight;
    if (slot.leases === 0) this.#removeIdle(slot);
    this.#callDestroy(slot.value, reason, error);
  }

  /** Runs the destroy hook, bounded by `destroyTimeoutMs`; never throws. */
  #callDestroy(value: T, reason: DestroyReason, cause?: unknown): void {
    this.#totals.destroyed++;
    const hook = this.#o.destroy;
    const report = (error?: unknown): void => {
      if (this.hasListeners('destroy')) {
        this.emit('destroy', {
          resource: value,
          reason,
          ...(cause === undefined ? {} : { cause }),
          ...(error === undefined ? {} : { error }),
        });
      }
    };
    if (hook === undefined) {
      report();
      return;
    }
    let timer: TimerHandle;
    const done = new Promise<void>((resolve) => {
      timer = this.#o.clock.setTimeout(
        () => {
          report(new TimeoutError(`destroy did not finish within ${this.#o.destroyTimeoutMs} ms`));
          resolve();
        },
        this.#o.destroyTimeoutMs,
        // While open it bounds background work; during shutdown a caller awaits it.
        this.#state === OPEN,
      );
      let result: void | Promise<void>;
      try {
        result = hook(value);
      } catch (error) {
        result = Promise.reject(error);
      }
      Promise.resolve(result).then(
        () => {
          this.#o.clock.clearTimeout(timer);
          report();
          resolve();
        },
        (error: unknown) => {
          this.#o.clock.clearTimeout(timer);
          report(error);
          resolve();
        },
      );
    });
    this.#destroying.add(done);
    void done.then(() => this.#destroying.delete(done));
  }

  // ---- housekeeping ------------------------------------------------------------------

  #armReaper(): void {
    if (this.#reapPending || this.#state !== OPEN) return;
    this.#reapPending = true;
    this.#reapTimer = this.#o.clock.setTimeout(() => this.#reap(), this.#o.reapIntervalMs, true);
  }

  #reap(): void {
    this.#reapPending = false;
    this.#reapTimer = undefined;
    if (this.#state !== OPEN) return;
    if (this.#o.autoscale !== undefined) this.#sampleUtilization();
    const now = this.#o.clock.now();
    for (const slot of [...this.#idle]) {
      if (slot.idleSince === UNSTAMPED) slot.idleSince = now;
      if (slot.expiresAt <= now) this.#destroy(slot, 'lifetime');
      else if (now - slot.idleSince >= this.#o.idleTimeoutMs && this.#slots.size > this.#min) {
        this.#destroy(slot, 'idle');
      } else if (
        this.#o.validate !== undefined &&
        now - Math.max(slot.idleSince, slot.validatedAt) >= this.#o.validateIntervalMs
      ) {
        this.#leaveIdle(slot);
        this.#validateIdle(slot);
      }
    }
    // Leased resources past their lifetime take no new borrowers; they go when returned.
    for (const slot of this.#slots) {
      if (slot.leases > 0 && slot.retire === null && slot.expiresAt <= now)
        slot.retire = 'lifetime';
    }
    this.#pump();
    if (this.#slots.size > 0) this.#armReaper();
  }

  #validateIdle(slot: Slot<T>): void {
    // A placeholder waiter that nobody waits on: the resource returns to the pool after.
    const ghost = newWaiter<Lease<T>>(noop, noop, 0, 0, 0, undefined);
    this.#validateFor(slot, ghost);
  }

  // ---- autoscaling -------------------------------------------------------------------

  #armAutoscale(): void {
    this.#scaleTimer = this.#o.clock.setTimeout(
      () => this.#autoscale(),
      this.#o.autoscale!.intervalMs,
      true,
    );
  }

  #sampleUtilization(): void {
    this.#utilSum += this.#leases / (this.#max * this.#o.maxLeasesPerResource);
    this.#utilSamples++;
  }

  /**
   * One autoscaling step: grow when the p99 wait of the last interval missed the target,
   * shrink when utilisation stayed low (and waits were fine).
   */
  #autoscale(): void {
    if (this.#state !== OPEN) return;
    const a = this.#o.autoscale!;
    this.#sampleUtilization();
    const waits = summarize(this.#waits.take());
    const utilization = this.#utilSum / this.#utilSamples;
    this.#utilSum = this.#utilSamples = 0;
    const max = this.#max;
    if (waits.samples > 0 && waits.p99 > a.targetWaitMs && max < a.max) {
      const to = Math.min(a.max, Math.max(max + 1, Math.ceil(max * a.upFactor)));
      this.resize(
        { max: to, min: Math.min(this.#min, to) },
        `autoscale: p99 wait ${round(waits.p99)} ms > target ${a.targetWaitMs} ms`,
      );
    } else if (utilization < a.scaleDownUtilization && waits.p99 <= a.targetWaitMs && max > a.min) {
      const to = Math.max(a.min, Math.min(max - 1, Math.floor(max * a.downFactor)));
      this.resize(
        { max: to, min: Math.min(this.#min, to) },
        `autoscale: utilisation ${round(utilization * 100)}% < ${round(a.scaleDownUtilization * 100)}%`,
      );
    }
    this.#armAutoscale();
  }

  // ---- shutting down -----------------------------------------------------------------

  async #drain(timeoutMs: number): Promise<void> {
    this.#state = DRAINING;
    const closed = new PoolClosedError(this.#o.name);
    for (let w = this.#waiters.head; w !== null; w = this.#waiters.head) {
      this.#settle(w);
      w.reject(closed);
    }
    const clock = this.#o.clock;
    clock.clearTimeout(this.#deadlineTimer);
    clock.clearTimeout(this.#retryTimer);
    clock.clearTimeout(this.#reapTimer);
    clock.clearTimeout(this.#scaleTimer);
    this.#retryPending = this.#reapPending = false;
    this.#unwatchBreaker();
    for (const job of [...this.#jobs]) {
      this.#finishJob(job);
      if (job.permit) this.#breaker!.releasePermit();
      job.controller.abort(closed);
    }
    // Nobody will take a resource validated now: each validation is told to stop and then
    // destroys its resource itself.
    for (const check of this.#checks) {
      clock.clearTimeout(check.timer);
      check.timer = undefined;
      check.controller.abort(closed);
    }
    for (const slot of [...this.#idle]) this.#destroy(slot, 'drain');
    if (!this.#allBack() && timeoutMs > 0) {
      await new Promise<void>((resolve) => {
        const timer = clock.setTimeout(() => resolve(), timeoutMs);
        const done = (): void => {
          clock.clearTimeout(timer);
          resolve();
        };
        this.#leasesBack = done;
        this.#forceDrain = done;
      });
    }
    this.#leasesBack = this.#forceDrain = undefined;
    // A resource under a reset or validation is destroyed only once that hook let go of it,
    // or after `destroyTimeoutMs` if it does not.
    if (this.#inHooks.size > 0)
      await this.#settleWithin([...this.#inHooks], this.#o.destroyTimeoutMs);
    // Forced: whatever is still out (leased, or under a hook past its grace) is destroyed
    // now; a later release of its lease is a no-op.
    for (const slot of [...this.#slots]) this.#destroy(slot, 'drain');
    while (this.#destroying.size > 0) await Promise.all(this.#destroying);
    this.#state = CLOSED;
  }

  /** Waits until every promise in `work` settled, for at most `ms`. */
  #settleWithin(work: Promise<unknown>[], ms: number): Promise<void> {
    const clock = this.#o.clock;
    return new Promise<void>((resolve) => {
      const timer = clock.setTimeout(resolve, ms);
      void Promise.allSettled(work).then(() => {
        clock.clearTimeout(timer);
        resolve();
      });
    });
  }

  /** No lease out and no reset running: a graceful drain may finish. */
  #allBack(): boolean {
    return this.#leases === 0 && this.#resetting === 0;
  }

  #checkLeasesBack(): void {
    if (this.#allBack()) this.#leasesBack?.();
  }

  #snapshot(): PoolState {
    return {
      leased: this.#leases,
      idle: this.#idle.length,
      validating: this.#validating,
      resetting: this.#resetting,
      creating: this.#jobs.size,
      waiting: this.#waiters.size,
      max: this.#max,
    };
  }
}

const noop = (): void => {};
const UNSTAMPED = Number.NEGATIVE_INFINITY;
const round = (n: number): number => Math.round(n * 10) / 10;

/**
 * Creates a resource pool.
 * @throws {TypeError|RangeError} for bad options, naming the option (`max < min`, `max < 1`,
 *   negative timeouts, a `create` that is not a function…).
 * @example
 * const pool = createPool({
 *   create: async () => connect(),
 *   destroy: (conn) => conn.close(),
 *   max: 10,
 * });
 * const answer = await pool.use((conn) => conn.query('SELECT 42'));
 */
export function createPool<T>(options: PoolOptions<T>): Pool<T> {
  return new Pool(options);
}
