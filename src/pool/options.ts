// The options of a pool and of one acquire: their types, defaults and checks.
import type { Clock } from '../internal/clock.js';
import { realClock } from '../internal/clock.js';
import { describe } from '../internal/errors.js';
import {
  checkFn,
  checkInt,
  checkKeys,
  checkMs,
  checkObject,
  checkRatio,
  type KeyList,
  optionKeys,
} from '../internal/options.js';
import { abortReason, checkSignal } from '../internal/signals.js';
import {
  CIRCUIT_BREAKER_KEYS,
  CircuitBreaker,
  type CircuitBreakerOptions,
} from '../resilience/breaker.js';

/** Options of {@link createPool}. Times are in milliseconds; `Infinity` turns a limit off. */
export interface PoolOptions<T> {
  /**
   * Makes a resource. The signal aborts when `createTimeoutMs` passes or the pool closes;
   * a resource that arrives after that is destroyed, never leaked.
   */
  create: (signal: AbortSignal) => T | Promise<T>;
  /** Frees a resource. Bounded by `destroyTimeoutMs`; errors are reported as `destroy` events. */
  destroy?: (resource: T) => void | Promise<void>;
  /**
   * Checks a resource before it is handed out after sitting idle longer than
   * `validateAfterIdleMs`, and idle ones every `validateIntervalMs`. `false` or a throw destroys it.
   */
  validate?: (resource: T, signal: AbortSignal) => boolean | Promise<boolean>;
  /** Cleans a resource when it is returned. A throw destroys it. */
  reset?: (resource: T) => void | Promise<void>;
  /**
   * Told when a resource enters the idle set (`idle` true) and when it leaves it to serve
   * a borrower or to be validated (false): for example to `unref()` an idle connection's
   * socket, so that idle resources alone do not keep the process alive. Not called for a
   * resource handed straight from one borrower to the next, nor for one leaving the idle
   * set to be destroyed. It runs on the acquire/release path: keep it cheap. A throw is
   * reported as an uncaught exception, like a throwing event listener's.
   */
  onIdle?: (resource: T, idle: boolean) => void;
  /**
   * A cheap, synchronous health flag, asked whenever the pool is about to lend a resource
   * (from the idle set, or straight from a return, a reset, a create or a validation):
   * false destroys it (reason `broken`, or `validation` after a validation) and the
   * borrower gets another. For a flag the resource keeps (its socket closed, its client
   * saw an error); a round trip belongs in `validate`. It runs on the acquire path: keep
   * it cheap. A throw counts as false.
   */
  usable?: (resource: T) => boolean;
  /** Resources kept open even when idle; created at start. @default 0 */
  min?: number;
  /** Most resources open at once (idle, leased and being created). @default 10 */
  max?: number;
  /** How long `acquire` waits before `ERR_POOL_TIMEOUT`. @default 30_000 ms */
  acquireTimeoutMs?: number;
  /**
   * Most callers waiting for a busy pool at once; beyond it `acquire` fails at once with
   * `ERR_POOL_EXHAUSTED`. A caller that a create or validation will serve (the pool is
   * below `max`, or an idle resource is being checked for it) is not waiting for a busy
   * pool, so `0` still lends while the pool has room and refuses only when it is exhausted.
   * @default 10_000
   */
  maxWaiting?: number;
  /**
   * An idle resource above `min` is destroyed after this long (checked every
   * `reapIntervalMs`, so it goes within one interval after). @default 30_000 ms
   */
  idleTimeoutMs?: number;
  /** A resource is retired after this long (when idle; a leased one on return). @default Infinity */
  maxLifetimeMs?: number;
  /** Fraction of `maxLifetimeMs` taken off at random per resource, so they do not all retire at once. @default 0.1 */
  lifetimeJitter?: number;
  /** A resource is retired after this many leases. @default Infinity */
  maxUses?: number;
  /** A `create` call that takes longer fails with `ERR_POOL_CREATE_TIMEOUT`. @default 30_000 ms */
  createTimeoutMs?: number;
  /**
   * `destroy` calls longer than this are abandoned, so shutdown never hangs. It is also the
   * time shutdown gives a `reset` or `validate` in progress to let go of its resource
   * before destroying it. @default 5_000 ms
   */
  destroyTimeoutMs?: number;
  /**
   * A `validate` call that takes longer counts as a failed validation: its signal aborts
   * and the resource is destroyed. @default 5_000 ms
   */
  validateTimeoutMs?: number;
  /** Resources idle for less than this are handed out without `validate`. @default 500 ms */
  validateAfterIdleMs?: number;
  /** Idle resources are validated this often. @default 30_000 ms (only with `validate`) */
  validateIntervalMs?: number;
  /** How often idle resources are checked for idle timeout, lifetime and validation. @default 1_000 ms */
  reapIntervalMs?: number;
  /** Which idle resource is reused first: `lifo` (the warmest) or `fifo`. @default 'lifo' */
  idleOrder?: 'lifo' | 'fifo';
  /** Borrowers one resource serves at once (an HTTP/2 session's streams). @default 1 */
  maxLeasesPerResource?: number;
  /**
   * Borrowers one particular resource may serve at once, read when it is created (an HTTP/2
   * session serves many streams, an HTTP/1.1 connection one); change it later with
   * `pool.setLeaseLimit`. Until a resource exists, `maxLeasesPerResource` is the estimate of
   * how many waiters a create in flight will serve.
   * @default every resource takes `maxLeasesPerResource`
   */
  leaseLimit?: (resource: T) => number;
  /** A lease held longer than this emits a `leak` event with the acquirer's stack. @default Infinity */
  leakDetectionMs?: number;
  /** Backoff between create retries after a failure. */
  createRetry?: {
    /** @default 100 ms */
    initialDelayMs?: number;
    /** @default 10_000 ms */
    maxDelayMs?: number;
  };
  /**
   * Circuit breaker around `create` (a `CircuitBreaker` from `weir/resilience`, or its
   * options): once open, waiters that need a new resource fail fast with `ERR_CIRCUIT_OPEN`
   * until a probe create succeeds. `false` turns it off.
   * @default { threshold: 5, halfOpenAfterMs: 5_000 } (5 consecutive failures)
   */
  breaker?: false | CircuitBreakerOptions | CircuitBreaker;
  /**
   * Lets the pool move its own `max` between bounds: up by `upFactor` when the p99 acquire
   * wait over the last interval exceeds `targetWaitMs`, down by `downFactor` when average
   * utilisation (leases / capacity) stays under `scaleDownUtilization`. Emits `resize`.
   */
  autoscale?: AutoscaleOptions;
  /** Weight of a resource (bytes, say), read on create and on every return. Needs `maxWeight`. */
  weigh?: (resource: T) => number;
  /**
   * Budget for the summed weight: no create starts that would likely exceed it (judged by
   * the average weight so far), and idle resources are evicted, oldest first, to make room.
   * @default Infinity
   */
  maxWeight?: number;
  /**
   * Acquire waits are timed for one acquire in this many (a power of two) for `stats().waitMs`;
   * reading the clock is a large share of a contended acquire. 1 times every acquire.
   * @default 16
   */
  statsSampleEvery?: number;
  /** Name used in messages and metrics. @default 'pool' */
  name?: string;
  /** Source of time. @default the real clock */
  clock?: Clock;
  /** Source of randomness for jitter, in [0, 1). @default Math.random */
  random?: () => number;
}

