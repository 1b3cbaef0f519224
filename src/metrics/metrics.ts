// The neutral metrics layer: it reads what it is given (pools, keyed pools, HTTP pools,
// channels, breakers, rate limiters, semaphores, JSON streams) into points under the names
// of names.ts, and keeps the duration histograms fed by pool events. The Prometheus and
// OpenTelemetry adapters read it; it imports neither, nor any module with a dependency.
import { type Clock, realClock } from '../internal/clock.js';
import { WeirError } from '../internal/errors.js';
import { kKeyedPool } from '../internal/introspect.js';
import { checkKeys, checkObject, optionKeys } from '../internal/options.js';
import type { JsonStreamMetrics } from '../json/metered.js';
import type { PoolStats } from '../pool/index.js';
import {
  type Attributes,
  HistogramCell,
  type HistogramPoint,
  type MetricPoint,
  type Points,
} from './histogram.js';
import { ATTR, DEFINITIONS, DURATION_BUCKETS, METRICS, type MetricDefinition } from './names.js';
import {
  type BreakerSource,
  type ChannelSource,
  type KeyedSource,
  type LimiterSource,
  type PoolSource,
  readPool,
  type SemaphoreSource,
  toPoolSource,
} from './sources.js';

export type { Attributes, HistogramPoint, MetricPoint } from './histogram.js';

/** What {@link Metrics.collect} returns for one metric. */
export type MetricFamily =
  | {
      definition: MetricDefinition & { kind: 'counter' | 'updowncounter' | 'gauge' };
      points: MetricPoint[];
    }
  | { definition: MetricDefinition & { kind: 'histogram' }; points: HistogramPoint[] };

/**
 * Options of {@link createMetrics}.
 * @example
 * createMetrics({ clock: new FakeClock() });
 */
export interface MetricsOptions {
  /** Source of time for `use_time` and connection durations. @default the real clock */
  clock?: Clock;
  /** Bucket boundaries of every duration histogram, in seconds, ascending. @default DURATION_BUCKETS */
  buckets?: readonly number[];
}

/** @internal Told of each histogram observation (the OpenTelemetry adapter records it). */
export type Observer = (
  definition: MetricDefinition,
  attributes: Attributes,
  value: number,
) => void;

interface Tracked {
  /** Adds the source's current points. */
  read(out: Points): void;
  /** Stops listening to the source. */
  detach(): void;
  names: string[];
}

const OPTION_KEYS = optionKeys<MetricsOptions>({ clock: 1, buckets: 1 });
const NAME_KEYS = optionKeys<{ name?: string }>({ name: 1 });

/**
 * The metrics of a set of weir objects, under OpenTelemetry's names (see docs/metrics.md):
 * add pools, channels, breakers… and read them with {@link Metrics.collect}, or hand the
 * whole set to `weir/metrics/prometheus` or `weir/metrics/otel`. Reading costs a `stats()`
 * per pool at scrape time; the histograms cost a listener call per acquire, release and
 * create of the pools added. Create one with {@link createMetrics}.
 * @example
 * const metrics = createMetrics();
 * metrics.addPool(db);
 * metrics.addBreaker(breaker);
 * registerPrometheus(metrics); // or registerOtel(metrics)
 */
export class Metrics {
  readonly #clock: Clock;
  readonly #buckets: readonly number[];
  readonly #tracked = new Map<object, Tracked>();
  readonly #names = new Map<string, object>();
  readonly #cells = new Map<string, Map<string, HistogramCell>>();
  readonly #observers = new Set<Observer>();
  readonly #streams = new Map<string, JsonStreamMetrics>();

  /** @internal Use {@link createMetrics}. */
  constructor(options?: MetricsOptions) {
    checkObject('options', options);
    checkKeys('createMetrics', options, OPTION_KEYS);
    this.#clock = options?.clock ?? realClock;
    const b = options?.buckets ?? DURATION_BUCKETS;
    if (
      !Array.isArray(b) ||
      b.length === 0 ||
      b.some((x, i) => typeof x !== 'number' || !Number.isFinite(x) || (i > 0 && x <= b[i - 1]!))
    ) {
      throw new RangeError(
        'Expected `buckets` to be a non-empty ascending array of finite seconds',
      );
    }
    this.#buckets = Object.freeze([...b]);
  }

