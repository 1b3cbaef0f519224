// One logical HTTP service over many endpoints grouped by region: requests are addressed
// by path and the pool picks the endpoint. Routing reads what real traffic measured
// (peak-EWMA latency, requests in flight, failures); nothing here probes or runs a timer.
import { Dispatcher } from 'undici';
import type { Clock } from '../internal/clock.js';
import { Emitter } from '../internal/emitter.js';
import { describe } from '../internal/errors.js';
import type { BalancedHttpPoolOptions } from './balancer-options.js';
import { type ResolvedBalancer, resolveBalancer } from './balancer-options.js';
import { createHttpPool, type HttpPool } from './dispatcher.js';
import { Endpoint, Region } from './endpoint.js';
import { HttpError } from './errors.js';
import { type LegacyHandler, toLegacy } from './handler.js';
import type { EndpointState } from './outlier.js';
import { peakEwmaCost } from './peak-ewma.js';
import { type RegionChange, RegionSelector } from './regions.js';
import type { HttpResponse } from './response.js';
import { countsAgainstEndpoint, RoutedRequest, type Router } from './routed.js';
import type { HttpPoolStats, HttpRequestOptions } from './types.js';

/** The `eject` event: an endpoint was marked unhealthy. */
export interface EjectEvent {
  /** The endpoint, as `scheme://host:port`. */
  endpoint: string;
  region: string;
  /**
   * Taken out of rotation. False when `maxEjectionPercent` (or being the last endpoint in
   * rotation) kept it in: it is marked unhealthy and still routed to.
   */
  ejected: boolean;
  /** How long until it is tried again, on probation. */
  durationMs: number;
  /** Its ejections so far (the multiplier of `baseEjectionMs`). */
  ejections: number;
  /** The failure that tipped it: an error code, or `status 503`. */
  cause: string;
}

/** The `restore` event: an unhealthy endpoint's time out is up and it takes traffic again, on probation. */
export interface RestoreEvent {
  endpoint: string;
  region: string;
}

/** Events of a {@link BalancedHttpPool}. */
export interface BalancedHttpPoolEvents {
  /** The regions traffic goes to changed. */
  regionChange: (change: RegionChange) => void;
  /** An endpoint was marked unhealthy (and taken out of rotation unless `ejected` is false). */
  eject: (event: EjectEvent) => void;
  /** An unhealthy endpoint was put back into rotation on probation. */
  restore: (event: RestoreEvent) => void;
}

/** What a balanced pool knows about one endpoint. */
export interface EndpointStats {
  /** `scheme://host:port`. */
  endpoint: string;
  region: string;
  /** Peak-EWMA latency of its successful answers (to the response headers), in ms; NaN before the first. */
  latencyMs: number;
  /** Requests in flight through the balanced pool. */
  pending: number;
  /** `healthy`, `probation`, `unhealthy` (marked but kept in rotation by the cap) or `ejected`. */
  state: EndpointState;
  /** Out of rotation now. */
  ejected: boolean;
  /** Times it was ejected (the multiplier of the next ejection's time). */
  ejections: number;
  /** Requests sent to it (a retry elsewhere counts for both). */
  requests: number;
  /** Requests that failed on it: connect errors, broken connections, timeouts, 5xx. */
  failures: number;
  /** Failures in a row (successes in a row while it recovers). */
  consecutive: number;
}

/** What a balanced pool knows about one region. */
export interface RegionStats {
  name: string;
  /** It has an endpoint that is healthy or on probation. */
  healthy: boolean;
  /** Traffic goes to it. */
  active: boolean;
  /** The lowest latency average of its healthy endpoints, in ms; NaN when none is measured. */
  latencyMs: number;
  endpoints: number;
}

