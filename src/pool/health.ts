// A pool's health: the rule that turns its figures (utilisation, recent waits, timeouts and
// create errors per second, breaker, memory) into ok / degraded / failing with the reasons,
// and the windows over the pool's clock that the rates and the recent waits come from.
// The rule is a pure function; the windows are fed only off the hot path (a timeout, a
// failed create, a health() call), so measuring costs an acquire nothing.
import { getHeapStatistics } from 'node:v8';
import { describe } from '../internal/errors.js';
import { checkFn, checkKeys, checkMs, checkObject, optionKeys } from '../internal/options.js';

/** How a pool is doing, worst first: `failing` > `degraded` > `ok`. */
export type HealthLevel = 'ok' | 'degraded' | 'failing';

/**
 * The two limits of one figure: above `degraded` the pool is degraded, above `failing` it
 * is failing (strictly above: a limit of 0 means "any"). `Infinity` turns a level off.
 */
export interface HealthThreshold {
  degraded?: number;
  failing?: number;
}

/**
 * Thresholds of `pool.health()`, each with a default.
 * @example
 * pool.health({ waitP99Ms: { degraded: 20, failing: 500 }, windowMs: 30_000 });
 */
export interface HealthOptions {
  /**
   * Share of the pool's capacity lent out: leases / (`max` × leases per resource), 0 to 1.
   * @default { degraded: 0.9, failing: Infinity }
   */
  utilization?: HealthThreshold;
  /**
   * p99 of the acquire waits sampled in the window, in ms.
   * @default { degraded: 100, failing: half of `acquireTimeoutMs` (5_000 when that is Infinity) }
   */
  waitP99Ms?: HealthThreshold;
  /** Acquires that timed out, per second over the window. @default { degraded: 0, failing: 1 } */
  timeoutsPerSec?: HealthThreshold;
  /** Failed creates (connects), per second over the window. @default { degraded: 0, failing: 1 } */
  createErrorsPerSec?: HealthThreshold;
  /**
   * Memory in use over its limit, 0 to 1 (by default V8's heap: used over `heap_size_limit`,
   * the size at which the process dies of "heap out of memory").
   * @default { degraded: 0.85, failing: 0.95 }
   */
  memory?: HealthThreshold;
  /** The recent past the rates and waits cover, in ms, from 1_000 to 60_000. @default 10_000 */
  windowMs?: number;
  /**
   * Reads the memory in use and its limit, in bytes: pass one for a container's limit
   * (cgroup) or RSS. @default V8's `used_heap_size` and `heap_size_limit`
   */
  memoryUsage?: () => { used: number; limit: number };
}

/** Breaker state as `pool.stats()` reports it (`off` without a breaker). */
export type PoolBreakerState = 'closed' | 'open' | 'half-open' | 'off';

/** The figures a health judgement reads. */
export interface HealthFigures {
  state: 'open' | 'draining' | 'closed';
  /** Leases out over the pool's capacity (`max` × leases per resource), 0 to 1. */
  utilization: number;
  /** Callers waiting in `acquire` now. */
  pending: number;
  /** p99 of the acquire waits sampled in the window, ms (0 with no sample). */
  waitP99Ms: number;
  /** How many sampled waits `waitP99Ms` comes from. */
  waitSamples: number;
  timeoutsPerSec: number;
  createErrorsPerSec: number;
  breaker: PoolBreakerState;
  /** Memory in use, its limit (bytes) and their ratio. */
  memory: { used: number; limit: number; ratio: number };
  /** The window the rates and waits cover, ms. */
  windowMs: number;
}

/**
 * What `pool.health()` returns: the level, why (empty when `ok`), and the figures it was
 * judged on.
 * @example
 * const h = pool.health();
 * if (h.level !== 'ok') log.warn(`${h.name}: ${h.reasons.join('; ')}`);
 */
export interface PoolHealth extends HealthFigures {
  name: string;
  level: HealthLevel;
  reasons: string[];
}

