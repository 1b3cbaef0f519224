// The pool: its public API, and the core that serves waiters from free resources, grows
// towards demand and takes resources back. Creating, the hooks, housekeeping,
// autoscaling and the weight budget are parts of their own that call back into it.
import { isWeirError } from '../internal/errors.js';
import { checkInt, checkKeys, checkMs, checkObject, optionKeys } from '../internal/options.js';
import { Autoscaler, type AutoscalerHost } from './autoscaler.js';
import { Creator, type CreatorHost } from './creator.js';
import { PoolEmitter } from './diagnostics.js';
import { PoolClosedError, type PoolState } from './errors.js';
import { assessHealth, type HealthOptions, type PoolHealth } from './health.js';
import { Hooks, type HooksHost, waitAtMost } from './hooks.js';
import { IdleSet, type IdleSetHost } from './idle-set.js';
import { callerStack, type Entry, kReturn, Lease, type LeaseOwner, watchLeak } from './lease.js';
import {
  type AcquireOptions,
  type PoolOptions,
  type ResolvedPoolOptions,
  refuseAcquire,
  resolveOptions,
} from './options.js';
import { Reaper, type ReaperHost } from './reaper.js';
import { Recycler, type RecyclerHost } from './recycler.js';
import { type DestroyReason, FREE, type Slot } from './slot.js';
import { type PoolStats, summarize, Totals, WaitSamples } from './stats.js';
import { newWaiter, type QueueHost, type Waiter, WaiterQueue } from './waiters.js';
import { WeightBudget } from './weight.js';

export type { AcquireOptions } from './options.js';
export type { DestroyReason } from './slot.js';

const OPEN = 0;
const DRAINING = 1;
const CLOSED = 2;

/** What the pool's parts call back into it. */
type Host<T> = AutoscalerHost &
  CreatorHost<T> &
  HooksHost<T> &
  IdleSetHost<T> &
  QueueHost<T> &
  ReaperHost<T> &
  RecyclerHost<T>;

const RESIZE_KEYS = optionKeys<{ min?: number; max?: number }>({ min: 1, max: 1 });
const DRAIN_KEYS = optionKeys<{ timeoutMs?: number }>({ timeoutMs: 1 });

/**
 * A pool of reusable resources (connections, sessions, workers). Create one with
 * {@link createPool}.
 *
 * Waiters are served first-come-first-served (higher `priority` first), idle resources
 * are reused warmest-first, a released resource goes straight to the oldest waiter, and
 * every wait can be aborted or timed out without leaving anything behind.
 */
