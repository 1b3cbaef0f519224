// What the dashboard reads from each source and the snapshot it sends to the page. Every
// reader works through what the sources already expose (a pool's `stats()`, a channel's
// getters, a breaker's state, a limiter's counters) and a `health()` when the source has
// one, so this is the one file to change when the readers come from elsewhere.
import type { Clock } from '../internal/clock.js';
import type { PoolStats } from '../pool/index.js';

/** Health as a source reports it: a level and the reasons for it. */
export interface DashboardHealth {
  /** `ok`, `degraded` or `failing` (any other word a source reports is passed on). */
  level: string;
  /** Why the level is what it is, one short sentence each. */
  reasons: string[];
}

/** One pool on the dashboard (an HTTP pool or a keyed pool gives one row per origin or key). */
export interface DashboardPool {
  name: string;
  /** `pool`, `http` (one origin of an HTTP pool) or `keyed` (one key of a keyed pool). */
  kind: string;
  state: string;
  /** Resources lent out now (an HTTP connection serving a request). */
  used: number;
  idle: number;
  /** Callers waiting for a resource. */
  pending: number;
  /** The pool's `max`; null when it has none. */
  limit: number | null;
  min: number;
  creating: number;
  /** Acquire waits of the recent window, in milliseconds. */
  waitP50Ms: number;
  waitP99Ms: number;
  /** Acquire timeouts per second over the last interval. */
  timeoutsPerSec: number;
  /** Failed creates per second over the last interval. */
  createErrorsPerSec: number;
  /** Totals since the pool was created. */
  timeouts: number;
  createErrors: number;
  acquired: number;
  /** The pool's own create breaker: `closed`, `open`, `half-open` or `off`. */
  breaker: string;
  health: DashboardHealth | null;
}

/** One circuit breaker on the dashboard. */
export interface DashboardBreaker {
  name: string;
  state: string;
  /** Wall-clock time (ms since the epoch) of the last change seen, or null if none was seen. */
  changedAt: number | null;
  /** Milliseconds since the last change, or since the dashboard started watching when none was seen. */
  sinceMs: number;
  /** For an open breaker: milliseconds until it lets a probe through. */
  retryInMs: number | null;
  health: DashboardHealth | null;
}

/** One channel on the dashboard. */
export interface DashboardChannel {
  name: string;
  length: number;
  capacity: number;
  /** `length / capacity`, 0 to 1 (0 for a rendezvous channel). */
  fill: number;
  closed: boolean;
  /** Senders waiting for room, receivers waiting for a value (when the channel tells). */
  blockedSenders: number | null;
  blockedReceivers: number | null;
  health: DashboardHealth | null;
}

/** One rate limiter or semaphore on the dashboard. */
export interface DashboardLimiter {
  name: string;
  /** `rate` (a token bucket) or `semaphore`. */
  kind: string;
  /** Tokens (rate) or permits (semaphore) free now. */
  available: number;
  /** A semaphore's permits in all; null for a token bucket. */
  limit: number | null;
  waiting: number;
  health: DashboardHealth | null;
}

/** A source whose reader threw: the rest of the snapshot is still sent. */
export interface DashboardSourceError {
  source: string;
  message: string;
}

/**
 * What each event of the dashboard's stream carries (`event: snapshot`, as JSON).
 * `v` is the format's version; fields are only ever added.
 */
export interface DashboardSnapshot {
  v: 1;
  /** The event id: increases with every snapshot, also across restarts of the server. */
  id: number;
  /** Wall-clock time of the snapshot, ms since the epoch. */
  at: number;
  intervalMs: number;
  /** How many snapshots the page keeps for its charts. */
  historySize: number;
  title: string;
  pools: DashboardPool[];
  breakers: DashboardBreaker[];
  channels: DashboardChannel[];
  limiters: DashboardLimiter[];
  errors: DashboardSourceError[];
}

/** A pool-like source: anything with `stats()` returning a pool, HTTP-pool or keyed-pool snapshot. */
export interface PoolSource {
  stats(): unknown;
}

/** A breaker-like source: `state`, and `stateChange` events when it emits them. */
export interface BreakerSource {
  readonly state: string;
}