/** Thresholds with every default filled in. */
export interface ResolvedHealthOptions {
  utilization: Required<HealthThreshold>;
  waitP99Ms: Required<HealthThreshold>;
  timeoutsPerSec: Required<HealthThreshold>;
  createErrorsPerSec: Required<HealthThreshold>;
  memory: Required<HealthThreshold>;
  windowMs: number;
  memoryUsage: () => { used: number; limit: number };
}

const HEALTH_KEYS = optionKeys<HealthOptions>({
  utilization: 1,
  waitP99Ms: 1,
  timeoutsPerSec: 1,
  createErrorsPerSec: 1,
  memory: 1,
  windowMs: 1,
  memoryUsage: 1,
});
const THRESHOLD_KEYS = optionKeys<HealthThreshold>({ degraded: 1, failing: 1 });
const MAX_WINDOW_MS = 60_000;

/** V8's heap, in use and the limit it may not pass. */
export function heapUsage(): { used: number; limit: number } {
  const h = getHeapStatistics();
  return { used: h.used_heap_size, limit: h.heap_size_limit };
}

function checkLimit(name: string, value: unknown): number {
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new TypeError(`Expected \`${name}\` to be a number, got ${describe(value)}`);
  }
  if (value < 0) {
    throw new RangeError(`Expected \`${name}\` to be a number >= 0 or Infinity, got ${value}`);
  }
  return value;
}

function threshold(
  name: string,
  value: HealthThreshold | undefined,
  degraded: number,
  failing: number,
): Required<HealthThreshold> {
  checkObject(name, value);
  checkKeys(`health option \`${name}\``, value, THRESHOLD_KEYS);
  const d = checkLimit(`${name}.degraded`, value?.degraded ?? degraded);
  // A raised `degraded` alone raises the default `failing` with it.
  const t = {
    degraded: d,
    failing: checkLimit(`${name}.failing`, value?.failing ?? Math.max(d, failing)),
  };
  if (t.failing < t.degraded) {
    throw new RangeError(
      `Expected \`${name}.failing\` (${t.failing}) to be >= \`${name}.degraded\` (${t.degraded})`,
    );
  }
  return t;
}

/**
 * Fills in the defaults of {@link HealthOptions}.
 * @throws {TypeError} for an unknown option or a value of the wrong type.
 * @throws {RangeError} for a negative threshold, `failing < degraded`, or `windowMs` out of range.
 */
export function resolveHealthOptions(
  options: HealthOptions | undefined,
  acquireTimeoutMs: number,
): ResolvedHealthOptions {
  checkObject('options', options);
  checkKeys('health', options, HEALTH_KEYS);
  const windowMs = checkMs('windowMs', options?.windowMs ?? 10_000, 1_000, false);
  if (windowMs > MAX_WINDOW_MS) {
    throw new RangeError(
      `Expected \`windowMs\` to be a number of milliseconds from 1000 to ${MAX_WINDOW_MS}, got ${windowMs}`,
    );
  }
  const waitFailing = Number.isFinite(acquireTimeoutMs) ? acquireTimeoutMs / 2 : 5_000;
  const waitP99Ms = threshold('waitP99Ms', options?.waitP99Ms, 100, Math.max(100, waitFailing));
  return {
    utilization: threshold('utilization', options?.utilization, 0.9, Number.POSITIVE_INFINITY),
    waitP99Ms,
    timeoutsPerSec: threshold('timeoutsPerSec', options?.timeoutsPerSec, 0, 1),
    createErrorsPerSec: threshold('createErrorsPerSec', options?.createErrorsPerSec, 0, 1),
    memory: threshold('memory', options?.memory, 0.85, 0.95),
    windowMs,
    memoryUsage:
      checkFn<() => { used: number; limit: number }>('memoryUsage', options?.memoryUsage, false) ??
      heapUsage,
  };
}

/** Reads memory through `read`, as figures (a limit of 0 reads as no pressure). */
export function memoryFigures(read: () => { used: number; limit: number }): {
  used: number;
  limit: number;
  ratio: number;
} {
  const { used, limit } = read();
  return { used, limit, ratio: limit > 0 ? used / limit : 0 };
}