  /** Every metric this layer reports, whether or not anything feeds it yet. */
  get definitions(): readonly MetricDefinition[] {
    return DEFINITIONS;
  }

  /** The bucket boundaries of the duration histograms, in seconds. */
  get buckets(): readonly number[] {
    return this.#buckets;
  }

  /**
   * Adds a pool: a `weir/pool` Pool, a ManagedPool, or a client on one (pg, libsql, ws,
   * wasm pools). Reports `db.client.connection.*` (count by state, limit, idle max/min,
   * pending requests, timeouts, and the create/wait/use time histograms), plus reconnects
   * and buffered bytes for a ws pool and memory for a wasm pool. Adding it again changes
   * nothing. Returns a function that removes it.
   * @throws {WeirError} `ERR_METRICS_DUPLICATE_NAME` when another pool is added under the same name.
   * @throws {TypeError} for something that is not a pool, or bad options.
   */
  addPool(
    pool: PoolSource | { readonly pool: PoolSource; stats(): PoolStats },
    options?: { name?: string },
  ): () => void {
    checkObject('options', options);
    checkKeys('Metrics.addPool', options, NAME_KEYS);
    const existing = this.#tracked.get(pool);
    if (existing !== undefined) return () => this.#remove(pool);
    const { events, stats } = toPoolSource(pool);
    const name = options?.name ?? stats().name;
    const attrs: Attributes = { [ATTR.poolName]: name };
    this.#claim(pool, 'pool', name);
    const detach = this.#attachPool(events, attrs);
    this.#tracked.set(pool, {
      read: (out) => readPool(out, stats(), attrs),
      detach,
      names: [`pool:${name}`],
    });
    return () => this.#remove(pool);
  }

  /**
   * Adds a keyed pool: each key's pool as {@link Metrics.addPool} reports it, under its own
   * name (`<keyed name> <key>`), keys made later included; evicted keys drop out.
   * @throws {TypeError} for something that is not a keyed pool.
   */
  addKeyedPool(keyed: KeyedSource): () => void {
    if (this.#tracked.has(keyed)) return () => this.#remove(keyed);
    if (typeof keyed?.entries !== 'function' || typeof keyed.on !== 'function') {
      throw new TypeError('Expected a KeyedPool');
    }
    const attached = new Map<PoolSource, () => void>();
    const attach = (p: PoolSource): void => {
      if (!attached.has(p)) attached.set(p, this.#attachPool(p, { [ATTR.poolName]: p.name }));
    };
    for (const [, p] of keyed.entries()) attach(p);
    const offCreate = keyed.on('poolCreate', (e) => attach(e.pool));
    const offEvict = keyed.on('poolEvict', (e) => {
      attached.get(e.pool)?.();
      attached.delete(e.pool);
    });
    this.#tracked.set(keyed, {
      read: (out) => {
        for (const [, p] of keyed.entries()) readPool(out, p.stats(), { [ATTR.poolName]: p.name });
      },
      detach: () => {
        offCreate();
        offEvict();
        for (const off of attached.values()) off();
        attached.clear();
      },
      names: [],
    });
    return () => this.#remove(keyed);
  }

  /**
   * Adds a `weir/http` pool: `http.client.open_connections` (active and idle, per
   * `server.address` and `server.port`) and `http.client.connection.duration` of the
   * connections that closed.
   * @throws {TypeError} for something that is not an HttpPool.
   */
  addHttpPool(http: object): () => void {
    if (this.#tracked.has(http)) return () => this.#remove(http);
    const getKeyed = (http as { [kKeyedPool]?: () => KeyedSource })[kKeyedPool];
    if (typeof getKeyed !== 'function') throw new TypeError('Expected an HttpPool of weir/http');
    const keyed = getKeyed.call(http);
    const attached = new Map<PoolSource, () => void>();
    const attach = (p: PoolSource): void => {
      if (attached.has(p)) return;
      const cell = this.#cell(METRICS.httpDuration, serverOf(p));
      const born = new WeakMap<object, number>();
      const offs = [
        p.on('create', (e) => born.set(e.resource as object, this.#clock.now())),
        p.on('destroy', (e) => {
          const t = born.get(e.resource as object);
          if (t === undefined) return;
          born.delete(e.resource as object);
          this.#observe(METRICS.httpDuration, cell, (this.#clock.now() - t) / 1000);
        }),
      ];
      attached.set(p, () => {
        for (const off of offs) off();
      });
    };
    for (const [, p] of keyed.entries()) attach(p);
    const offCreate = keyed.on('poolCreate', (e) => attach(e.pool));
    this.#tracked.set(http, {
      read: (out) => {
        const sums = new Map<string, MetricPoint>();
        for (const [, p] of keyed.entries()) {
          const s = p.stats();
          const server = serverOf(p);
          for (const [state, n] of [
            ['active', s.active],
            ['idle', s.idle],
          ] as const) {
            const key = `${state} ${server[ATTR.serverAddress]} ${server[ATTR.serverPort]}`;
            const point = sums.get(key);
            if (point !== undefined) point.value += n;
            else sums.set(key, { attributes: { [ATTR.httpState]: state, ...server }, value: n });
          }
        }
        push(out, METRICS.httpOpen, ...sums.values());
      },
      detach: () => {
        offCreate();
        for (const off of attached.values()) off();
      },
      names: [],
    });
    return () => this.#remove(http);
  }

  /**
   * Adds a channel under `name`: `weir.channel.length`, `.capacity`, `.blocked_senders`,
   * `.blocked_receivers`.
   * @throws {WeirError} `ERR_METRICS_DUPLICATE_NAME` when another channel has the name.
   * @throws {TypeError} without a `name`.
   */
  addChannel(channel: ChannelSource, options: { name: string }): () => void {
    const name = requireName('Metrics.addChannel', options);
    return this.#addSimple(channel, 'channel', name, (out) => {
      const a = { [ATTR.channelName]: name };
      push(out, METRICS.channelLength, { attributes: a, value: channel.length });
      push(out, METRICS.channelCapacity, { attributes: a, value: channel.capacity });
      push(out, METRICS.channelSenders, { attributes: a, value: channel.blockedSenders });
      push(out, METRICS.channelReceivers, { attributes: a, value: channel.blockedReceivers });
    });
  }

  /**
   * Adds a circuit breaker: `weir.breaker.state` (1 for its state, 0 for the others) and
   * `weir.breaker.transitions` by the state moved to, counted from now.
   * @throws {WeirError} `ERR_METRICS_DUPLICATE_NAME` when another breaker has the name.
   */
  addBreaker(breaker: BreakerSource, options?: { name?: string }): () => void {
    checkKeys('Metrics.addBreaker', options, NAME_KEYS);
    if (this.#tracked.has(breaker)) return () => this.#remove(breaker);
    const name = options?.name ?? breaker.name;
    const moves = new Map<string, number>();
    let off: (() => void) | undefined;
    const remove = this.#addSimple(
      breaker,
      'breaker',
      name,
      (out) => {
        for (const state of ['closed', 'open', 'half-open']) {
          const attributes = { [ATTR.breakerName]: name, [ATTR.breakerState]: state };
          push(out, METRICS.breakerState, { attributes, value: breaker.state === state ? 1 : 0 });
        }
        for (const [state, value] of moves) {
          const attributes = { [ATTR.breakerName]: name, [ATTR.breakerState]: state };
          push(out, METRICS.breakerTransitions, { attributes, value });
        }
      },
      () => off?.(),
    );
    off = breaker.on('stateChange', (e) => moves.set(e.to, (moves.get(e.to) ?? 0) + 1));
    return remove;
  }

  /**
   * Adds a rate limiter: `weir.rate_limiter.waiting` and `.rejected`.
   * @throws {WeirError} `ERR_METRICS_DUPLICATE_NAME` when another limiter has the name.
   */
  addRateLimiter(limiter: LimiterSource, options?: { name?: string }): () => void {
    checkKeys('Metrics.addRateLimiter', options, NAME_KEYS);
    const name = options?.name ?? limiter.name;
    const a = { [ATTR.limiterName]: name };
    return this.#addSimple(limiter, 'limiter', name, (out) => {
      push(out, METRICS.limiterWaiting, { attributes: a, value: limiter.waiting });
      push(out, METRICS.limiterRejected, { attributes: a, value: limiter.rejected });
    });
  }

  /**
   * Adds a semaphore (bulkhead): `weir.semaphore.waiting`, `.rejected`, `.available`.
   * @throws {WeirError} `ERR_METRICS_DUPLICATE_NAME` when another semaphore has the name.
   */
  addSemaphore(semaphore: SemaphoreSource, options?: { name?: string }): () => void {
    checkKeys('Metrics.addSemaphore', options, NAME_KEYS);
    const name = options?.name ?? semaphore.name;
    const a = { [ATTR.semaphoreName]: name };
    return this.#addSimple(semaphore, 'semaphore', name, (out) => {
      push(out, METRICS.semaphoreWaiting, { attributes: a, value: semaphore.waiting });
      push(out, METRICS.semaphoreRejected, { attributes: a, value: semaphore.rejected });
      push(out, METRICS.semaphoreAvailable, { attributes: a, value: semaphore.available });
    });
  }

  /**
   * The `metrics` hooks for `jsonArray`/`ndjson` streams of one kind, `name` (a route, not
   * a request): `weir.json.stream.chunks`, `.bytes`, `.errors` and the `.duration`
   * histogram by outcome. The same name returns the same hooks; share them between streams.
   * @example
   * await writeTo(res, jsonArray(rows, { metrics: metrics.jsonStream('orders') }));
   */
  jsonStream(name: string): JsonStreamMetrics {
    if (typeof name !== 'string' || name === '') {
      throw new TypeError('Expected `name` to be a non-empty string');
    }
    const known = this.#streams.get(name);
    if (known !== undefined) return known;
    const a = { [ATTR.streamName]: name };
    const totals = { chunks: 0, bytes: 0, errors: 0 };
    const cells = {
      complete: this.#cell(METRICS.streamDuration, { ...a, [ATTR.streamOutcome]: 'complete' }),
      error: this.#cell(METRICS.streamDuration, { ...a, [ATTR.streamOutcome]: 'error' }),
      cancelled: this.#cell(METRICS.streamDuration, { ...a, [ATTR.streamOutcome]: 'cancelled' }),
    };
    const hooks: JsonStreamMetrics = {
      clock: this.#clock,
      chunk: (bytes) => {
        totals.chunks++;
        totals.bytes += bytes;
      },
      error: () => {
        totals.errors++;
      },
      end: (e) => this.#observe(METRICS.streamDuration, cells[e.outcome], e.durationMs / 1000),
    };
    this.#streams.set(name, hooks);
    this.#tracked.set(hooks, {
      read: (out) => {
        push(out, METRICS.streamChunks, { attributes: a, value: totals.chunks });
        push(out, METRICS.streamBytes, { attributes: a, value: totals.bytes });
        push(out, METRICS.streamErrors, { attributes: a, value: totals.errors });
      },
      detach: () => {},
      names: [],
    });
    return hooks;
  }

  /**
   * Every metric's points now, in {@link Metrics.definitions} order (a metric nothing
   * feeds has no point). Histograms are cumulative since their first observation.
   */
  collect(): MetricFamily[] {
    const out: Points = new Map();
    for (const t of this.#tracked.values()) t.read(out);
    return DEFINITIONS.map((definition) => {
      if (definition.kind === 'histogram') {
        const cells = this.#cells.get(definition.name);
        const points = cells === undefined ? [] : [...cells.values()].map((c) => c.point());
        return { definition, points } as MetricFamily;
      }
      return { definition, points: out.get(definition.name) ?? [] } as MetricFamily;
    });
  }

  /** Removes everything added and stops listening to it (histogram totals are kept). */
  clear(): void {
    for (const source of [...this.#tracked.keys()]) this.#remove(source);
    this.#streams.clear();
  }

  /** @internal Adds an observer of every histogram observation; returns its remover. */
  observe(observer: Observer): () => void {
    this.#observers.add(observer);
    return () => this.#observers.delete(observer);
  }

  // ---- parts ---------------------------------------------------------------------

  #addSimple(
    source: object,
    kind: string,
    name: string,
    read: (out: Points) => void,
    detach: () => void = () => {},
  ): () => void {
    if (!this.#tracked.has(source)) {
      this.#claim(source, kind, name);
      this.#tracked.set(source, { read, detach, names: [`${kind}:${name}`] });
    }
    return () => this.#remove(source);
  }

  /** Reserves `kind:name` for `source`: two sources under one name would print one series twice. */
  #claim(source: object, kind: string, name: string): void {
    if (typeof name !== 'string' || name === '') {
      throw new TypeError(`Expected the ${kind}'s \`name\` to be a non-empty string`);
    }
    const holder = this.#names.get(`${kind}:${name}`);
    if (holder !== undefined && holder !== source) {
      throw new WeirError(
        'ERR_METRICS_DUPLICATE_NAME',
        `Another ${kind} named "${name}" is already in these metrics; give each its own \`name\``,
      );
    }
    this.#names.set(`${kind}:${name}`, source);
  }

  #remove(source: object): void {
    const t = this.#tracked.get(source);
    if (t === undefined) return;
    this.#tracked.delete(source);
    for (const n of t.names) this.#names.delete(n);
    t.detach();
  }

  /** The create, wait and use time histograms of one pool, fed by its events. */
  #attachPool(pool: PoolEvents_, attrs: Attributes): () => void {
    const create = this.#cell(METRICS.createTime, attrs);
    const wait = this.#cell(METRICS.waitTime, attrs);
    const use = this.#cell(METRICS.useTime, attrs);
    const clock = this.#clock;
    const lent = new WeakMap<object, number>();
    const offs = [
      pool.on('create', (e) => this.#observe(METRICS.createTime, create, e.durationMs / 1000)),
      pool.on('acquire', (e) => {
        if (!Number.isNaN(e.waitedMs)) this.#observe(METRICS.waitTime, wait, e.waitedMs / 1000);
        lent.set(e.lease, clock.now());
      }),
      pool.on('release', (e) => {
        const at = lent.get(e.lease);
        if (at === undefined) return;
        lent.delete(e.lease);
        this.#observe(METRICS.useTime, use, (clock.now() - at) / 1000);
      }),
    ];
    return () => {
      for (const off of offs) off();
    };
  }

  #cell(d: MetricDefinition, attributes: Attributes): HistogramCell {
    let cells = this.#cells.get(d.name);
    if (cells === undefined) this.#cells.set(d.name, (cells = new Map()));
    const key = d.attributes.map((k) => String(attributes[k])).join('\u0000');
    let cell = cells.get(key);
    if (cell === undefined) cells.set(key, (cell = new HistogramCell(attributes, this.#buckets)));
    return cell;
  }

  #observe(d: MetricDefinition, cell: HistogramCell, seconds: number): void {
    cell.observe(seconds);
    for (const o of this.#observers) o(d, cell.attributes, seconds);
  }
}

type PoolEvents_ = Pick<PoolSource, 'on'>;

function push(out: Points, d: MetricDefinition, ...points: MetricPoint[]): void {
  const list = out.get(d.name);
  if (list === undefined) out.set(d.name, points);
  else list.push(...points);
}

function requireName(where: string, options: { name: string } | undefined): string {
  checkObject('options', options);
  checkKeys(where, options, NAME_KEYS);
  const name = options?.name;
  if (typeof name !== 'string' || name === '') {
    throw new TypeError(`${where} needs a \`name\` (a non-empty string) for the series' label`);
  }
  return name;
}

/** `server.address` and `server.port` of an HTTP origin's pool (its manager knows its origin). */
function serverOf(p: PoolSource): Attributes {
  const o = (p as { manager?: { origin?: { hostname: string; port: number } } }).manager?.origin;
  return o === undefined
    ? { [ATTR.serverAddress]: p.name, [ATTR.serverPort]: 0 }
    : { [ATTR.serverAddress]: o.hostname, [ATTR.serverPort]: o.port };
}

/**
 * Creates an empty set of metrics to add weir objects to.
 * @throws {TypeError|RangeError} for bad options, naming the option.
 * @example
 * const metrics = createMetrics();
 * metrics.addPool(pgPool);
 * const families = metrics.collect();
 */
export function createMetrics(options?: MetricsOptions): Metrics {
  return new Metrics(options);
}
