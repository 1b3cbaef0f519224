// A pool of connections run by a Manager, on `weir/pool`: the one implementation of the
// options mapping, the borrow/return checks, stats, events and shutdown that every pooled
// client (pg, libsql, http, and the ones to come) shares. A connection that is free costs
// the same to borrow here as from the core: the lease is the core's own, unwrapped.
import type { Clock } from '../internal/clock.js';
import { BrokenResourceError, isWeirError, TimeoutError } from '../internal/errors.js';
import { checkFn } from '../internal/options.js';
import { abortReason } from '../internal/signals.js';
import {
  type AcquireOptions,
  CreateFailedError,
  createPool,
  type HealthOptions,
  type Lease,
  type Pool,
  type PoolEvents,
  type PoolHealth,
  type PoolOptions,
  type PoolStats,
} from '../pool/index.js';
import { withTimeout } from '../resilience/timeout.js';
import type { ConnectionPermit, ConnectionPermits, Manager } from './manager.js';
import {
  type ManagedPoolOptions,
  resolveManagedOptions,
  type SharedPoolOptions,
} from './options.js';

/**
 * @internal What a keyed pool's shared budget needs from each of its pools. Every
 * connection takes room with `take` before its connect and gives it back exactly once:
 * `give` when the connect fails, `closed` when the connection closes.
 */
export interface ConnectionTracker<C> {
  /** Waits for room; undefined when there is room now. Rejects with the signal's reason. */
  take(signal: AbortSignal): Promise<void> | undefined;
  give(): void;
  idle(connection: C): void;
  leased(connection: C): void;
  closed(connection: C): void;
  /** Asked when a lease comes back: true closes the connection (its room is wanted elsewhere). */
  surplus(): boolean;
}

/** A connection being opened, and a retire that came before it was handed over. */
interface Pending<C> {
  conn: C | undefined;
  lost: unknown;
}

/** @internal The core pool behind a managed pool, for the shared variant. */
export const kCore = Symbol('weir.managed.core');

/**
 * A pool of connections run by a {@link Manager}. Create one with {@link createManagedPool}.
 *
 * It is `weir/pool` underneath (FIFO waiters, warmest-first reuse, timeouts, backoff and a
 * breaker around `connect`), with the manager's `isBroken` checked wherever the core lends
 * and on return, `check` on borrow after idle, `reset` on return, and `unref`/`ref` as a
 * connection enters and leaves the idle set when `allowExitOnIdle` is set. Leases are
 * `weir/pool` leases, and a borrow costs what a `weir/pool` borrow costs.
 * @example
 * const pool = createManagedPool(manager, { max: 10, connectTimeoutMs: 5_000 });
 * await using lease = await pool.acquire({ signal });
 * await lease.value.send('PING');
 */
export class ManagedPool<C, M extends Manager<C> = Manager<C>> implements AsyncDisposable {
  /** The manager this pool runs. */
  readonly manager: M;
  readonly #core: Pool<C>;
  readonly #clock: Clock;
  readonly #connectTimeoutMs: number;
  readonly #permits: ConnectionPermits | undefined;
  readonly #held = new Map<C, ConnectionPermit>();
  readonly #tracker: ConnectionTracker<C> | undefined;
  readonly #isBroken: ((connection: C) => boolean) | undefined;