const RANK: Record<HealthLevel, number> = { ok: 0, degraded: 1, failing: 2 };

/** The worse of two levels. */
export function worse(a: HealthLevel, b: HealthLevel): HealthLevel {
  return RANK[b] > RANK[a] ? b : a;
}

function round(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(n < 1 ? 2 : 1);
}

/**
 * The health rule, pure: every figure past a threshold makes the level at least that bad
 * and adds a reason; a closed or draining pool and an open breaker are failing, a
 * half-open breaker is degraded.
 * @example
 * judgeHealth(figures, resolveHealthOptions(undefined, 30_000)); // { level: 'ok', reasons: [] }
 */
export function judgeHealth(
  f: HealthFigures,
  t: ResolvedHealthOptions,
): { level: HealthLevel; reasons: string[] } {
  let level: HealthLevel = 'ok';
  const reasons: string[] = [];
  const flag = (to: HealthLevel, reason: string): void => {
    level = worse(level, to);
    reasons.push(reason);
  };
  const check = (value: number, limit: Required<HealthThreshold>, say: string): void => {
    if (value > limit.failing) flag('failing', `${say} (failing above ${round(limit.failing)})`);
    else if (value > limit.degraded)
      flag('degraded', `${say} (degraded above ${round(limit.degraded)})`);
  };
  if (f.state !== 'open') flag('failing', `the pool is ${f.state}`);
  if (f.breaker === 'open') flag('failing', 'the create breaker is open: creates keep failing');
  else if (f.breaker === 'half-open') flag('degraded', 'the create breaker is half-open');
  check(
    f.utilization,
    t.utilization,
    `utilisation ${round(f.utilization * 100)}%${f.pending > 0 ? `, ${f.pending} waiting` : ''}`,
  );
  check(f.waitP99Ms, t.waitP99Ms, `acquire wait p99 ${round(f.waitP99Ms)} ms`);
  const per = `/s over ${f.windowMs / 1000} s`;
  check(f.timeoutsPerSec, t.timeoutsPerSec, `${round(f.timeoutsPerSec)} acquire timeouts${per}`);
  check(
    f.createErrorsPerSec,
    t.createErrorsPerSec,
    `${round(f.createErrorsPerSec)} create errors${per}`,
  );
  check(f.memory.ratio, t.memory, `memory ${round(f.memory.ratio * 100)}% of its limit`);
  return { level, reasons };
}

const BUCKET_MS = 1_000;
const BUCKETS = MAX_WINDOW_MS / BUCKET_MS;

/**
 * @internal Counts of events in the last minute, in one-second buckets on a clock: a
 * record is O(1) and the memory is fixed however many events come.
 */
export class RecentEvents {
  readonly #counts = new Float64Array(BUCKETS);
  readonly #epochs = new Float64Array(BUCKETS).fill(Number.NEGATIVE_INFINITY);

  record(now: number): void {
    const epoch = Math.floor(now / BUCKET_MS);
    const i = slot(epoch);
    if (this.#epochs[i] !== epoch) {
      this.#epochs[i] = epoch;
      this.#counts[i] = 0;
    }
    this.#counts[i]!++;
  }

  /** Events per second over the last `windowMs` (whole buckets, the current one included). */
  perSecond(now: number, windowMs: number): number {
    const last = Math.floor(now / BUCKET_MS);
    const first = last - Math.ceil(windowMs / BUCKET_MS) + 1;
    let n = 0;
    for (let i = 0; i < BUCKETS; i++) {
      const e = this.#epochs[i]!;
      if (e >= first && e <= last) n += this.#counts[i]!;
    }
    return n / (windowMs / 1000);
  }
}

function slot(epoch: number): number {
  return ((epoch % BUCKETS) + BUCKETS) % BUCKETS;
}

const MARKS = 64;