/** Options of {@link PoolOptions.autoscale}. */
export interface AutoscaleOptions {
  /** Lowest `max` it may set. */
  min: number;
  /** Highest `max` it may set. */
  max: number;
  /** @default 100 ms */
  targetWaitMs?: number;
  /** @default 0.3 */
  scaleDownUtilization?: number;
  /** @default 10_000 ms */
  intervalMs?: number;
  /** @default 1.2 */
  upFactor?: number;
  /** @default 0.8 */
  downFactor?: number;
}

/** @internal Every key of {@link PoolOptions}, for the integrations that extend it. */
export const poolOptionKeys: KeyList<PoolOptions<unknown>> = {
  create: 1,
  destroy: 1,
  validate: 1,
  reset: 1,
  min: 1,
  max: 1,
  acquireTimeoutMs: 1,
  maxWaiting: 1,
  idleTimeoutMs: 1,
  maxLifetimeMs: 1,
  lifetimeJitter: 1,
  maxUses: 1,
  createTimeoutMs: 1,
  destroyTimeoutMs: 1,
  validateAfterIdleMs: 1,
  validateIntervalMs: 1,
  validateTimeoutMs: 1,
  reapIntervalMs: 1,
  idleOrder: 1,
  maxLeasesPerResource: 1,
  leaseLimit: 1,
  leakDetectionMs: 1,
  createRetry: 1,
  breaker: 1,
  autoscale: 1,
  weigh: 1,
  maxWeight: 1,
  statsSampleEvery: 1,
  name: 1,
  clock: 1,
  random: 1,
  onIdle: 1,
  usable: 1,
};
const POOL_KEYS = optionKeys(poolOptionKeys);
const RETRY_KEYS = optionKeys<NonNullable<PoolOptions<unknown>['createRetry']>>({
  initialDelayMs: 1,
  maxDelayMs: 1,
});
const AUTOSCALE_KEYS = optionKeys<AutoscaleOptions>({
  min: 1,
  max: 1,
  targetWaitMs: 1,
  scaleDownUtilization: 1,
  intervalMs: 1,
  upFactor: 1,
  downFactor: 1,
});