  /**
   * @internal Use {@link createManagedPool}; a keyed pool passes its budget as `tracker`.
   * @throws {TypeError|RangeError} for a manager without `connect`/`close`, or bad options.
   */
  constructor(
    manager: M,
    options?: ManagedPoolOptions | SharedPoolOptions<C>,
    tracker?: ConnectionTracker<C>,
  ) {
    checkManager(manager);
    const r = resolveManagedOptions<C>(options);
    if (r.allowExitOnIdle && (manager.ref === undefined || manager.unref === undefined)) {
      throw new TypeError('`allowExitOnIdle` needs a manager that implements ref() and unref()');
    }
    this.manager = manager;
    this.#clock = r.clock;
    this.#connectTimeoutMs = r.connectTimeoutMs;
    this.#permits = r.permits;
    this.#tracker = tracker;
    this.#isBroken =
      manager.isBroken === undefined ? undefined : (c) => manager.isBroken!(c) === true;
    const core: PoolOptions<C> = { ...r.core, create: (signal) => this.#open(signal) };
    this.#hooks(core, r.allowExitOnIdle);
    // Behind a budget, waiting for room is not connecting: the core would count that wait
    // against its create timeout and its breaker. The layer times the connect itself.
    if (tracker !== undefined) core.createTimeoutMs = Number.POSITIVE_INFINITY;
    this.#core = createPool(core);
    // A budget hears of every lease as the core makes it (the acquire event is synchronous,
    // at the hand-over), of every connection that is connected or cleaned (#open, reset),
    // and of every close: what it counts as idle is what nobody holds.
    if (tracker !== undefined) this.#core.on('acquire', (e) => tracker.leased(e.resource));
  }

  /** The pool's name, as given in the options. */
  get name(): string {
    return this.#core.name;
  }

  /** Current lower bound of the pool's size. */
  get min(): number {
    return this.#core.min;
  }

  /** Current upper bound of the pool's size. */
  get max(): number {
    return this.#core.max;
  }

  /**
   * Borrows a connection, waiting for one if none is free. A connection the manager calls
   * broken when it is about to be lent is closed instead, and the wait goes on for another.
   * @throws {PoolTimeoutError} `ERR_POOL_TIMEOUT` after `timeoutMs` (default `acquireTimeoutMs`).
   * @throws {PoolExhaustedError} `ERR_POOL_EXHAUSTED` when `maxWaiting` callers already wait.
   * @throws {PoolClosedError} `ERR_POOL_CLOSED` when the pool is draining or closed.
   * @throws {CreateFailedError} `ERR_POOL_CREATE_FAILED`/`ERR_POOL_CREATE_TIMEOUT` when the connect made for this caller failed.
   * @throws {CircuitOpenError} `ERR_CIRCUIT_OPEN` while connects keep failing.
   * @throws the signal's reason when `signal` aborts.
   * @example
   * await using lease = await pool.acquire({ signal: AbortSignal.timeout(1_000) });
   */
  acquire(options?: AcquireOptions): Promise<Lease<C>> {
    // The manager's checks run inside the core (its `usable` and `onIdle`): a borrow costs
    // what the core's does. Only behind a budget does a failure need translating.
    if (this.#tracker === undefined) return this.#core.acquire(options);
    return this.#core.acquire(options).catch(this.#connectTimedOut);
  }

  /**
   * Borrows a connection only if one is free now, without a promise: null when the pool
   * is not open, a caller is already waiting (it keeps its turn), or no connection is free
   * without connecting or checking. Lets a hot caller skip the promise of `acquire`.
   * @example
   * const lease = pool.tryAcquire() ?? (await pool.acquire());
   */
  tryAcquire(): Lease<C> | null {
    return this.#core.tryAcquire();
  }

  /**
   * Acquires a connection, runs `fn` with it and releases it, also when `fn` throws; a
   * {@link BrokenResourceError} thrown by `fn` closes the connection instead.
   * @throws whatever `acquire` or `fn` throws.
   * @example
   * const pong = await pool.use((conn) => conn.ping());
   */
  use<R>(fn: (connection: C) => R | Promise<R>, options?: AcquireOptions): Promise<R> {
    return this.#tracker === undefined
      ? this.#core.use(fn, options)
      : this.#useTracked(fn, options);
  }

  // The steps of `Pool.use` (deliberately repeated) on this pool's `acquire`, which
  // translates the connect timeout of a pool behind a budget.
  async #useTracked<R>(
    fn: (connection: C) => R | Promise<R>,
    options?: AcquireOptions,
  ): Promise<R> {
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
   * Takes a connection out of service from outside (its client reported an error): closed
   * at once if idle, when its lease comes back otherwise. Returns false if the pool does
   * not hold it.
   */
  retire(connection: C, reason: unknown = 'retired'): boolean {
    return this.#core.retire(connection, reason);
  }

  /**
   * Changes the bounds at run time (see `Pool.resize`).
   * @throws {RangeError} for bounds that are not integers, `max < 1` or `min > max`.
   */
  resize(bounds: { min?: number; max?: number }, reason = 'manual'): void {
    this.#core.resize(bounds, reason);
  }

  /** A cheap snapshot of the pool's size, activity and totals (see `weir/pool`). */
  stats(): PoolStats {
    return this.#core.stats();
  }

  /**
   * How the pool is doing: `ok`, `degraded` or `failing`, with the reasons (see
   * `Pool.health` and docs/metrics.md).
   * @throws {TypeError|RangeError} for bad options, naming the option.
   */
  health(options?: HealthOptions): PoolHealth {
    return this.#core.health(options);
  }

  /** Adds a listener for one of the pool's events; returns a function that removes it. */
  on<K extends keyof PoolEvents<C>>(event: K, listener: PoolEvents<C>[K]): () => void {
    return this.#core.on(event, listener);
  }

  /** Adds a listener that runs once. */
  once<K extends keyof PoolEvents<C>>(event: K, listener: PoolEvents<C>[K]): () => void {
    return this.#core.once(event, listener);
  }

  /** Removes a listener added with `on`. */
  off<K extends keyof PoolEvents<C>>(event: K, listener: PoolEvents<C>[K]): void {
    this.#core.off(event, listener);
  }

  /** Number of listeners for `event`. */
  listenerCount(event: keyof PoolEvents<C>): number {
    return this.#core.listenerCount(event);
  }

  /**
   * Graceful shutdown: refuses new acquires, fails queued waiters with `ERR_POOL_CLOSED`,
   * waits up to `timeoutMs` for leases to come back, then closes every connection.
   * Idempotent. @default timeoutMs 30_000
   */
  drain(options?: { timeoutMs?: number }): Promise<void> {
    return this.#core.drain(options);
  }

  /** Forced shutdown: like {@link ManagedPool.drain} without waiting for leases. Idempotent. */
  close(): Promise<void> {
    return this.#core.close();
  }

  /** Same as {@link ManagedPool.drain}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.drain();
  }

  /** @internal */
  [kCore](): Pool<C> {
    return this.#core;
  }

  // ---- borrowing -----------------------------------------------------------------

  // The layer's own connect timeout (behind a budget) reaches the core as a failure; the
  // caller sees it as the core reports its own: `ERR_POOL_CREATE_TIMEOUT`.
  readonly #connectTimedOut = (error: unknown): never => {
    if (isWeirError(error, 'ERR_POOL_CREATE_FAILED') && isConnectTimeout(error.cause)) {
      throw new CreateFailedError(this.#core.name, error.cause, this.#connectTimeoutMs);
    }
    throw error;
  };

  // ---- the core's hooks ------------------------------------------------------------

  /**
   * Fills the core's hooks with the manager's, each only if needed: `isBroken` becomes the
   * core's `usable` (asked wherever the core lends) and the return check in `reset`;
   * `ref`/`unref` follow the core's idle set (`onIdle`).
   */
  #hooks(core: PoolOptions<C>, allowExitOnIdle: boolean): void {
    const m = this.manager;
    const tracker = this.#tracker;
    const isBroken = this.#isBroken;
    core.destroy =
      this.#permits === undefined && tracker === undefined
        ? (c) => m.close(c)
        : (c) => this.#closeTracked(c);
    if (m.isBroken !== undefined) core.usable = (c) => m.isBroken!(c) !== true;
    if (allowExitOnIdle) {
      const refs = m as Required<Pick<Manager<C>, 'ref' | 'unref'>>;
      core.onIdle = (c, idle) => (idle ? refs.unref(c) : refs.ref(c));
    }
    if (m.check !== undefined) {
      const check = (c: C, signal: AbortSignal): boolean | Promise<boolean> =>
        tracker === undefined
          ? m.check!(c, signal)
          : // Behind a budget a check holds room another key may wait for: it gets no
            // longer than a connect would (and no longer than `checkTimeoutMs`).
            withTimeout(({ signal: s }) => m.check!(c, s), this.#connectTimeoutMs, {
              signal,
              clock: this.#clock,
            });
      core.validate =
        isBroken === undefined
          ? check
          : (c, signal) => {
              // A connection known to be broken is not worth a round trip.
              if (isBroken(c)) return false;
              return check(c, signal);
            };
    }
    if (isBroken === undefined && tracker === undefined) {
      if (m.reset !== undefined) core.reset = (c) => m.reset!(c);
      return;
    }
    if (tracker === undefined) {
      // The common case, on every return: one check, then the manager's own reset.
      core.reset =
        m.reset === undefined
          ? (c) => {
              if (m.isBroken!(c) === true) throw brokenAt('returned');
            }
          : (c) => {
              if (m.isBroken!(c) === true) throw brokenAt('returned');
              return m.reset!(c);
            };
      return;
    }
    core.reset = (c) => {
      if (tracker.surplus()) throw new Error(SURPLUS);
      if (isBroken?.(c)) throw brokenAt('returned');
      const done = m.reset === undefined ? undefined : m.reset(c);
      if (!isThenable(done)) return void tracker.idle(c);
      return done.then(() => tracker.idle(c));
    };
  }