/** A snapshot of a {@link BalancedHttpPool}. */
export interface BalancedHttpPoolStats {
  /** The regions traffic goes to. */
  active: string[];
  /** No endpoint is healthy (see the `panic` option). */
  panic: boolean;
  regions: RegionStats[];
  endpoints: EndpointStats[];
  /** Requests sent to another endpoint after the first could not take them. */
  retries: number;
  /** Requests sent to a region out of use to measure it (`exploreShare`). */
  explored: number;
  /** Times the regions in use changed. */
  regionChanges: number;
  /** The connections of every endpoint, from the pool of connections. */
  http: HttpPoolStats;
}

/** The service's one undici `Dispatcher` face, from {@link BalancedHttpPool.dispatcher}. */
class BalancedDispatcher extends Dispatcher {
  readonly #pool: BalancedHttpPool;
  readonly #dispatch: Dispatcher['dispatch'];

  constructor(pool: BalancedHttpPool, dispatch: Dispatcher['dispatch']) {
    super();
    this.#pool = pool;
    this.#dispatch = dispatch;
  }

  override dispatch(
    options: Dispatcher.DispatchOptions,
    handler: Dispatcher.DispatchHandler,
  ): boolean {
    return this.#dispatch(options, handler);
  }

  override close(): Promise<void>;
  override close(callback: () => void): void;
  override close(callback?: unknown): Promise<void> | void {
    const p = this.#pool.close();
    if (typeof callback === 'function') void p.then(() => (callback as () => void)());
    else return p;
  }

  override destroy(): Promise<void>;
  override destroy(err: Error | null): Promise<void>;
  override destroy(callback: () => void): void;
  override destroy(err: Error | null, callback: () => void): void;
  override destroy(a?: unknown, b?: unknown): Promise<void> | void {
    const p = this.#pool.destroy();
    const cb = typeof a === 'function' ? a : b;
    if (typeof cb === 'function') void p.then(() => (cb as () => void)());
    else return p;
  }
}

/**
 * One logical HTTP service over many endpoints grouped by region. `request('/path')`
 * picks the endpoint: among the regions in use (the preferred one while it is healthy
 * and not much slower than the fastest, else every healthy region not much slower than
 * the fastest), two endpoints at random and the cheaper by peak-EWMA latency times
 * requests in flight (or by `least-pending`, or `round-robin`). Latency is measured from
 * real requests on the pool's clock. Endpoints that keep failing are ejected for a time
 * that grows with each ejection (never the last in rotation, never more than
 * `maxEjectionPercent`), and come back on probation. An idempotent request that could not
 * be sent is sent to another endpoint, another region first. Connections are pooled per
 * endpoint by one `HttpPool`, with its options.
 *
 * It is a separate class rather than an `HttpPool` mode because it is addressed
 * differently: by path, with the endpoint chosen for the caller, where an `HttpPool`
 * request names its origin. Its `dispatcher` is an undici `Dispatcher` that routes every
 * request it is given to the service, whatever origin it names. Create one with
 * {@link createBalancedHttpPool}.
 */
export class BalancedHttpPool extends Emitter<BalancedHttpPoolEvents> {
  readonly #http: HttpPool;
  readonly #o: ResolvedBalancer;
  readonly #clock: Clock;
  readonly #endpoints: Endpoint[] = [];
  readonly #selector: RegionSelector;
  /** An origin of the service, that `request` URLs are spelt with before routing. */
  readonly #base: string;
  readonly #routable: Endpoint[] = [];
  #rr = 0;
  #retries = 0;
  #explored = 0;
  #closed = false;
  #dispatcher: BalancedDispatcher | undefined;

