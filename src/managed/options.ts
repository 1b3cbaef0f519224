// The one options type of every managed pool, and its mapping onto `weir/pool`'s options.
// This is the only place where managed names become core names.
import type { Clock } from '../internal/clock.js';
import { realClock } from '../internal/clock.js';
import { describe } from '../internal/errors.js';
import {
  checkFn,
  checkInt,
  checkKeys,
  checkMs,
  checkObject,
  type KeyList,
  optionKeys,
} from '../internal/options.js';
import type { AutoscaleOptions, PoolOptions } from '../pool/index.js';
import type { CircuitBreaker, CircuitBreakerOptions } from '../resilience/breaker.js';
import type { ConnectionPermits } from './manager.js';

/**
 * Options every managed pool takes, exclusive or shared. Times are in milliseconds;
 * `Infinity` turns a limit off. Defaults are `weir/pool`'s. The names `createTimeoutMs`,
 * `validateAfterIdleMs`, `validateIntervalMs`, `validateTimeoutMs` and `destroyTimeoutMs`
 * of `weir/pool` are still accepted for their managed names; giving both spellings with
 * different values throws.
 * @example
 * const options: ManagedPoolBaseOptions = { max: 10, connectTimeoutMs: 5_000, breaker: false };
 */
export interface ManagedPoolBaseOptions {
  /** Name used in messages, events and metrics. @default 'pool' */
  name?: string;
  /** Source of time. @default the real clock */
  clock?: Clock;
  /** Connections kept open even when idle; opened at start. @default 0 */
  min?: number;
  /** Most connections open at once (idle, leased and connecting). @default 10 */
  max?: number;
  /** How long `acquire` waits before `ERR_POOL_TIMEOUT`. @default 30_000 ms */
  acquireTimeoutMs?: number;
  /** Most callers waiting at once; beyond it `acquire` fails with `ERR_POOL_EXHAUSTED`. @default 10_000 */
  maxWaiting?: number;
  /** A connect that takes longer fails with `ERR_POOL_CREATE_TIMEOUT`. @default 30_000 ms */
  connectTimeoutMs?: number;
  /** An idle connection above `min` is closed after this long. @default 30_000 ms */
  idleTimeoutMs?: number;
  /** A connection is retired after this long (when idle; a leased one on return). @default Infinity */
  maxLifetimeMs?: number;
  /** Fraction of `maxLifetimeMs` taken off at random per connection. @default 0.1 */
  lifetimeJitter?: number;
  /** A connection is retired after this many leases. @default Infinity */
  maxUses?: number;
  /** Connections idle for less than this are handed out without `check`. @default 500 ms */
  checkAfterIdleMs?: number;
  /** Idle connections are checked this often (only with `Manager.check`). @default 30_000 ms */
  checkIntervalMs?: number;
  /**
   * A `check` that takes longer counts as failed: its signal aborts and the connection is
   * closed. @default 5_000 ms
   */
  checkTimeoutMs?: number;
  /** A `close` that takes longer is abandoned, so shutdown never hangs. @default 5_000 ms */
  closeTimeoutMs?: number;
  /** Backoff between connect retries after a failure (`weir/pool`'s `createRetry`). */
  createRetry?: PoolOptions<unknown>['createRetry'];
  /**
   * Circuit breaker around `connect`: once open, waiters that need a new connection fail
   * fast with `ERR_CIRCUIT_OPEN` until a probe connect succeeds. `false` turns it off.
   * @default { threshold: 5, halfOpenAfterMs: 5_000 }
   */
  breaker?: false | CircuitBreakerOptions | CircuitBreaker;
  /**
   * Lets the process exit while every connection is idle: the manager's `unref` is called
   * when a connection goes idle and `ref` when it is leased (both are then required).
   * @default false
   */
  allowExitOnIdle?: boolean;
  /** An external bound on open connections (a fleet-wide semaphore). */
  permits?: ConnectionPermits;
  /** Which idle connection is reused first: `lifo` (the warmest) or `fifo`. @default 'lifo' */
  idleOrder?: 'lifo' | 'fifo';
  /** How often idle connections are checked for idle timeout, lifetime and `check`. @default 1_000 ms */
  reapIntervalMs?: number;
  /** A lease held longer than this emits a `leak` event with the acquirer's stack. @default Infinity */
  leakDetectionMs?: number;
  /** Acquire waits are timed for one acquire in this many (a power of two). @default 16 */
  statsSampleEvery?: number;
  /** Moves `max` between bounds from measured waits and utilisation (see `weir/pool`). */
  autoscale?: AutoscaleOptions;
  /** Source of randomness for jitter, in [0, 1). @default Math.random */
  random?: () => number;
  /** @deprecated The old name of `connectTimeoutMs`; still accepted. */
  createTimeoutMs?: number;
  /** @deprecated The old name of `checkAfterIdleMs`; still accepted. */
  validateAfterIdleMs?: number;
  /** @deprecated The old name of `checkIntervalMs`; still accepted. */
  validateIntervalMs?: number;
  /** @deprecated The old name of `checkTimeoutMs`; still accepted. */
  validateTimeoutMs?: number;
  /** @deprecated The old name of `closeTimeoutMs`; still accepted. */
  destroyTimeoutMs?: number;
}

