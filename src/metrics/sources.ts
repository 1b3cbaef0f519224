// What the metrics layer reads of each kind of object, as structural types (so it imports
// no module that has a dependency), and how a pool's stats become points.
import type { PoolEvents, PoolStats } from '../pool/index.js';
import type { Attributes, Points } from './histogram.js';
import { ATTR, METRICS, type MetricDefinition } from './names.js';

/** A pool as the metrics layer reads it: a `weir/pool` Pool or a ManagedPool. */
export interface PoolSource {
  readonly name: string;
  stats(): PoolStats;
  on<K extends keyof PoolEvents<unknown>>(event: K, listener: PoolEvents<unknown>[K]): () => void;
}

/** A keyed pool as the metrics layer reads it. */
export interface KeyedSource {
  entries(): IterableIterator<[unknown, PoolSource]>;
  on(event: 'poolCreate' | 'poolEvict', listener: (e: { pool: PoolSource }) => void): () => void;
}

/** A channel's read-only figures. */
export interface ChannelSource {
  readonly length: number;
  readonly capacity: number;
  readonly blockedSenders: number;
  readonly blockedReceivers: number;
}

/** A circuit breaker's state and its changes. */
export interface BreakerSource {
  readonly name: string;
  readonly state: string;
  on(event: 'stateChange', listener: (e: { from: string; to: string }) => void): () => void;
}

/** A rate limiter's queue and refusals. */
export interface LimiterSource {
  readonly name: string;
  readonly waiting: number;
  readonly rejected: number;
}

/** A semaphore's queue, refusals and free permits. */
export interface SemaphoreSource {
  readonly name: string;
  readonly waiting: number;
  readonly rejected: number;
  readonly available: number;
}

/**
 * @internal The events and stats of what `addPool` was given: a pool, or a client that
 * holds one as `pool` (its own `stats()` may add figures: ws, wasm).
 * @throws {TypeError} for anything else.
 */
export function toPoolSource(p: unknown): { events: PoolSource; stats: () => PoolStats } {
  const o = p as { pool?: PoolSource; stats?: () => PoolStats; on?: unknown };
  if (typeof o !== 'object' || o === null || typeof o.stats !== 'function') {
    throw new TypeError('Expected a pool (a weir Pool, ManagedPool, or a client built on one)');
  }
  const events = o.pool !== undefined && typeof o.pool.on === 'function' ? o.pool : o;
  if (typeof events.on !== 'function') {
    throw new TypeError('Expected a pool (a weir Pool, ManagedPool, or a client built on one)');
  }
  return { events: events as PoolSource, stats: () => o.stats!() };
}

function add(out: Points, d: MetricDefinition, attributes: Attributes, value: number): void {
  const list = out.get(d.name);
  const point = { attributes, value };
  if (list === undefined) out.set(d.name, [point]);
  else list.push(point);
}

/** @internal Adds the points of one pool's stats (and a ws or wasm pool's own figures). */
export function readPool(out: Points, s: PoolStats, a: Attributes): void {
  const name = a[ATTR.poolName]!;
  add(
    out,
    METRICS.connectionCount,
    { [ATTR.poolName]: name, [ATTR.connectionState]: 'idle' },
    s.idle,
  );
  add(
    out,
    METRICS.connectionCount,
    { [ATTR.poolName]: name, [ATTR.connectionState]: 'used' },
    s.active,
  );
  // The pool keeps up to `max` idle (no separate idle cap) and at least `min` warm.
  add(out, METRICS.idleMax, a, s.max);
  add(out, METRICS.idleMin, a, s.min);
  add(out, METRICS.limit, a, s.max);
  add(out, METRICS.pending, a, s.pending);
  add(out, METRICS.timeouts, a, s.timeouts);
  add(out, METRICS.createErrors, a, s.createErrors);
  const ws = s as PoolStats & { reconnects?: unknown; bufferedBytes?: unknown };
  if (typeof ws.reconnects === 'number') {
    add(out, METRICS.wsReconnects, a, ws.reconnects);
    add(out, METRICS.wsBuffered, a, Number(ws.bufferedBytes) || 0);
  }
  const memory = (
    s as { memory?: { inUseBytes?: unknown; idleBytes?: unknown; limitBytes?: unknown } }
  ).memory;
  if (memory !== undefined && typeof memory.inUseBytes === 'number') {
    add(
      out,
      METRICS.wasmMemory,
      { [ATTR.poolName]: name, [ATTR.wasmMemoryState]: 'used' },
      memory.inUseBytes,
    );
    add(
      out,
      METRICS.wasmMemory,
      { [ATTR.poolName]: name, [ATTR.wasmMemoryState]: 'idle' },
      Number(memory.idleBytes),
    );
    if (Number.isFinite(memory.limitBytes))
      add(out, METRICS.wasmMemoryLimit, a, Number(memory.limitBytes));
  }
}