/** A channel-like source. */
export interface ChannelSource {
  readonly length: number;
  readonly capacity: number;
  readonly closed?: boolean;
}

/** A rate-limiter-like or semaphore-like source. */
export interface LimiterSource {
  readonly available: number;
  readonly waiting: number;
}

/** Sources given as a record (name → source) or a list (names from the sources). */
export type Sources<S> = Readonly<Record<string, S>> | readonly S[];

/** @internal The sources, checked and named. */
export interface SourceSet {
  pools: [string, PoolSource][];
  breakers: [string, BreakerSource][];
  channels: [string, ChannelSource][];
  limiters: [string, LimiterSource][];
}

/** @internal Turns a record or list of sources into named pairs. */
export function named<S>(
  option: string,
  sources: Sources<S> | undefined,
  fallback: string,
  check: (s: unknown) => boolean,
  expected: string,
): [string, S][] {
  if (sources === undefined) return [];
  if (typeof sources !== 'object' || sources === null) {
    throw optionError(TypeError, `Expected \`${option}\` to be a record or an array of sources`);
  }
  const pairs: [string, unknown][] = Array.isArray(sources)
    ? sources.map((s, i) => [nameOf(s) ?? `${fallback} ${i + 1}`, s])
    : Object.entries(sources);
  for (const [name, s] of pairs) {
    if (!check(s)) {
      throw optionError(TypeError, `Expected \`${option}.${name}\` to be ${expected}`);
    }
  }
  return pairs as [string, S][];
}

function nameOf(s: unknown): string | undefined {
  if (typeof s !== 'object' || s === null) return undefined;
  const n = (s as { name?: unknown }).name;
  if (typeof n === 'string' && n !== '') return n;
  try {
    const st = (s as { stats?: () => unknown }).stats?.() as { name?: unknown } | undefined;
    if (typeof st?.name === 'string' && st.name !== '') return st.name;
  } catch {
    // A pool whose stats() throws is named by its place in the list.
  }
  return undefined;
}

/** @internal A bad option of `createDashboard`: a TypeError or RangeError with a code. */
export function optionError(
  Kind: typeof TypeError | typeof RangeError,
  message: string,
): TypeError & { code: 'ERR_DASHBOARD_OPTION' } {
  const e = new Kind(message) as TypeError & { code: 'ERR_DASHBOARD_OPTION' };
  e.code = 'ERR_DASHBOARD_OPTION';
  return e;
}

/** @internal Whether a value can be read as a pool, breaker, channel or limiter. */
export const isPool = (s: unknown): boolean =>
  typeof (s as PoolSource | null)?.stats === 'function';
/** @internal */
export const isBreaker = (s: unknown): boolean =>
  typeof s === 'object' && s !== null && typeof (s as BreakerSource).state === 'string';
/** @internal */
export const isChannel = (s: unknown): boolean =>
  typeof s === 'object' &&
  s !== null &&
  typeof (s as ChannelSource).length === 'number' &&
  typeof (s as ChannelSource).capacity === 'number';
/** @internal */
export const isLimiter = (s: unknown): boolean =>
  typeof s === 'object' &&
  s !== null &&
  typeof (s as LimiterSource).available === 'number' &&
  typeof (s as LimiterSource).waiting === 'number';

interface Totals {
  timeouts: number;
  createErrors: number;
}

interface Emits {
  on(event: 'stateChange', listener: () => void): () => void;
}

/**
 * @internal Reads every source into a snapshot. Keeps what rates need (the previous
 * totals) and when each breaker last changed, watched through its `stateChange` events.
 */
export class SnapshotReader {
  readonly #sources: SourceSet;
  readonly #clock: Clock;
  readonly #intervalMs: number;
  readonly #historySize: number;
  readonly #title: string;
  // Wall time = epoch at start + clock time elapsed, so a fake clock drives it in tests
  // and ids still grow across restarts of the server.
  readonly #epoch: number;
  readonly #clockStart: number;
  #lastId = 0;
  #lastAt: number | undefined;
  #prev = new Map<string, Totals>();
  readonly #changedAt = new Map<BreakerSource, number>();
  readonly #unsubscribe: (() => void)[] = [];