  /** The core's create: room in the budget, a permit, then the manager's connect. */
  async #open(signal: AbortSignal): Promise<C> {
    const pending: Pending<C> = { conn: undefined, lost: undefined };
    const retire = (reason?: unknown): void => this.#retireFrom(pending, reason);
    const tracker = this.#tracker;
    if (tracker !== undefined) await tracker.take(signal);
    let c: C;
    try {
      c =
        tracker === undefined
          ? await this.#openPermitted(signal, retire)
          : await this.#openTimed(signal, retire);
      if (pending.lost !== undefined || this.#isBroken?.(c)) {
        await this.#closeQuietly(c);
        throw (
          pending.lost ??
          new BrokenResourceError('connect returned a connection that is already broken')
        );
      }
    } catch (error) {
      tracker?.give();
      throw error;
    }
    // From here the core holds it, or will within this job's promise reaction.
    pending.conn = c;
    tracker?.idle(c);
    return c;
  }

  /** Behind a budget: the permit and the connect under the layer's own `connectTimeoutMs`. */
  async #openTimed(signal: AbortSignal, retire: (reason?: unknown) => void): Promise<C> {
    let attempt: Promise<C> | undefined;
    let inner: AbortSignal | undefined;
    try {
      return await withTimeout(
        (context) => {
          inner = context.signal;
          attempt = this.#openPermitted(context.signal, retire);
          return attempt;
        },
        this.#connectTimeoutMs,
        { signal, clock: this.#clock },
      );
    } catch (error) {
      // Its room is given back now: a connection that still arrives is closed here.
      attempt?.then((late) => this.#closeQuietly(late), noop);
      if (error === inner?.reason && !signal.aborted) {
        throw new TimeoutError(`connect did not finish within ${this.#connectTimeoutMs} ms`, {
          code: 'ERR_POOL_CREATE_TIMEOUT',
          cause: error,
        });
      }
      throw error;
    }
  }

  async #openPermitted(signal: AbortSignal, retire: (reason?: unknown) => void): Promise<C> {
    const permits = this.#permits;
    const permit = permits === undefined ? undefined : await permits.acquire({ signal });
    try {
      if (signal.aborted) throw abortReason(signal);
      const c = await this.manager.connect(signal, retire);
      if (permit !== undefined) this.#held.set(c, permit);
      return c;
    } catch (error) {
      permit?.release();
      throw error;
    }
  }

  /** The `retire` a connect was given: remembered until the connection is handed over. */
  #retireFrom(pending: Pending<C>, reason: unknown): void {
    const why = reason ?? new BrokenResourceError('The connection reported itself broken');
    const c = pending.conn;
    if (c === undefined) {
      pending.lost ??= why;
      return;
    }
    // Handed over but not taken yet: the core's promise reaction runs before this retry.
    if (!(this.#core as Pool<C> | undefined)?.retire(c, why)) {
      queueMicrotask(() => this.#core.retire(c, why));
    }
  }

  /** The core's destroy when a permit or the budget must learn of the close. */
  #closeTracked(c: C): void | Promise<void> {
    this.#tracker?.closed(c);
    return this.#closeUntracked(c);
  }

  #closeUntracked(c: C): void | Promise<void> {
    const permit = this.#held.get(c);
    if (permit === undefined) return this.manager.close(c);
    this.#held.delete(c);
    let result: void | Promise<void>;
    try {
      result = this.manager.close(c);
    } catch (error) {
      permit.release();
      throw error;
    }
    return Promise.resolve(result).finally(() => permit.release());
  }

  /** Closes a connection the core never held (late, or broken before it was handed over). */
  async #closeQuietly(c: C): Promise<void> {
    try {
      await this.#closeUntracked(c);
    } catch {
      // It never served anyone; the connect's own outcome is what the caller hears about.
    }
  }
}