/**
 * Options of a pool whose connections serve one borrower at a time (a database session).
 * Sharing options are typed `never`, so an integration whose options extend this type
 * cannot be handed `maxLeasesPerResource` (it does not compile, and throws at run time).
 * @example
 * interface MyClientOptions extends ManagedPoolOptions { url: string }
 */
export interface ManagedPoolOptions extends ManagedPoolBaseOptions {
  /** Not available: only a {@link SharedPoolOptions} pool shares connections. */
  shared?: never;
  /** Not available: only a {@link SharedPoolOptions} pool shares connections. */
  maxLeasesPerResource?: never;
  /** Not available: only a {@link SharedPoolOptions} pool shares connections. */
  leaseLimit?: never;
}

/**
 * How many borrowers the connections of a shared pool serve at once.
 * @example
 * const shared: SharedLeases<Session> = { maxLeases: 100, leaseLimit: (s) => (s.h2 ? 100 : 1) };
 */
export interface SharedLeases<C> {
  /**
   * Borrowers one connection serves at once, and, until a connection says otherwise
   * (`leaseLimit`), the estimate of how many waiters a connect in flight will serve.
   */
  maxLeases: number;
  /**
   * Borrowers one particular connection serves, read when it opens (an HTTP/2 session
   * many, an HTTP/1.1 connection one); change it later with `setLeaseLimit`.
   * @default every connection takes `maxLeases`
   */
  leaseLimit?: (connection: C) => number;
}

/**
 * Options of a pool whose connections serve several borrowers at once (HTTP/2 sessions
 * and their concurrent streams). `reset` and `isBroken` then run when the last lease of a
 * connection comes back.
 * @example
 * createManagedPool(h2Manager, { max: 4, shared: { maxLeases: 100, leaseLimit: (s) => s.streams } });
 */
export interface SharedPoolOptions<C> extends ManagedPoolBaseOptions {
  /** Makes the pool shared; see {@link SharedLeases}. */
  shared: SharedLeases<C>;
  /** Not available: give `shared.maxLeases`. */
  maxLeasesPerResource?: never;
  /** Not available: give `shared.leaseLimit`. */
  leaseLimit?: never;
}

/** @internal Options after validation: the core's part and what the managed layer keeps. */
export interface ResolvedManagedOptions<C> {
  /** Everything `createPool` takes except the hooks, under the core's names. */
  core: Omit<PoolOptions<C>, 'create'>;
  connectTimeoutMs: number;
  allowExitOnIdle: boolean;
  permits: ConnectionPermits | undefined;
  clock: Clock;
  shared: boolean;
}

// Passed to the core under the same name; the core validates them and names them itself.
const SAME = [
  'name',
  'clock',
  'min',
  'max',
  'acquireTimeoutMs',
  'maxWaiting',
  'idleTimeoutMs',
  'maxLifetimeMs',
  'lifetimeJitter',
  'maxUses',
  'createRetry',
  'breaker',
  'idleOrder',
  'reapIntervalMs',
  'leakDetectionMs',
  'statsSampleEvery',
  'autoscale',
  'random',
] as const;

// [managed name, old name = core name, smallest value]. Checked here, under the name the
// caller used, so that a message never names an option the caller did not write.
const RENAMED = [
  ['connectTimeoutMs', 'createTimeoutMs', 1],
  ['checkAfterIdleMs', 'validateAfterIdleMs', 0],
  ['checkIntervalMs', 'validateIntervalMs', 1],
  ['checkTimeoutMs', 'validateTimeoutMs', 1],
  ['closeTimeoutMs', 'destroyTimeoutMs', 0],
] as const;