  constructor(
    sources: SourceSet,
    options: { clock: Clock; intervalMs: number; historySize: number; title: string },
  ) {
    this.#sources = sources;
    this.#clock = options.clock;
    this.#intervalMs = options.intervalMs;
    this.#historySize = options.historySize;
    this.#title = options.title;
    this.#epoch = Date.now();
    this.#clockStart = this.#clock.now();
    for (const [, b] of sources.breakers) {
      const on = (b as Partial<Emits>).on;
      if (typeof on !== 'function') continue;
      const off = on.call(b, 'stateChange', () => this.#changedAt.set(b, this.#wallNow()));
      if (typeof off === 'function') this.#unsubscribe.push(off);
    }
  }

  #wallNow(): number {
    return Math.floor(this.#epoch + this.#clock.now() - this.#clockStart);
  }

  /** Stops watching the breakers. */
  close(): void {
    for (const off of this.#unsubscribe.splice(0)) off();
  }

  /** Reads every source now. */
  read(): DashboardSnapshot {
    const at = this.#wallNow();
    const id = Math.max(this.#lastId + 1, at);
    this.#lastId = id;
    const dtSec = this.#lastAt === undefined ? 0 : Math.max(0, at - this.#lastAt) / 1000;
    this.#lastAt = at;
    const errors: DashboardSourceError[] = [];
    const pools: DashboardPool[] = [];
    const next = new Map<string, Totals>();
    for (const [name, source] of this.#sources.pools) {
      try {
        for (const row of poolRows(name, source)) {
          const prev = this.#prev.get(row.name);
          if (prev !== undefined && dtSec > 0) {
            row.timeoutsPerSec = round(Math.max(0, row.timeouts - prev.timeouts) / dtSec);
            row.createErrorsPerSec = round(
              Math.max(0, row.createErrors - prev.createErrors) / dtSec,
            );
          }
          next.set(row.name, { timeouts: row.timeouts, createErrors: row.createErrors });
          pools.push(row);
        }
      } catch (error) {
        errors.push({ source: `pools.${name}`, message: messageOf(error) });
      }
    }
    this.#prev = next;
    const breakers: DashboardBreaker[] = [];
    for (const [name, b] of this.#sources.breakers) {
      try {
        const changedAt = this.#changedAt.get(b) ?? null;
        const retryAt = (b as { retryAt?: unknown }).retryAt;
        breakers.push({
          name,
          state: String(b.state),
          changedAt,
          sinceMs: at - (changedAt ?? this.#epoch),
          retryInMs:
            b.state === 'open' && typeof retryAt === 'number' && Number.isFinite(retryAt)
              ? Math.max(0, Math.round(retryAt - this.#clock.now()))
              : null,
          health: healthOf(b),
        });
      } catch (error) {
        errors.push({ source: `breakers.${name}`, message: messageOf(error) });
      }
    }
    const channels: DashboardChannel[] = [];
    for (const [name, c] of this.#sources.channels) {
      try {
        const waiting = (c as { waiting?: { senders?: unknown; receivers?: unknown } }).waiting;
        channels.push({
          name,
          length: c.length,
          capacity: c.capacity,
          fill: c.capacity > 0 ? round(Math.min(1, c.length / c.capacity)) : 0,
          closed: c.closed === true,
          blockedSenders: typeof waiting?.senders === 'number' ? waiting.senders : null,
          blockedReceivers: typeof waiting?.receivers === 'number' ? waiting.receivers : null,
          health: healthOf(c),
        });
      } catch (error) {
        errors.push({ source: `channels.${name}`, message: messageOf(error) });
      }
    }
    const limiters: DashboardLimiter[] = [];
    for (const [name, l] of this.#sources.limiters) {
      try {
        const permits = (l as { permits?: unknown }).permits;
        limiters.push({
          name,
          kind: typeof permits === 'number' ? 'semaphore' : 'rate',
          available: round(l.available),
          limit: typeof permits === 'number' ? permits : null,
          waiting: l.waiting,
          health: healthOf(l),
        });
      } catch (error) {
        errors.push({ source: `limiters.${name}`, message: messageOf(error) });
      }
    }
    return {
      v: 1,
      id,
      at,
      intervalMs: this.#intervalMs,
      historySize: this.#historySize,
      title: this.#title,
      pools,
      breakers,
      channels,
      limiters,
      errors,
    };
  }
}

// A core, managed or database pool gives one row; an HTTP pool one per origin; a keyed
// pool one per key. All three are told apart by the shape of their stats. The health of an
// HTTP or keyed pool, when it has one, lists each origin's or key's own.
function poolRows(name: string, source: PoolSource): DashboardPool[] {
  const stats = source.stats() as Record<string, unknown>;
  if (Array.isArray(stats.origins)) {
    const health = healthByKey(source);
    return (stats.origins as { origin: string; pool: PoolStats }[]).map((o) =>
      poolRow(`${name} ${o.origin}`, 'http', o.pool, health.get(o.origin) ?? null),
    );
  }
  if (Array.isArray(stats.pools) && typeof stats.total === 'object') {
    const health = healthByKey(source);
    return (stats.pools as { key: unknown; stats: PoolStats }[]).map((p) =>
      poolRow(`${name} ${String(p.key)}`, 'keyed', p.stats, health.get(String(p.key)) ?? null),
    );
  }
  return [poolRow(name, 'pool', stats as unknown as PoolStats, healthOf(source))];
}

// The health of an HTTP or keyed pool lists each origin's or key's own, as `pools`.
function healthByKey(source: PoolSource): Map<string, DashboardHealth> {
  const byKey = new Map<string, DashboardHealth>();
  const fn = (source as { health?: unknown }).health;
  if (typeof fn !== 'function') return byKey;
  const h = fn.call(source) as { pools?: unknown } | null | undefined;
  if (typeof h !== 'object' || h === null || !Array.isArray(h.pools)) return byKey;
  for (const p of h.pools as { key?: unknown; health?: unknown }[]) {
    const one = healthOf({ health: () => p.health });
    if (one !== null) byKey.set(String(p.key), one);
  }
  return byKey;
}

function poolRow(
  name: string,
  kind: string,
  s: PoolStats,
  health: DashboardHealth | null,
): DashboardPool {
  return {
    name,
    kind,
    state: String(s.state),
    used: num(s.active),
    idle: num(s.idle),
    pending: num(s.pending),
    limit: typeof s.max === 'number' && Number.isFinite(s.max) ? s.max : null,
    min: num(s.min),
    creating: num(s.creating),
    waitP50Ms: round(num(s.waitMs?.p50)),
    waitP99Ms: round(num(s.waitMs?.p99)),
    timeoutsPerSec: 0,
    createErrorsPerSec: 0,
    timeouts: num(s.timeouts),
    createErrors: num(s.createErrors),
    acquired: num(s.acquired),
    breaker: typeof s.breaker === 'string' ? s.breaker : 'off',
    health,
  };
}

/** @internal A source's `health()` when it has one, as level and reasons; null otherwise. */
export function healthOf(source: unknown): DashboardHealth | null {
  const fn = (source as { health?: unknown } | null)?.health;
  if (typeof fn !== 'function') return null;
  const h = fn.call(source) as { level?: unknown; reasons?: unknown } | undefined;
  // A health() that returns a promise cannot be part of a synchronous snapshot.
  if (typeof h !== 'object' || h === null || typeof (h as { then?: unknown }).then === 'function') {
    return null;
  }
  const reasons = Array.isArray(h.reasons) ? h.reasons.map(reasonText) : [];
  return { level: typeof h.level === 'string' ? h.level : 'unknown', reasons };
}

function reasonText(r: unknown): string {
  if (typeof r === 'string') return r;
  if (typeof r === 'object' && r !== null) {
    const o = r as { message?: unknown; reason?: unknown; code?: unknown };
    if (typeof o.message === 'string') return o.message;
    if (typeof o.reason === 'string') return o.reason;
    if (typeof o.code === 'string') return o.code;
  }
  return String(r);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

// Three significant decimals are plenty on a page and keep the snapshot small.
function round(v: number): number {
  return Number.isFinite(v) ? Math.round(v * 1000) / 1000 : 0;
}