/**
 * A managed pool whose connections serve several borrowers at once (HTTP/2 sessions).
 * Create one with {@link createManagedPool} and {@link SharedPoolOptions}.
 * @example
 * const sessions = createManagedPool(h2Manager, { max: 2, shared: { maxLeases: 100 } });
 * session.on('remoteSettings', (s) => sessions.setLeaseLimit(session, s.maxConcurrentStreams));
 */
export class SharedManagedPool<C, M extends Manager<C> = Manager<C>> extends ManagedPool<C, M> {
  /**
   * Changes how many borrowers `connection` serves at once (an HTTP/2 server's
   * `maxConcurrentStreams`, learned after connecting). Returns false if the pool does not
   * hold it.
   * @throws {RangeError} unless `limit` is an integer >= 1.
   */
  setLeaseLimit(connection: C, limit: number): boolean {
    return this[kCore]().setLeaseLimit(connection, limit);
  }
}

/**
 * Creates a pool of connections run by `manager`. With {@link SharedPoolOptions} (a
 * `shared` option) it is a {@link SharedManagedPool}.
 * @throws {TypeError|RangeError} for a manager without `connect`/`close`, or bad options,
 *   naming the option.
 * @example
 * const pool = createManagedPool(
 *   { connect: () => openSession(url), close: (s) => s.end(), isBroken: (s) => s.dead },
 *   { max: 8, idleTimeoutMs: 10_000 },
 * );
 * const answer = await pool.use((s) => s.call('ping'));
 */
