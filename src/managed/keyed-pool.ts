// A pool of managed pools, one per key (an HTTP origin, a region, a kind of resource),
// made on first use, dropped when unused, and optionally bounded as a whole.
import type { Clock, TimerHandle } from '../internal/clock.js';
import { realClock } from '../internal/clock.js';
import { Emitter } from '../internal/emitter.js';
import { checkFn, checkInt, checkMs, checkObject } from '../internal/options.js';
import { type HealthLevel, worse } from '../pool/health.js';
import {
  type AcquireOptions,
  type HealthOptions,
  type Lease,
  PoolClosedError,
  type PoolHealth,
  type PoolStats,
} from '../pool/index.js';
import { Budget, type Member } from './budget.js';
import { ManagedPool, SharedManagedPool } from './managed-pool.js';
import type { Manager } from './manager.js';
import type { ManagedPoolOptions, SharedPoolOptions } from './options.js';

/**
 * What the factory of a {@link KeyedPool} returns for one key.
 * @example
 * const spec: KeyedPoolSpec<Socket> = { manager: socketManager(origin), options: { max: 8 } };
 */
export interface KeyedPoolSpec<C, M extends Manager<C> = Manager<C>> {
  /** Runs the connections of this key. (`& Manager<C>` lets TypeScript infer `C`.) */
  manager: M & Manager<C>;
  /**
   * The key's pool options. `name` defaults to the keyed pool's name and the key, `clock`
   * to the keyed pool's clock.
   */
  options?: ManagedPoolOptions | SharedPoolOptions<C>;
}

/**
 * Options of {@link createKeyedPool}.
 * @example
 * createKeyedPool({ pool: (kind: 'parser' | 'renderer') => ({ manager: workers(kind) }), maxConnections: 8 });
 */
export interface KeyedPoolOptions<K, C, M extends Manager<C> = Manager<C>> {
  /** Makes the manager and options of a key's pool, when the key is first used. */
  pool: (key: K) => KeyedPoolSpec<C, M>;
  /**
   * Most connections open (or connecting) across all keys, on top of each pool's `max`.
   * A connect that finds no room closes the least recently used idle connection of another
   * key; with none idle it waits (within the caller's `acquireTimeoutMs`, never counted as
   * a failed connect), and a key holding more than its fair share (the budget divided by
   * the keys that use it) closes connections as they come back until it is served.
   * @default Infinity
   */
  maxConnections?: number;
  /**
   * A key whose pool had no lease, no waiter and no `get`/`acquire` for this long is
   * evicted: its pool is closed and forgotten (checked every `idleKeyTimeoutMs`, so it goes
   * between one and two periods after its last use). `Infinity` keeps every key.
   * @default 60_000 ms
   */
  idleKeyTimeoutMs?: number;
  /** Name used in messages and as the prefix of each key's pool name. @default 'keyed' */
  name?: string;
  /** Source of time for eviction and, by default, for every key's pool. @default the real clock */
  clock?: Clock;
}

/**
 * Counts of {@link KeyedPoolStats.total}: sums over every key's pool.
 * @example
 * const { leased, created } = keyed.stats().total;
 */
export interface KeyedTotals {
  /** Connections open or connecting, now. */
  size: number;
  idle: number;
  active: number;
  leased: number;
  creating: number;
  pending: number;
  /** From here on: totals since the keyed pool was created, evicted keys included. */
  created: number;
  destroyed: number;
  acquired: number;
  released: number;
  timeouts: number;
  createErrors: number;
  validationFailures: number;
  exhausted: number;
  leaks: number;
}

/**
 * A snapshot returned by {@link KeyedPool.stats}.
 * @example
 * for (const { key, stats } of keyed.stats().pools) gauge.set({ key }, stats.leased);
 */
export interface KeyedPoolStats<K> {
  name: string;
  state: 'open' | 'draining' | 'closed';
  /** Keys with a pool now. */
  keys: number;
  /** Keys whose pool was evicted for being unused. */
  evictedKeys: number;
  /** The budget across keys (`Infinity` without one). */
  maxConnections: number;
  /** Connections holding room in the budget (0 without one). */
  budgetUsed: number;
  /** Connects waiting for room in the budget. */
  budgetWaiting: number;
  total: KeyedTotals;
  /** Each key's pool snapshot. */
  pools: { key: K; stats: PoolStats }[];
}