// Core options a managed pool must not take, and why.
const REFUSED: Record<string, string> = {
  create: 'connections come from `Manager.connect`',
  destroy: 'connections are closed by `Manager.close`',
  validate: 'connections are checked by `Manager.check`',
  reset: 'connections are cleaned by `Manager.reset`',
  onIdle: 'idle connections are told through `Manager.ref`/`unref` (`allowExitOnIdle`)',
  usable: 'broken connections are told by `Manager.isBroken`',
  weigh: 'managed pools are bounded by `max`, not by weight',
  maxWeight: 'managed pools are bounded by `max`, not by weight',
  maxLeasesPerResource: 'only a pool created with `shared` shares connections',
  leaseLimit: 'only a pool created with `shared` shares connections (`shared.leaseLimit`)',
};

/**
 * @internal Every key of {@link ManagedPoolBaseOptions}, for the integrations that extend
 * it and check their callers' keys under their own name.
 */
export const managedOptionKeys: KeyList<ManagedPoolBaseOptions> = {
  name: 1,
  clock: 1,
  min: 1,
  max: 1,
  acquireTimeoutMs: 1,
  maxWaiting: 1,
  connectTimeoutMs: 1,
  idleTimeoutMs: 1,
  maxLifetimeMs: 1,
  lifetimeJitter: 1,
  maxUses: 1,
  checkAfterIdleMs: 1,
  checkIntervalMs: 1,
  checkTimeoutMs: 1,
  closeTimeoutMs: 1,
  createRetry: 1,
  breaker: 1,
  allowExitOnIdle: 1,
  permits: 1,
  idleOrder: 1,
  reapIntervalMs: 1,
  leakDetectionMs: 1,
  statsSampleEvery: 1,
  autoscale: 1,
  random: 1,
  createTimeoutMs: 1,
  validateAfterIdleMs: 1,
  validateIntervalMs: 1,
  validateTimeoutMs: 1,
  destroyTimeoutMs: 1,
};
const MANAGED_KEYS = optionKeys<ManagedPoolBaseOptions & { shared?: unknown }>({
  ...managedOptionKeys,
  shared: 1,
});

const DEFAULT_CONNECT_TIMEOUT_MS = 30_000;

/**
 * @internal Validates managed options and maps them onto `weir/pool`'s.
 * @throws {TypeError|RangeError} naming the bad option.
 */
export function resolveManagedOptions<C>(
  options: ManagedPoolOptions | SharedPoolOptions<C> | undefined,
): ResolvedManagedOptions<C> {
  checkObject('options', options);
  const o = (options ?? {}) as Record<string, unknown>;
  for (const key in REFUSED) {
    if (o[key] !== undefined) {
      throw new TypeError(`\`${key}\` is not an option of a managed pool: ${REFUSED[key]}`);
    }
  }
  checkKeys('createManagedPool', o, MANAGED_KEYS);
  const core: Record<string, unknown> = {};
  for (const key of SAME) if (o[key] !== undefined) core[key] = o[key];
  let connectTimeoutMs = DEFAULT_CONNECT_TIMEOUT_MS;
  for (const [name, old, min] of RENAMED) {
    const given = o[name] !== undefined ? name : o[old] !== undefined ? old : undefined;
    if (given === undefined) continue;
    if (given === name && o[old] !== undefined && o[old] !== o[name]) {
      throw new TypeError(`Give \`${name}\` or its old name \`${old}\`, not both`);
    }
    core[old] = checkMs(given, o[given], min);
    if (name === 'connectTimeoutMs') connectTimeoutMs = core[old] as number;
  }
  let shared = false;
  if (o.shared !== undefined) {
    checkObject('shared', o.shared);
    const s = o.shared as SharedLeases<C>;
    core.maxLeasesPerResource = checkInt('shared.maxLeases', s.maxLeases, 1);
    const leaseLimit = checkFn('shared.leaseLimit', s.leaseLimit, false);
    if (leaseLimit !== undefined) core.leaseLimit = leaseLimit;
    shared = true;
  }
  const allowExitOnIdle = o.allowExitOnIdle ?? false;
  if (typeof allowExitOnIdle !== 'boolean') {
    throw new TypeError(
      `Expected \`allowExitOnIdle\` to be a boolean, got ${describe(allowExitOnIdle)}`,
    );
  }
  const permits = o.permits as ConnectionPermits | undefined;
  if (permits !== undefined) {
    checkObject('permits', permits);
    checkFn('permits.acquire', permits.acquire, true);
  }
  return {
    core: core as Omit<PoolOptions<C>, 'create'>,
    connectTimeoutMs,
    allowExitOnIdle,
    permits,
    clock: (o.clock as Clock | undefined) ?? realClock,
    shared,
  };
}