/** Options after defaults and validation. */
export interface ResolvedPoolOptions<T> {
  create: (signal: AbortSignal) => T | Promise<T>;
  destroy: ((resource: T) => void | Promise<void>) | undefined;
  validate: ((resource: T, signal: AbortSignal) => boolean | Promise<boolean>) | undefined;
  reset: ((resource: T) => void | Promise<void>) | undefined;
  onIdle: ((resource: T, idle: boolean) => void) | undefined;
  usable: ((resource: T) => boolean) | undefined;
  min: number;
  max: number;
  acquireTimeoutMs: number;
  maxWaiting: number;
  idleTimeoutMs: number;
  maxLifetimeMs: number;
  lifetimeJitter: number;
  maxUses: number;
  createTimeoutMs: number;
  destroyTimeoutMs: number;
  validateTimeoutMs: number;
  validateAfterIdleMs: number;
  validateIntervalMs: number;
  reapIntervalMs: number;
  fifo: boolean;
  maxLeasesPerResource: number;
  leaseLimit: ((resource: T) => number) | undefined;
  leakDetectionMs: number;
  retryInitialDelayMs: number;
  retryMaxDelayMs: number;
  breaker: false | CircuitBreakerOptions | CircuitBreaker;
  autoscale: Required<AutoscaleOptions> | undefined;
  weigh: ((resource: T) => number) | undefined;
  maxWeight: number;
  statsSampleEvery: number;
  name: string;
  clock: Clock;
  random: () => number;
}