export function createManagedPool<C, M extends Manager<C> = Manager<C>>(
  manager: M & Manager<C>,
  options: SharedPoolOptions<C>,
): SharedManagedPool<C, M>;
export function createManagedPool<C, M extends Manager<C> = Manager<C>>(
  manager: M & Manager<C>,
  options?: ManagedPoolOptions,
): ManagedPool<C, M>;
export function createManagedPool<C, M extends Manager<C> = Manager<C>>(
  manager: M & Manager<C>,
  options?: ManagedPoolOptions | SharedPoolOptions<C>,
): ManagedPool<C, M> {
  return options?.shared === undefined
    ? new ManagedPool<C, M>(manager, options)
    : new SharedManagedPool<C, M>(manager, options);
}

// ---- helpers ---------------------------------------------------------------------

const SURPLUS = "closed on return: the keyed pool's connection budget is wanted by another key";
const noop = (): void => {};

function checkManager(manager: unknown): void {
  if (typeof manager !== 'object' || manager === null) {
    throw new TypeError('Expected `manager` to be an object with connect() and close()');
  }
  const m = manager as Record<string, unknown>;
  checkFn('manager.connect', m.connect, true);
  checkFn('manager.close', m.close, true);
  for (const hook of ['check', 'reset', 'isBroken', 'ref', 'unref']) {
    checkFn(`manager.${hook}`, m[hook], false);
  }
}

function brokenAt(when: string): BrokenResourceError {
  return new BrokenResourceError(`The connection was broken when it was ${when}`);
}

function isConnectTimeout(error: unknown): boolean {
  return error instanceof TimeoutError && error.code === 'ERR_POOL_CREATE_TIMEOUT';
}

function isThenable<T>(value: T | Promise<T>): value is Promise<T> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}