/**
 * @internal Where the wait samples stood at recent moments, so that a health check can
 * take the samples of its window from a ring that is not timestamped (timestamping would
 * read the clock on the fast path). A mark is left at each check, at most one a second.
 */
export class WaitMarks {
  readonly #times = new Float64Array(MARKS).fill(Number.NaN);
  readonly #counts = new Float64Array(MARKS);
  #next = 0;

  constructor() {
    // The pool's creation: before any check, a window covers every sample since.
    this.#times[0] = Number.NEGATIVE_INFINITY;
    this.#next = 1;
  }

  /**
   * The sample count to take samples after, for a window that starts at `from`: the last
   * mark at or before `from` (samples since may be up to a mark's spacing older than the
   * window), else the oldest mark (the window begins before anything was marked).
   */
  since(from: number): number {
    let before = Number.NEGATIVE_INFINITY;
    let beforeCount = -1;
    let oldest = Number.POSITIVE_INFINITY;
    let oldestCount = 0;
    for (let i = 0; i < MARKS; i++) {
      const t = this.#times[i]!;
      if (Number.isNaN(t)) continue;
      if (t <= from && t > before) {
        before = t;
        beforeCount = this.#counts[i]!;
      }
      if (t < oldest) {
        oldest = t;
        oldestCount = this.#counts[i]!;
      }
    }
    return beforeCount >= 0 ? beforeCount : oldestCount;
  }

  mark(now: number, count: number): void {
    const prev = this.#times[(this.#next + MARKS - 1) % MARKS]!;
    if (!Number.isNaN(prev) && Math.floor(prev / BUCKET_MS) === Math.floor(now / BUCKET_MS)) {
      return;
    }
    this.#times[this.#next] = now;
    this.#counts[this.#next] = count;
    this.#next = (this.#next + 1) % MARKS;
  }
}

/**
 * @internal The parts of a pool's health that need history: timeouts and create errors
 * as they happen, and marks in the wait samples.
 */
export class HealthWindow {
  readonly timeouts = new RecentEvents();
  readonly createErrors = new RecentEvents();
  readonly waits = new WaitMarks();
}

/** @internal What {@link assessHealth} reads of a pool besides its stats. */
export interface HealthSource {
  acquireTimeoutMs: number;
  maxLeasesPerResource: number;
  clock: { now(): number };
}

/** @internal The pool's wait samples, as `WaitSamples` keeps them. */
export interface WaitRing {
  readonly count: number;
  since(count: number): Float64Array;
}

/**
 * @internal Measures a pool's figures over the window and judges them.
 * @throws {TypeError|RangeError} for bad options.
 */
export function assessHealth(
  options: HealthOptions | undefined,
  s: {
    name: string;
    state: 'open' | 'draining' | 'closed';
    leased: number;
    max: number;
    pending: number;
    breaker: PoolBreakerState;
  },
  o: HealthSource,
  waits: WaitRing,
  window: HealthWindow,
): PoolHealth {
  const t = resolveHealthOptions(options, o.acquireTimeoutMs);
  const now = o.clock.now();
  const sample = waits.since(window.waits.since(now - t.windowMs));
  window.waits.mark(now, waits.count);
  let waitP99Ms = 0;
  if (sample.length > 0) {
    sample.sort();
    waitP99Ms = sample[Math.min(sample.length - 1, Math.floor(0.99 * sample.length))]!;
  }
  const capacity = s.max * o.maxLeasesPerResource;
  const figures: HealthFigures = {
    state: s.state,
    utilization: capacity > 0 ? s.leased / capacity : 0,
    pending: s.pending,
    waitP99Ms,
    waitSamples: sample.length,
    timeoutsPerSec: window.timeouts.perSecond(now, t.windowMs),
    createErrorsPerSec: window.createErrors.perSecond(now, t.windowMs),
    breaker: s.breaker,
    memory: memoryFigures(t.memoryUsage),
    windowMs: t.windowMs,
  };
  return { name: s.name, ...judgeHealth(figures, t), ...figures };
}