/** Validates options and fills defaults. @throws {TypeError|RangeError} naming the bad option. */
export function resolveOptions<T>(o: PoolOptions<T>): ResolvedPoolOptions<T> {
  checkObject('options', o);
  checkKeys('createPool', o, POOL_KEYS);
  if (o === undefined) throw new TypeError('createPool needs options with a `create` function');
  const create = checkFn<PoolOptions<T>['create']>('create', o.create, true)!;
  const min = checkInt('min', o.min ?? 0, 0);
  const max = checkInt('max', o.max ?? Math.max(10, min), 1);
  if (min > max) throw new RangeError(`Expected \`min\` (${min}) to be <= \`max\` (${max})`);
  const idleOrder = o.idleOrder ?? 'lifo';
  if (idleOrder !== 'lifo' && idleOrder !== 'fifo') {
    throw new TypeError(
      `Expected \`idleOrder\` to be 'lifo' or 'fifo', got ${describe(idleOrder)}`,
    );
  }
  checkObject('createRetry', o.createRetry);
  checkKeys("createPool's `createRetry`", o.createRetry, RETRY_KEYS);
  const retryInitialDelayMs = checkMs(
    'createRetry.initialDelayMs',
    o.createRetry?.initialDelayMs ?? 100,
    0,
    false,
  );
  const retryMaxDelayMs = checkMs(
    'createRetry.maxDelayMs',
    o.createRetry?.maxDelayMs ?? 10_000,
    0,
    false,
  );
  if (retryMaxDelayMs < retryInitialDelayMs) {
    throw new RangeError('Expected `createRetry.maxDelayMs` to be >= `createRetry.initialDelayMs`');
  }
  let breaker: ResolvedPoolOptions<T>['breaker'] = false;
  if (o.breaker instanceof CircuitBreaker) breaker = o.breaker;
  else if (o.breaker !== false) {
    checkObject('breaker', o.breaker);
    checkKeys("createPool's `breaker`", o.breaker, CIRCUIT_BREAKER_KEYS);
    breaker = { threshold: 5, halfOpenAfterMs: 5_000, ...o.breaker };
  }
  let autoscale: Required<AutoscaleOptions> | undefined;
  if (o.autoscale !== undefined) {
    checkObject('autoscale', o.autoscale);
    checkKeys("createPool's `autoscale`", o.autoscale, AUTOSCALE_KEYS);
    const a = o.autoscale;
    autoscale = {
      min: checkInt('autoscale.min', a.min, 1),
      max: checkInt('autoscale.max', a.max, 1),
      targetWaitMs: checkMs('autoscale.targetWaitMs', a.targetWaitMs ?? 100, 0, false),
      scaleDownUtilization: checkRatio(
        'autoscale.scaleDownUtilization',
        a.scaleDownUtilization ?? 0.3,
      ),
      intervalMs: checkMs('autoscale.intervalMs', a.intervalMs ?? 10_000, 1, false),
      upFactor: checkRatio('autoscale.upFactor', a.upFactor ?? 1.2, 1, 10),
      downFactor: checkRatio('autoscale.downFactor', a.downFactor ?? 0.8, 0.01, 1),
    };
    if (autoscale.min > autoscale.max) {
      throw new RangeError(
        `Expected \`autoscale.min\` (${autoscale.min}) to be <= \`autoscale.max\` (${autoscale.max})`,
      );
    }
    if (max < autoscale.min || max > autoscale.max) {
      throw new RangeError(
        `Expected \`max\` (${max}) to lie within \`autoscale.min\`..\`autoscale.max\``,
      );
    }
    if (min > autoscale.min) {
      throw new RangeError(
        `Expected \`min\` (${min}) to be <= \`autoscale.min\` (${autoscale.min})`,
      );
    }
  }
  const weigh = checkFn<(resource: T) => number>('weigh', o.weigh, false);
  const maxWeight = o.maxWeight ?? Number.POSITIVE_INFINITY;
  if (typeof maxWeight !== 'number' || !(maxWeight > 0)) {
    throw new RangeError(`Expected \`maxWeight\` to be a number > 0, got ${describe(maxWeight)}`);
  }
  if ((weigh === undefined) !== (maxWeight === Number.POSITIVE_INFINITY)) {
    throw new TypeError('`weigh` and `maxWeight` go together: give both or neither');
  }
  // The autoscaler needs every wait it can get; plain pools sample to save clock reads.
  const statsSampleEvery = checkInt(
    'statsSampleEvery',
    o.statsSampleEvery ?? (autoscale ? 1 : 16),
    1,
  );
  if ((statsSampleEvery & (statsSampleEvery - 1)) !== 0) {
    throw new RangeError(
      `Expected \`statsSampleEvery\` to be a power of two, got ${statsSampleEvery} (number)`,
    );
  }
  const clock = o.clock ?? realClock;
  if (typeof clock.now !== 'function' || typeof clock.setTimeout !== 'function') {
    throw new TypeError('Expected `clock` to implement now(), setTimeout() and clearTimeout()');
  }
  return {
    create,
    destroy: checkFn('destroy', o.destroy, false),
    validate: checkFn('validate', o.validate, false),
    reset: checkFn('reset', o.reset, false),
    onIdle: checkFn('onIdle', o.onIdle, false),
    usable: guard(checkFn('usable', o.usable, false)),
    min,
    max,
    acquireTimeoutMs: checkMs('acquireTimeoutMs', o.acquireTimeoutMs ?? 30_000),
    maxWaiting: checkInt('maxWaiting', o.maxWaiting ?? 10_000, 0, true),
    idleTimeoutMs: checkMs('idleTimeoutMs', o.idleTimeoutMs ?? 30_000),
    maxLifetimeMs: checkMs('maxLifetimeMs', o.maxLifetimeMs ?? Number.POSITIVE_INFINITY, 1),
    lifetimeJitter: checkRatio('lifetimeJitter', o.lifetimeJitter ?? 0.1, 0, 0.5),
    maxUses: checkInt('maxUses', o.maxUses ?? Number.POSITIVE_INFINITY, 1, true),
    createTimeoutMs: checkMs('createTimeoutMs', o.createTimeoutMs ?? 30_000, 1),
    destroyTimeoutMs: checkMs('destroyTimeoutMs', o.destroyTimeoutMs ?? 5_000, 0),
    validateTimeoutMs: checkMs('validateTimeoutMs', o.validateTimeoutMs ?? 5_000, 1),
    validateAfterIdleMs: checkMs('validateAfterIdleMs', o.validateAfterIdleMs ?? 500),
    validateIntervalMs: checkMs('validateIntervalMs', o.validateIntervalMs ?? 30_000, 1),
    reapIntervalMs: checkMs('reapIntervalMs', o.reapIntervalMs ?? 1_000, 1, false),
    fifo: idleOrder === 'fifo',
    maxLeasesPerResource: checkInt('maxLeasesPerResource', o.maxLeasesPerResource ?? 1, 1),
    leaseLimit: checkFn('leaseLimit', o.leaseLimit, false),
    leakDetectionMs: checkMs('leakDetectionMs', o.leakDetectionMs ?? Number.POSITIVE_INFINITY, 1),
    retryInitialDelayMs,
    retryMaxDelayMs,
    breaker,
    autoscale,
    weigh,
    maxWeight,
    statsSampleEvery,
    name: typeof o.name === 'string' ? o.name : 'pool',
    clock,
    random: checkFn<() => number>('random', o.random, false) ?? Math.random,
  };
}