/**
 * What {@link KeyedPool.health} returns: the worst level of any key's pool, every reason
 * prefixed with its key, and each key's own health.
 * @example
 * const { level, reasons } = keyed.health();
 */
export interface KeyedPoolHealth<K> {
  name: string;
  level: HealthLevel;
  reasons: string[];
  pools: { key: K; health: PoolHealth }[];
}

/**
 * Typed events of a keyed pool; subscribe with `keyed.on(name, listener)`.
 * @example
 * keyed.on('poolCreate', ({ key, pool }) => pool.on('timeout', () => log.warn(key)));
 */
export interface KeyedPoolEvents<K, C, M extends Manager<C> = Manager<C>> {
  /** A key was used for the first time (or again after eviction) and got its pool. */
  poolCreate: (e: { key: K; pool: ManagedPool<C, M> }) => void;
  /** A key's pool was evicted for being unused; it is closing. */
  poolEvict: (e: { key: K; pool: ManagedPool<C, M> }) => void;
}

interface Entry<K, C, M extends Manager<C>> {
  key: K;
  pool: ManagedPool<C, M>;
  member: Member<C>;
  touched: boolean;
}

const LIVE = ['size', 'idle', 'active', 'leased', 'creating', 'pending'] as const;
const SUMMED = [
  'created',
  'destroyed',
  'acquired',
  'released',
  'timeouts',
  'createErrors',
  'validationFailures',
  'exhausted',
  'leaks',
] as const;
type Totals = Record<(typeof SUMMED)[number], number>;

const OPEN = 0;
const DRAINING = 1;
const CLOSED = 2;

/**
 * One {@link ManagedPool} per key, made on first use from a factory. Hold the key, not
 * the pool: a key unused for `idleKeyTimeoutMs` is evicted, and `get` makes a new pool
 * for it next time. Create one with {@link createKeyedPool}.
 * @example
 * const origins = createKeyedPool({
 *   pool: (origin: string) => ({ manager: socketManager(origin), options: { max: 8 } }),
 *   maxConnections: 256,
 * });
 * await origins.use('https://api.example.com:443', (socket) => send(socket, request));
 */