export class Pool<T> extends PoolEmitter<T> implements LeaseOwner<T> {
  readonly #o: ResolvedPoolOptions<T>;
  /** Leak detection is on: acquirers' stacks are taken. */
  readonly #watchLeaks: boolean;
  /** A resource may serve several borrowers (a fixed or per-resource lease limit). */
  readonly #shared: boolean;
  #min: number;
  #max: number;
  #state = OPEN;
  readonly #slots = new Set<Slot<T>>();
  readonly #byValue = new Map<T, Slot<T>>();
  readonly #idle: IdleSet<T>;
  readonly #waiters: WaiterQueue<T>;
  readonly #creator: Creator<T>;
  readonly #hooks: Hooks<T>;
  readonly #recycler: Recycler<T>;
  readonly #reaper: Reaper<T>;
  readonly #autoscaler: Autoscaler | undefined;
  readonly #budget: WeightBudget<T> | undefined;
  readonly #totals = new Totals();
  readonly #waits = new WaitSamples();
  #leases = 0;
  #tick = 0;
  readonly #sampleMask: number;
  #pumping = false;
  #pumpAgain = false;
  #drainPromise: Promise<void> | undefined;
  #forceDrain: (() => void) | undefined;
  #leasesBack: (() => void) | undefined;
  readonly #reportLeak = (lease: Lease<T>, heldMs: number, stack: string): void => {
    this.#totals.leaks++;
    this.emit('leak', { resource: lease.value, heldMs, stack });
  };

  /** @internal Use {@link createPool}. */
  constructor(options: PoolOptions<T>) {
    super();
    const o = resolveOptions(options);
    this.#o = o;
    this.#watchLeaks = o.leakDetectionMs !== Number.POSITIVE_INFINITY;
    this.#shared = o.maxLeasesPerResource > 1 || o.leaseLimit !== undefined;
    this.#min = o.min;
    this.#max = o.max;
    this.#sampleMask = o.statsSampleEvery - 1;
    // Every callback the parts make into the pool; each part sees its own slice of it.
    const host: Host<T> = {
      isOpen: () => this.#state === OPEN,
      pump: () => this.#pump(),
      // Behind others, with nothing idle and no room to create, a newcomer changes nothing.
      joined: () => {
        const full = this.#slots.size + this.#creator.size >= this.#max;
        if (!full || this.#idle.length > 0 || this.#shared) this.#pump();
      },
      destroy: (slot, reason, error?: unknown) => this.#destroy(slot, reason, error),
      grant: (w, slot) => this.#grant(w, slot),
      servable: () => this.#servable(),
      snapshot: () => this.#snapshot(),
      timedOut: (waitedMs, state) => this.emit('timeout', { waitedMs, state }),
      lastCreateError: () => this.#creator.lastError,
      min: () => this.#min,
      letGo: () => this.#checkLeasesBack(),
      created: (slot, durationMs) => this.#created(slot, durationMs),
      discard: (value, reason, cause) => this.#hooks.destroy(value, reason, cause),
      afterReset: (slot, failed, error) => this.#recycler.afterReset(slot, failed, error),
      afterValidate: (slot, w, ok, error) => this.#recycler.afterValidate(slot, w, ok, error),
      // A placeholder waiter that nobody waits on: the resource returns to the pool after.
      validate: (slot) => this.#recycler.check(slot, newWaiter<T>(noop, noop, 0, 0, 0, undefined)),
      beforePass: () => this.#autoscaler?.sample(),
      utilization: () => this.#leases / (this.#max * o.maxLeasesPerResource),
      bounds: () => ({ min: this.#min, max: this.#max }),
      takeWaits: () => summarize(this.#waits.take()),
      resize: (step) => this.resize({ max: step.max, min: step.min }, step.reason),
      reportsDestroy: () => this.hasListeners('destroy'),
      destroyed: (event) => this.emit('destroy', event),
      failed: (error, attempt, retryInMs) =>
        this.emit('createError', { error, attempt, retryInMs }),
      breakerChanged: (from, to) => this.emit('breaker', { from, to }),
      validationFailed: (slot, error) => {
        this.#totals.validationFailures++;
        this.emit('validationFailure', { resource: slot.value, error });
      },
    };
    this.#idle = new IdleSet(o, host);
    this.#waiters = new WaiterQueue<T>(o, this.#totals, host);
    this.#budget =
      o.weigh === undefined
        ? undefined
        : new WeightBudget(o.weigh, o.maxWeight, this.#slots, this.#idle, host);
    this.#hooks = new Hooks(o, this.#totals, host);
    const parts = {
      waiters: this.#waiters,
      idle: this.#idle,
      hooks: this.#hooks,
      budget: this.#budget,
    };
    this.#recycler = new Recycler(o, parts, host);
    this.#creator = new Creator(o, this.#totals, this.#waiters, host);
    this.#autoscaler =
      o.autoscale === undefined ? undefined : new Autoscaler(o.autoscale, o.clock, host);
    this.#reaper = new Reaper(o, this.#slots, this.#idle, host);
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
   * @throws {PoolExhaustedError} `ERR_POOL_EXHAUSTED` at once when `maxWaiting` callers already wait for a busy pool.
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
      const refused = refuseAcquire(options);
      if (refused !== null) return refused;
    }
    // Fast path: nobody is ahead of us and a resource is ready without validation. Kept
    // to a few small calls that V8 inlines: most acquires of a busy service end here.
    if (this.#waiters.size === 0) {
      const slot = this.#idle.takeReady();
      if (slot !== null) return Promise.resolve(this.#lendNow(slot, this.#leakStack(ACQUIRE)));
    }
    return this.#waiters.enqueue(options, this.#leakStack(ACQUIRE));
  }

  /**
   * @internal Borrows a resource only if one is ready now (the fast path of `acquire`,
   * without its promise): returns null when the pool is not open, a caller is already
   * waiting (it keeps its turn), or none is free without creating or validating. Lets a
   * hot caller skip the promise and the AbortController it would need only for a wait.
   */
  tryAcquire(): Lease<T> | null {
    if (this.#state !== OPEN || this.#waiters.size !== 0) return null;
    const slot = this.#idle.takeReady();
    return slot === null ? null : this.#lendNow(slot, this.#leakStack(TRY_ACQUIRE));
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
    checkKeys('Pool.resize', bounds, RESIZE_KEYS);
    const max = checkInt('max', bounds.max ?? this.#max, 1);
    const min = checkInt('min', bounds.min ?? Math.min(this.#min, max), 0);
    if (min > max) throw new RangeError(`Expected \`min\` (${min}) to be <= \`max\` (${max})`);
    if (this.#state !== OPEN) return;
    const from = { min: this.#min, max: this.#max };
    this.#min = min;
    this.#max = max;
    // Surplus idle resources go first, oldest first.
    while (this.#slots.size > max && this.#idle.length > 0) {
      this.#destroy(this.#idle.oldest()!, 'resize');
    }
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
    if (slot.leases === 0 && slot.busy === FREE) {
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
    this.#idle.track(slot);
    this.#creator.expectedLeases = limit;
    if (this.#state === OPEN && slot.leases > 0 && slot.busy === FREE && slot.retire === null) {
      this.#recycler.fillShared(slot);
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
      size: this.#slots.size + this.#creator.size,
      idle: this.#idle.length,
      active,
      leased: this.#leases,
      validating: this.#hooks.validating,
      resetting: this.#hooks.resetting,
      creating: this.#creator.size,
      pending: this.#waiters.size,
      min: this.#min,
      max: this.#max,
      ...this.#totals,
      weight: this.#budget?.total ?? 0,
      maxWeight: this.#o.maxWeight,
      waitMs: this.#waits.summary(),
      breaker: this.#creator.breakerState,
    };
  }

  /**
   * How the pool is doing (`ok`, `degraded`, `failing`), why, and the figures judged (see
   * `HealthOptions` and docs/metrics.md). The acquire path pays nothing for it.
   * @throws {TypeError|RangeError} for bad options, naming the option.
   */
  health(options?: HealthOptions): PoolHealth {
    return assessHealth(options, this.stats(), this.#o, this.#waits, this.#totals.recent);
  }

  /**
   * Graceful shutdown: refuses new acquires, fails every queued waiter with
   * `ERR_POOL_CLOSED`, aborts validations in progress, waits up to `timeoutMs` for leases
   * to come back, then destroys everything. A resource under `reset` or `validate` is
   * destroyed once that hook lets go of it, or after `destroyTimeoutMs`; a `destroy` that
   * hangs is abandoned after `destroyTimeoutMs`. Idempotent: later calls return the same
   * promise.
   * @default timeoutMs 30_000
   */
  drain(options?: { timeoutMs?: number }): Promise<void> {
    if (this.#drainPromise !== undefined) return this.#drainPromise;
    checkObject('options', options);
    checkKeys('Pool.drain', options, DRAIN_KEYS);
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

  // ---- lending -----------------------------------------------------------------------

  /** The fast path's lease: `slot` was ready and nobody waited (a wait of 0 ms). */
  #lendNow(slot: Slot<T>, stack: string | undefined): Lease<T> {
    if ((++this.#tick & this.#sampleMask) === 0) this.#waits.add(0);
    return this.#lease(slot, 0, stack);
  }

  /** The acquirer's stack, for leak reports; only taken when leak detection is on. */
  #leakStack(entry: Entry): string | undefined {
    return this.#watchLeaks ? callerStack(entry) : undefined;
  }

  /**
   * How many waiters the pool will serve without a lease coming back: creates in flight,
   * creates still possible under `max` and the weight budget, and idle resources (each
   * awaiting validation, or it would have been lent). See `maxWaiting`.
   */
  #servable(): number {
    const creating = this.#creator.size;
    let room = this.#max - this.#slots.size - creating;
    // Evictable idle resources are counted as idle ones.
    if (room > 0 && this.#budget !== undefined) room = Math.min(room, this.#budget.room(creating));
    return this.#idle.length + (creating + Math.max(0, room)) * this.#creator.expectedLeases;
  }

  #lease(slot: Slot<T>, waitedMs: number, stack: string | undefined): Lease<T> {
    slot.leases++;
    slot.uses++;
    this.#leases++;
    this.#totals.acquired++;
    const lease = new Lease<T>(this, slot.value, slot);
    if (stack !== undefined) {
      watchLeak(lease, stack, this.#o.clock, this.#o.leakDetectionMs, this.#reportLeak);
    }
    if (this.hasListeners('acquire'))
      this.emit('acquire', { resource: slot.value, waitedMs, lease });
    return lease;
  }

  /** Hands `slot` to waiter `w`, which leaves the queue. */
  #grant(w: Waiter<T>, slot: Slot<T>): void {
    this.#waiters.settle(w);
    // Reading the clock is a large share of a contended acquire, so waits are sampled:
    // one acquire in `statsSampleEvery` (fast path included, so the sample is unbiased).
    let waited = Number.NaN;
    if ((++this.#tick & this.#sampleMask) === 0 || this.hasListeners('acquire')) {
      waited = this.#waiters.now() - w.startedAt;
      this.#waits.add(waited);
    }
    w.resolve(this.#lease(slot, waited, w.stack));
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
      const slot = this.#idle.takeReady();
      if (slot !== null) {
        this.#grant(w, slot);
        continue;
      }
      // The next idle resource needs validation first: do it on this waiter's behalf.
      const stale = this.#idle.take();
      if (stale === undefined) return;
      this.#recycler.check(stale, w);
    }
  }

  #grow(): void {
    const creator = this.#creator;
    // A create in flight will serve up to as many waiters as the last resource took.
    let deficit = this.#waiters.size - this.#waiters.holders - creator.serving;
    while (deficit > 0 && this.#canCreate()) {
      if (creator.retryPending) {
        if (creator.breakerOpen) creator.failFast(deficit);
        return;
      }
      if (!creator.permit()) {
        creator.failFast(deficit);
        return;
      }
      creator.start(this.#waiters.nextCause());
      deficit--;
    }
    while (
      this.#slots.size + creator.size < this.#min &&
      !creator.retryPending &&
      this.#canCreate()
    ) {
      if (!creator.permit()) {
        // Open: try again when a probe is allowed. Half-open: the probe's outcome pumps.
        if (creator.breakerOpen) creator.scheduleRetry();
        return;
      }
      creator.start(null);
    }
  }

  /**
   * Whether one more create fits under `max` and the weight budget (which may evict idle
   * resources to make room).
   */
  #canCreate(): boolean {
    if (this.#slots.size + this.#creator.size >= this.#max) return false;
    return this.#budget === undefined || this.#budget.fits(this.#creator.size);
  }

  // ---- creating ----------------------------------------------------------------------

  /** A new resource: it serves the oldest waiters (FIFO wins over who caused the create). */
  #created(slot: Slot<T>, durationMs: number): void {
    this.#slots.add(slot);
    this.#idle.track(slot);
    this.#byValue.set(slot.value, slot);
    if (this.#budget !== undefined && !this.#budget.reweigh(slot)) {
      this.#pump();
      return;
    }
    this.#totals.created++;
    if (this.hasListeners('create')) this.emit('create', { resource: slot.value, durationMs });
    this.#reaper.arm();
    this.#recycler.available(slot);
    this.#pump();
  }

  // ---- returning ---------------------------------------------------------------------

  /** @internal Called by {@link Lease.release} and {@link Lease.destroy}. */
  [kReturn](lease: Lease<T>, reason: unknown, broken: boolean): void {
    const slot = lease.slot;
    if (lease.leakTimer !== undefined) {
      this.#o.clock.clearTimeout(lease.leakTimer);
      lease.leakTimer = undefined;
    }
    slot.leases--;
    this.#leases--;
    this.#totals.released++;
    if (this.hasListeners('release'))
      this.emit('release', { resource: slot.value, broken, reason, lease });
    if (slot.destroyed || this.#state !== OPEN) {
      if (!slot.destroyed && slot.leases === 0) this.#destroy(slot, 'drain');
      this.#checkLeasesBack();
      return;
    }
    this.#recycler.returned(slot, broken, this.#slots.size > this.#max);
  }

  // ---- destroying and shutting down --------------------------------------------------

  #destroy(slot: Slot<T>, reason: DestroyReason, error?: unknown): void {
    if (slot.destroyed) return;
    slot.destroyed = true;
    // Only shutdown destroys a slot under a hook, after giving the hook its time.
    if (slot.busy !== FREE) this.#hooks.release(slot);
    this.#slots.delete(slot);
    this.#idle.untrack(slot);
    this.#byValue.delete(slot.value);
    this.#budget?.remove(slot);
    if (slot.leases === 0) this.#idle.remove(slot);
    this.#hooks.destroy(slot.value, reason, error);
  }

  async #drain(timeoutMs: number): Promise<void> {
    this.#state = DRAINING;
    const closed = new PoolClosedError(this.#o.name);
    this.#waiters.rejectAll(closed);
    this.#creator.stop(closed);
    this.#reaper.stop();
    this.#autoscaler?.stop();
    // Nobody will take a resource validated now: each validation is told to stop and then
    // destroys its resource itself.
    this.#hooks.stopChecks(closed);
    for (const slot of this.#idle.snapshot()) this.#destroy(slot, 'drain');
    if (!this.#allBack() && timeoutMs > 0) {
      await waitAtMost(this.#o.clock, timeoutMs, (done) => {
        this.#leasesBack = this.#forceDrain = done;
      });
    }
    this.#leasesBack = this.#forceDrain = undefined;
    // A resource under a reset or validation is destroyed only once that hook let go of it,
    // or after `destroyTimeoutMs` if it does not.
    if (this.#hooks.running) await this.#hooks.settle(this.#o.destroyTimeoutMs);
    // Forced: whatever is still out (leased, or under a hook past its grace) is destroyed
    // now; a later release of its lease is a no-op.
    for (const slot of [...this.#slots]) this.#destroy(slot, 'drain');
    while (this.#hooks.destroying > 0) await this.#hooks.destroyed();
    this.#state = CLOSED;
  }

  /** No lease out and no reset running: a graceful drain may finish. */
  #allBack(): boolean {
    return this.#leases === 0 && this.#hooks.resetting === 0;
  }

  #checkLeasesBack(): void {
    if (this.#allBack()) this.#leasesBack?.();
  }

  #snapshot(): PoolState {
    return {
      leased: this.#leases,
      idle: this.#idle.length,
      validating: this.#hooks.validating,
      resetting: this.#hooks.resetting,
      creating: this.#creator.size,
      waiting: this.#waiters.size,
      max: this.#max,
    };
  }
}

const noop = (): void => {};

// Where a leak report's stack starts: read once, not `Pool.prototype` on every acquire.
const ACQUIRE: Entry = Pool.prototype.acquire;
const TRY_ACQUIRE: Entry = Pool.prototype.tryAcquire;

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