/** `usable` as the pool calls it: a throw means "not usable". */
function guard<T>(usable: ((resource: T) => boolean) | undefined) {
  if (usable === undefined) return undefined;
  return (resource: T): boolean => {
    try {
      return usable(resource) === true;
    } catch {
      return false;
    }
  };
}

/** Options of one {@link Pool.acquire} call. */
export interface AcquireOptions {
  /** Aborts the wait; the promise rejects with `signal.reason`. */
  signal?: AbortSignal;
  /** Overrides the pool's `acquireTimeoutMs` for this call. */
  timeoutMs?: number;
  /** Higher is served first; equal priorities are first-come-first-served. @default 0 */
  priority?: number;
}

const ACQUIRE_KEYS = optionKeys<AcquireOptions>({ signal: 1, timeoutMs: 1, priority: 1 });

/**
 * Checks the options of one acquire; returns true, checking no further, if its signal has
 * already aborted. @throws {TypeError|RangeError} naming the bad option.
 */
function checkAcquireOptions(options: AcquireOptions): boolean {
  checkObject('options', options);
  checkKeys('Pool.acquire', options, ACQUIRE_KEYS);
  if (checkSignal(options.signal)?.aborted) return true;
  if (options.timeoutMs !== undefined) checkMs('timeoutMs', options.timeoutMs);
  if (options.priority !== undefined && !Number.isFinite(options.priority)) {
    throw new TypeError(
      `Expected \`priority\` to be a finite number, got ${describe(options.priority)}`,
    );
  }
  return false;
}

/** @internal A rejection for bad or already aborted acquire `options`, or null to go on. */
export function refuseAcquire(options: AcquireOptions): Promise<never> | null {
  try {
    return checkAcquireOptions(options) ? Promise.reject(abortReason(options.signal!)) : null;
  } catch (error) {
    return Promise.reject(error);
  }
}

const RESIZE_KEYS = optionKeys<{ min?: number; max?: number }>({ min: 1, max: 1 });
const DRAIN_KEYS = optionKeys<{ timeoutMs?: number }>({ timeoutMs: 1 });

/**
 * @internal The bounds `Pool.resize` asked for, over the current `min` and `max`.
 * @throws {RangeError} for bounds that are not integers, `max < 1` or `min > max`.
 */
export function resolveBounds(
  bounds: { min?: number; max?: number },
  current: { min: number; max: number },
): { min: number; max: number } {
  checkObject('bounds', bounds);
  checkKeys('Pool.resize', bounds, RESIZE_KEYS);
  const max = checkInt('max', bounds.max ?? current.max, 1);
  const min = checkInt('min', bounds.min ?? Math.min(current.min, max), 0);
  if (min > max) throw new RangeError(`Expected \`min\` (${min}) to be <= \`max\` (${max})`);
  return { min, max };
}

/** @internal `Pool.drain`'s grace for leases. @throws {TypeError|RangeError} for bad options. */
export function drainTimeoutMs(options: { timeoutMs?: number } | undefined): number {
  checkObject('options', options);
  checkKeys('Pool.drain', options, DRAIN_KEYS);
  return checkMs('timeoutMs', options?.timeoutMs ?? 30_000);
}