export class KeyedPool<K, C, M extends Manager<C> = Manager<C>>
  extends Emitter<KeyedPoolEvents<K, C, M>>
  implements AsyncDisposable
{
  readonly #factory: (key: K) => KeyedPoolSpec<C, M>;
  readonly #entries = new Map<K, Entry<K, C, M>>();
  readonly #closing = new Set<Promise<void>>();
  readonly #closingPools = new Set<ManagedPool<C, M>>();
  readonly #retired: Totals;
  readonly #budget: Budget<C> | undefined;
  readonly #idleKeyTimeoutMs: number;
  readonly #name: string;
  readonly #clock: Clock;
  #state = OPEN;
  #evicted = 0;
  #sweepTimer: TimerHandle;
  #sweepPending = false;
  #shutdown: Promise<void> | undefined;

  /**
   * @internal Use {@link createKeyedPool}.
   * @throws {TypeError|RangeError} for bad options, naming the option.
   */
  constructor(options: KeyedPoolOptions<K, C, M>) {
    super();
    checkObject('options', options);
    if (options === undefined) throw new TypeError('createKeyedPool needs options with `pool`');
    this.#factory = checkFn<(key: K) => KeyedPoolSpec<C, M>>('pool', options.pool, true)!;
    const max = checkInt(
      'maxConnections',
      options.maxConnections ?? Number.POSITIVE_INFINITY,
      1,
      true,
    );
    this.#idleKeyTimeoutMs = checkMs('idleKeyTimeoutMs', options.idleKeyTimeoutMs ?? 60_000, 1);
    this.#name = typeof options.name === 'string' ? options.name : 'keyed';
    this.#clock = options.clock ?? realClock;
    this.#budget = max === Number.POSITIVE_INFINITY ? undefined : new Budget<C>(max, this.#clock);
    this.#retired = Object.fromEntries(SUMMED.map((k) => [k, 0])) as Totals;
  }

  /** The keyed pool's name. */
  get name(): string {
    return this.#name;
  }

  /** Keys with a pool now. */
  get size(): number {
    return this.#entries.size;
  }

  /** Whether `key` has a pool now (without making one, and without counting as a use). */
  has(key: K): boolean {
    return this.#entries.has(key);
  }

  /** The keys that have a pool now. */
  keys(): IterableIterator<K> {
    return this.#entries.keys();
  }

  /** Every key and its pool now, without making one and without counting as a use. */
  *entries(): IterableIterator<[K, ManagedPool<C, M>]> {
    for (const e of this.#entries.values()) yield [e.key, e.pool];
  }

  /**
   * The pool of `key`, made on first use (and counted as a use of the key).
   * @throws {PoolClosedError} `ERR_POOL_CLOSED` for a new key once the keyed pool drains.
   * @throws whatever the factory or the key's pool options throw.
   */
  get(key: K): ManagedPool<C, M> {
    const e = this.#entries.get(key);
    if (e !== undefined) {
      e.touched = true;
      return e.pool;
    }
    return this.#add(key);
  }

  /**
   * Borrows a connection of `key` (see `ManagedPool.acquire`).
   * @throws the errors of `ManagedPool.acquire`, and `ERR_POOL_CLOSED` once draining.
   * @example
   * await using lease = await keyed.acquire('eu-west', { signal });
   */
  acquire(key: K, options?: AcquireOptions): Promise<Lease<C>> {
    let pool: ManagedPool<C, M>;
    try {
      pool = this.get(key);
    } catch (error) {
      return Promise.reject(error);
    }
    return pool.acquire(options);
  }

  /** Borrows a free connection of `key` now, or returns null (see `ManagedPool.tryAcquire`). */
  tryAcquire(key: K): Lease<C> | null {
    if (this.#state !== OPEN) return null;
    return this.get(key).tryAcquire();
  }

  /**
   * Acquires a connection of `key`, runs `fn` with it and releases it (see `ManagedPool.use`).
   * @throws whatever `acquire` or `fn` throws.
   */
  use<R>(key: K, fn: (connection: C) => R | Promise<R>, options?: AcquireOptions): Promise<R> {
    let pool: ManagedPool<C, M>;
    try {
      pool = this.get(key);
    } catch (error) {
      return Promise.reject(error);
    }
    return pool.use(fn, options);
  }

  /** A snapshot of every key's pool, the totals and the budget. */
  stats(): KeyedPoolStats<K> {
    const total = { ...this.#retired } as KeyedTotals;
    for (const k of LIVE) total[k] = 0;
    const pools: { key: K; stats: PoolStats }[] = [];
    const add = (s: PoolStats): void => {
      for (const k of LIVE) total[k] += s[k];
      for (const k of SUMMED) total[k] += s[k];
    };
    for (const e of this.#entries.values()) {
      const s = e.pool.stats();
      pools.push({ key: e.key, stats: s });
      add(s);
    }
    for (const p of this.#closingPools) add(p.stats());
    return {
      name: this.#name,
      state: this.#state === OPEN ? 'open' : this.#state === DRAINING ? 'draining' : 'closed',
      keys: this.#entries.size,
      evictedKeys: this.#evicted,
      maxConnections: this.#budget?.limit ?? Number.POSITIVE_INFINITY,
      budgetUsed: this.#budget?.used ?? 0,
      budgetWaiting: this.#budget?.waiting ?? 0,
      total,
      pools,
    };
  }

  /**
   * The health of every key's pool (see `ManagedPool.health`), and the worst of them; a
   * keyed pool that is draining or closed is failing.
   * @throws {TypeError|RangeError} for bad options, naming the option.
   */
  health(options?: HealthOptions): KeyedPoolHealth<K> {
    let level: HealthLevel = 'ok';
    const reasons: string[] = [];
    if (this.#state !== OPEN) {
      level = 'failing';
      reasons.push(`the keyed pool is ${this.#state === DRAINING ? 'draining' : 'closed'}`);
    }
    const pools: { key: K; health: PoolHealth }[] = [];
    for (const e of this.#entries.values()) {
      const health = e.pool.health(options);
      pools.push({ key: e.key, health });
      level = worse(level, health.level);
      for (const r of health.reasons) reasons.push(`${String(e.key)}: ${r}`);
    }
    return { name: this.#name, level, reasons, pools };
  }

  /**
   * Graceful shutdown of every key's pool (see `ManagedPool.drain`); no new key gets a
   * pool. Idempotent: later calls return the same promise. @default timeoutMs 30_000
   */
  drain(options?: { timeoutMs?: number }): Promise<void> {
    if (this.#shutdown !== undefined) return this.#shutdown;
    checkObject('options', options);
    if (options?.timeoutMs !== undefined) checkMs('timeoutMs', options.timeoutMs);
    this.#state = DRAINING;
    this.#clock.clearTimeout(this.#sweepTimer);
    this.#sweepPending = false;
    const all = [...this.#entries.values()].map((e) => e.pool.drain(options));
    this.#shutdown = Promise.all([...all, ...this.#closing]).then(() => {
      this.#budget?.close();
      this.#state = CLOSED;
    });
    return this.#shutdown;
  }

  /** Forced shutdown: every key's pool closes now, leases out included. Idempotent. */
  close(): Promise<void> {
    const p = this.drain({ timeoutMs: 0 });
    for (const e of this.#entries.values()) void e.pool.close();
    return p;
  }

  /** Same as {@link KeyedPool.drain}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.drain();
  }

  #add(key: K): ManagedPool<C, M> {
    if (this.#state !== OPEN) throw new PoolClosedError(this.#name);
    const spec = this.#factory(key);
    if (typeof spec !== 'object' || spec === null) {
      throw new TypeError('Expected `pool(key)` to return { manager, options }');
    }
    checkObject('pool(key).options', spec.options);
    const options = {
      name: `${this.#name} ${String(key)}`,
      clock: this.#clock,
      ...spec.options,
    } as ManagedPoolOptions | SharedPoolOptions<C>;
    const member: Member<C> = { used: 0, waiting: 0, pool: undefined };
    const tracker = this.#budget?.tracker(member);
    const pool =
      options.shared === undefined
        ? new ManagedPool<C, M>(spec.manager, options, tracker)
        : new SharedManagedPool<C, M>(spec.manager, options, tracker);
    member.pool = pool;
    this.#budget?.join(member);
    this.#entries.set(key, { key, pool, member, touched: true });
    this.#armSweep();
    this.emit('poolCreate', { key, pool });
    return pool;
  }

  #armSweep(): void {
    if (this.#sweepPending || this.#state !== OPEN) return;
    if (this.#idleKeyTimeoutMs === Number.POSITIVE_INFINITY) return;
    this.#sweepPending = true;
    this.#sweepTimer = this.#clock.setTimeout(() => this.#sweep(), this.#idleKeyTimeoutMs, true);
  }

  /** Evicts the keys unused since the last sweep that have nothing leased or waiting. */
  #sweep(): void {
    this.#sweepPending = false;
    this.#sweepTimer = undefined;
    if (this.#state !== OPEN) return;
    for (const e of [...this.#entries.values()]) {
      if (e.touched) {
        e.touched = false;
        continue;
      }
      const s = e.pool.stats();
      if (s.leased === 0 && s.pending === 0) this.#evict(e);
    }
    if (this.#entries.size > 0) this.#armSweep();
  }

  #evict(e: Entry<K, C, M>): void {
    this.#entries.delete(e.key);
    this.#budget?.leave(e.member);
    this.#evicted++;
    this.#closingPools.add(e.pool);
    const closing = e.pool.close().then(() => {
      // Its totals stay in the keyed pool's, so they never go down.
      const s = e.pool.stats();
      for (const k of SUMMED) this.#retired[k] += s[k];
      this.#closingPools.delete(e.pool);
      this.#closing.delete(closing);
    });
    this.#closing.add(closing);
    this.emit('poolEvict', { key: e.key, pool: e.pool });
  }
}

/**
 * Creates a keyed pool: one managed pool per key, made on first use.
 * @throws {TypeError|RangeError} for bad options, naming the option.
 * @example
 * const regions = createKeyedPool({
 *   pool: (region: string) => ({ manager: regionManager(region), options: { max: 4 } }),
 *   maxConnections: 16,
 *   idleKeyTimeoutMs: 300_000,
 * });
 * const rows = await regions.use('eu-west', (db) => db.query('SELECT 1'));
 */
export function createKeyedPool<K, C, M extends Manager<C> = Manager<C>>(
  options: KeyedPoolOptions<K, C, M>,
): KeyedPool<K, C, M> {
  return new KeyedPool(options);
}