  /** @internal Use {@link createBalancedHttpPool}. */
  constructor(options: BalancedHttpPoolOptions) {
    super();
    const o = resolveBalancer(options);
    this.#o = o;
    this.#http = createHttpPool(o.http);
    this.#clock = this.#http.clock;
    this.#router = this.#makeRouter();
    const regions: Region[] = [];
    let prefer: Region | undefined;
    for (const r of o.regions) {
      const region = new Region(r.name);
      for (const origin of r.origins) {
        const e = new Endpoint(origin, region, o.decayMs);
        region.endpoints.push(e);
        this.#endpoints.push(e);
      }
      regions.push(region);
      if (r.name === o.prefer) prefer = region;
    }
    this.#base = this.#endpoints[0]!.origin.key;
    this.#selector = new RegionSelector(
      regions,
      prefer,
      { ratio: o.ratio, marginMs: o.marginMs, holdMs: o.holdMs },
      (change) => this.emit('regionChange', change),
    );
    this.#selector.update(this.#clock.now());
  }

  readonly #router: Router;

  #makeRouter(): Router {
    return {
      clock: this.#clock,
      retries: this.#o.retries,
      pick: (tried) => this.#pick(tried),
      send: (endpoint, opts, handler) => {
        this.#http.dispatch(
          { ...opts, origin: endpoint.origin.key },
          handler as Dispatcher.DispatchHandler,
        );
      },
      answered: (endpoint, status, ms) => this.#answered(endpoint, status, ms),
      failed: (endpoint, error, ms) => {
        if (countsAgainstEndpoint(error)) this.#failed(endpoint, ms, codeOrName(error));
      },
      retried: () => {
        this.#retries++;
      },
    };
  }

  readonly #dispatch = (
    opts: Dispatcher.DispatchOptions,
    handler: Dispatcher.DispatchHandler,
  ): boolean => {
    const h: LegacyHandler = toLegacy(handler);
    if (this.#closed) {
      h.onError?.(new HttpError('ERR_HTTP_CLOSED', this.#base, 'The balanced HTTP pool is closed'));
      return true;
    }
    new RoutedRequest(this.#router, opts, h).start();
    return true;
  };

  /**
   * Sends a request for `path` (with its query) to an endpoint of the service and resolves
   * at the response headers; the body streams after. Options, retries on a stale
   * keep-alive socket and errors are those of `HttpPool.request`; in addition, an
   * idempotent request with a replayable body that could not be sent to an endpoint
   * (`ERR_HTTP_CONNECT`, `ERR_HTTP_CONNECT_TIMEOUT`, `ERR_HTTP_TLS`, `ERR_CIRCUIT_OPEN`,
   * `ERR_HTTP_CONNECTION_RETIRED`) is sent to up to `retries` others, another region first.
   * @throws {TypeError} for a path that does not start with `/`, and for bad options.
   * @throws {HttpError} `ERR_HTTP_NO_HEALTHY_UPSTREAM` with `panic: 'fail'` when no
   *   endpoint is healthy; `ERR_HTTP_CLOSED` after `close()`; and what `HttpPool.request`
   *   throws, from the last endpoint tried.
   * @example
   * const res = await api.request('/items?limit=10', { signal });
   * const items = await res.body.json();
   */
  request(path: string, options?: HttpRequestOptions): Promise<HttpResponse> {
    if (typeof path !== 'string' || !path.startsWith('/')) {
      return Promise.reject(
        new TypeError(
          `Expected a path starting with '/' (the pool picks the origin), got ${describe(path)}`,
        ),
      );
    }
    if (this.#closed) {
      return Promise.reject(
        new HttpError('ERR_HTTP_CLOSED', this.#base, 'The balanced HTTP pool is closed'),
      );
    }
    return this.#http.requestThrough(this.#dispatch, this.#base + path, options);
  }

  /**
   * The service as an undici `Dispatcher`, for `undici.request`, `fetch` and
   * interceptors: every request it dispatches goes to an endpoint this pool picks,
   * whatever origin the request names (`fetch('http://api/items', { dispatcher })`).
   */
  get dispatcher(): Dispatcher {
    this.#dispatcher ??= new BalancedDispatcher(this, this.#dispatch);
    return this.#dispatcher;
  }

  // ---- routing --------------------------------------------------------------------

  #pick(tried: readonly Endpoint[] | null): Endpoint | null | HttpError {
    const now = this.#clock.now();
    this.#refresh(now);
    const sel = this.#selector;
    sel.update(now);
    const list = this.#routable;
    list.length = 0;
    if (sel.panic) {
      if (this.#o.panic === 'fail') {
        return tried === null
          ? new HttpError(
              'ERR_HTTP_NO_HEALTHY_UPSTREAM',
              this.#base,
              `No endpoint of the service is healthy (${this.#endpoints.length} unhealthy); requests fail until one's time out is up`,
            )
          : null;
      }
      for (const e of this.#endpoints) if (tried === null || !tried.includes(e)) list.push(e);
      return this.#choose(list, now);
    }
    if (tried !== null) return this.#pickRetry(tried, now);
    let from = sel.candidates;
    const share = this.#o.exploreShare;
    if (share > 0 && this.#o.random() < share) {
      const region = this.#exploreRegion();
      if (region !== null) {
        this.#explored++;
        from = region.endpoints;
      }
    }
    for (const e of from) if (!e.health.ejected) list.push(e);
    return this.#choose(list, now);
  }

  /** A healthy region out of use, at random; null when every healthy region is in use. */
  #exploreRegion(): Region | null {
    let n = 0;
    for (const r of this.#selector.regions) if (r.healthy && !r.active) n++;
    if (n === 0) return null;
    let k = Math.floor(this.#o.random() * n);
    for (const r of this.#selector.regions) {
      if (r.healthy && !r.active && k-- === 0) return r;
    }
    return null;
  }

  /** Another endpoint for a request that could not be sent: a region not tried yet first. */
  #pickRetry(tried: readonly Endpoint[], now: number): Endpoint | null {
    const list = this.#routable;
    for (const e of this.#endpoints) {
      if (e.health.ejected || !e.region.healthy || tried.includes(e)) continue;
      if (!tried.some((t) => t.region === e.region)) list.push(e);
    }
    if (list.length === 0) {
      for (const e of this.#endpoints) if (!e.health.ejected && !tried.includes(e)) list.push(e);
    }
    return this.#choose(list, now);
  }

  #choose(list: readonly Endpoint[], now: number): Endpoint | null {
    const n = list.length;
    if (n === 0) return null;
    if (n === 1) return list[0]!;
    const routing = this.#o.routing;
    if (routing === 'round-robin') return list[this.#rr++ % n]!;
    const random = this.#o.random;
    const i = Math.min(n - 1, Math.floor(random() * n));
    let j = Math.min(n - 2, Math.floor(random() * (n - 1)));
    if (j >= i) j++;
    const a = list[i]!;
    const b = list[j]!;
    let ca: number;
    let cb: number;
    if (routing === 'least-pending') {
      ca = a.pending;
      cb = b.pending;
      if (ca === cb) {
        ca = a.load.decayed(now);
        cb = b.load.decayed(now);
      }
    } else {
      ca = peakEwmaCost(a.load.decayed(now), a.load.samples > 0, a.pending);
      cb = peakEwmaCost(b.load.decayed(now), b.load.samples > 0, b.pending);
    }
    return cb < ca ? b : a;
  }

  /** Puts endpoints whose time out is up back into rotation, on probation. */
  #refresh(now: number): void {
    if (this.#o.outlier === false) return;
    for (const e of this.#endpoints) {
      if (e.health.lapse(now)) {
        // Measured afresh: what it did before its time out says nothing about it now.
        e.forget();
        this.emit('restore', { endpoint: e.origin.key, region: e.region.name });
      }
    }
  }

  #answered(e: Endpoint, status: number, ms: number): void {
    const now = this.#clock.now();
    if (status >= 500) {
      this.#failed(e, ms, `status ${status}`);
      return;
    }
    const o = this.#o.outlier;
    // An endpoint kept in rotation while unhealthy: its penalties are history once it answers.
    if (o !== false && e.health.state(now) === 'unhealthy') e.load.reset();
    e.answered(ms, now);
    if (o !== false) e.health.success(now, o);
  }

  #failed(e: Endpoint, ms: number, cause: string): void {
    const now = this.#clock.now();
    e.failed(ms, now);
    const o = this.#o.outlier;
    if (o === false) return;
    const verdict = e.health.failure(now, o, this.#mayEject(e, now, o.maxPercent));
    if (verdict !== undefined) {
      this.emit('eject', {
        endpoint: e.origin.key,
        region: e.region.name,
        ejected: verdict.ejected,
        durationMs: verdict.durationMs,
        ejections: verdict.ejections,
        cause,
      });
    }
  }

  /**
   * Whether `e` may be taken out of rotation: never the only endpoint or the last one in
   * rotation (envoy#17504), and at most `maxPercent` of them at once (rounded down).
   */
  #mayEject(e: Endpoint, now: number, maxPercent: number): boolean {
    const n = this.#endpoints.length;
    let out = 0;
    for (const x of this.#endpoints) if (x !== e && x.health.ejected && now < x.health.until) out++;
    return out + 1 < n && out + 1 <= Math.floor((n * maxPercent) / 100);
  }

  // ---- figures and shutdown -------------------------------------------------------

  /** A snapshot of every region and endpoint, and of their connections. */
  stats(): BalancedHttpPoolStats {
    const now = this.#clock.now();
    this.#refresh(now);
    this.#selector.update(now);
    const sel = this.#selector;
    return {
      active: sel.panic ? [] : sel.regions.filter((r) => r.active).map((r) => r.name),
      panic: sel.panic,
      regions: sel.regions.map((r) => ({
        name: r.name,
        healthy: r.healthy,
        active: r.active,
        latencyMs: r.latencyMs,
        endpoints: r.endpoints.length,
      })),
      endpoints: this.#endpoints.map((e) => ({
        endpoint: e.origin.key,
        region: e.region.name,
        latencyMs: e.latency.samples === 0 ? Number.NaN : e.latency.value,
        pending: e.pending,
        state: e.health.state(now),
        ejected: e.health.ejected && now < e.health.until,
        ejections: e.health.ejections,
        requests: e.requests,
        failures: e.failures,
        consecutive: e.health.consecutive,
      })),
      retries: this.#retries,
      explored: this.#explored,
      regionChanges: sel.changes,
      http: this.#http.stats(),
    };
  }

  /**
   * Graceful shutdown: takes no new requests, lets those in flight finish (for up to 30 s),
   * then closes every connection. Idempotent.
   */
  close(): Promise<void> {
    this.#closed = true;
    return this.#http.close();
  }

  /** Forced shutdown: requests in flight fail and every connection closes now. Idempotent. */
  destroy(): Promise<void> {
    this.#closed = true;
    return this.#http.destroy();
  }

  /** Same as {@link BalancedHttpPool.close}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

function codeOrName(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return code;
  return error instanceof Error ? error.name : 'unknown';
}

/**
 * Creates one logical HTTP service over endpoints grouped by region; see
 * {@link BalancedHttpPool}.
 * @throws {TypeError|RangeError} for bad options, naming the option (an unknown region in
 *   `prefer`, an endpoint listed twice or with a path, an empty `upstreams`).
 * @example
 * const api = createBalancedHttpPool({
 *   upstreams: { eu: ['https://eu-1.api.example.com', 'https://eu-2.api.example.com'], us: ['https://us-1.api.example.com'] },
 *   prefer: 'eu',
 * });
 * api.on('regionChange', (c) => log(`traffic to ${c.regions} (${c.reason})`));
 * const res = await api.request('/items');
 */
export function createBalancedHttpPool(options: BalancedHttpPoolOptions): BalancedHttpPool {
  return new BalancedHttpPool(options);
}
