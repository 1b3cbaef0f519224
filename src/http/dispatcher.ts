import type { Writable } from 'node:stream';
import { Dispatcher } from 'undici';
import type { Clock } from '../internal/clock.js';
import { realClock } from '../internal/clock.js';
import { kKeyedPool } from '../internal/introspect.js';
import { checkKeys, checkObject, optionKeys } from '../internal/options.js';
import { checkSignal, onAbort } from '../internal/signals.js';
import {
  createKeyedPool,
  type KeyedPool,
  type KeyedPoolHealth,
  type SharedManagedPool,
} from '../managed/index.js';
import type { HealthOptions } from '../pool/index.js';
import { WeirHttpAgent, WeirHttpsAgent } from './agent.js';
import { type RequestBody, toDispatchBody } from './body.js';
import { composedView } from './compose.js';
import type { Connection } from './connection.js';
import { HttpError } from './errors.js';
import { Exchange } from './exchange.js';
import { type LegacyHandler, toLegacy } from './handler.js';
import {
  checkDispatchTimeout,
  checkRequestOptions,
  type HttpPoolOptions,
  type OriginOptions,
  resolveOriginOptions,
  undiciMs,
} from './options.js';
import { type Origin, originOf } from './origin.js';
import { OriginManager, type OriginStats } from './origin-pool.js';
import {
  type DownloadOptions,
  download,
  type TransferResult,
  type UploadOptions,
  upload,
} from './progress.js';
import { type HttpResponse, ResponseReader } from './response.js';
import type { HttpPoolStats, HttpRequestOptions } from './types.js';

export type { HttpPoolStats, HttpRequestOptions };

const REQUEST_KEYS = optionKeys<HttpRequestOptions>({
  method: 1,
  headers: 1,
  body: 1,
  signal: 1,
  headersTimeoutMs: 1,
  bodyTimeoutMs: 1,
});

/**
 * Per-origin pools of HTTP/1.1 keep-alive and HTTP/2 connections, on `weir/managed` (one
 * keyed pool of shared managed pools, one per origin), with undici's `Client` speaking
 * HTTP/1.1 and a `node:http2` session speaking HTTP/2 (see `h2Engine`; docs/http2.md).
 * It is an undici `Dispatcher`: pass it to
 * `undici.request`, `undici.fetch` or `setGlobalDispatcher`. Create one with
 * {@link createHttpPool}.
 */
export class HttpPool extends Dispatcher {
  readonly #options: HttpPoolOptions;
  readonly #overrides = new Map<string, OriginOptions>();
  readonly #pools: KeyedPool<string, Connection, OriginManager>;
  readonly #clock: Clock;
  readonly #name: string;
  #closed = false;
  #closing: Promise<void> | undefined;

  /** @internal Use {@link createHttpPool}. */
  constructor(options: HttpPoolOptions = {}) {
    super();
    checkObject('options', options);
    // Validate once up front, so bad options throw here and not at the first request.
    resolveOriginOptions(options, undefined);
    checkObject('origins', options.origins);
    for (const [url, o] of Object.entries(options.origins ?? {})) {
      const origin = originOf(url);
      resolveOriginOptions(options, o);
      this.#overrides.set(origin.key, o);
    }
    this.#options = options;
    this.#clock = options.clock ?? realClock;
    this.#name = options.name ?? 'http';
    this.#pools = createKeyedPool<string, Connection, OriginManager>({
      pool: (key) => this.#managerFor(key).spec(),
      // Origins are kept for the pool's life, as their statistics are.
      idleKeyTimeoutMs: Number.POSITIVE_INFINITY,
      name: this.#name,
      clock: this.#clock,
    });
    // Each origin's manager drives its own pool (retire, the HTTP/2 stream limit). Its pool
    // is shared (the spec says `shared`), so it has setLeaseLimit.
    this.#pools.on('poolCreate', ({ pool }) =>
      pool.manager.attach(pool as SharedManagedPool<Connection, OriginManager>),
    );
  }

  /** The pool of `origin`, made on first use. */
  #poolFor(origin: Origin): OriginManager {
    return this.#pools.get(origin.key).manager;
  }

  #poolForUrl(origin: string | URL): OriginManager {
    // Most requests repeat an origin already seen: look the string up before parsing it.
    if (typeof origin === 'string') {
      let key = this.#aliases.get(origin);
      if (key === undefined) {
        key = originOf(origin).key;
        this.#aliases.set(origin, key);
      }
      return this.#pools.get(key).manager;
    }
    return this.#poolFor(originOf(origin));
  }

  readonly #aliases = new Map<string, string>();
  readonly #settings = new Map<string, Pick<OriginManager, 'origin' | 'options'>>();

  /** The settings of `origin` (its pool's, if it has one), without making it a pool. */
  #settingsOf(origin: Origin): Pick<OriginManager, 'origin' | 'options'> {
    if (this.#pools.has(origin.key)) return this.#pools.get(origin.key).manager;
    let s = this.#settings.get(origin.key);
    if (s === undefined) {
      s = { origin, options: resolveOriginOptions(this.#options, this.#overrides.get(origin.key)) };
      this.#settings.set(origin.key, s);
    }
    return s;
  }

  /**
   * The pool of `origin` for TLS connections that name `servername` (SNI and the certificate
   * check) rather than the origin's host: undici's `dns` interceptor sends requests to the
   * resolved address with the original host name as `servername`. Such connections are
   * pooled apart (keyed by origin and servername), with the settings of the origin that the
   * host name spells.
   */
  #poolForServername(url: string | URL, servername: string): OriginManager {
    const origin = originOf(url);
    if (origin.protocol !== 'https:' || servername === origin.hostname)
      return this.#poolFor(origin);
    return this.#pools.get(`${origin.key} ${servername}`).manager;
  }

  /** The keyed pool's factory: a key is an origin's, or an origin's and a servername. */
  #managerFor(key: string): OriginManager {
    const space = key.indexOf(' ');
    if (space < 0) {
      const origin = originOf(key);
      return new OriginManager(
        origin,
        resolveOriginOptions(this.#options, this.#overrides.get(origin.key)),
        this.#name,
      );
    }
    const origin = originOf(key.slice(0, space));
    const servername = key.slice(space + 1);
    const override =
      this.#overrides.get(`https://${servername}:${origin.port}`) ??
      this.#overrides.get(origin.key);
    const o = resolveOriginOptions(this.#options, override);
    return new OriginManager(origin, { ...o, tls: { ...o.tls, servername } }, this.#name);
  }

  /**
   * undici's dispatch: sends the request on a pooled connection of `options.origin`.
   * Always returns true (requests wait in the origin's bounded queue, not in undici's).
   */
  override dispatch(
    options: Dispatcher.DispatchOptions,
    handler: Dispatcher.DispatchHandler,
  ): boolean {
    const h = toLegacy(handler);
    if (this.#closed) {
      h.onError?.(
        new HttpError('ERR_HTTP_CLOSED', String(options.origin ?? ''), 'The HTTP pool is closed'),
      );
      return true;
    }
    let pool: OriginManager;
    let opts = options;
    let headersMs: number | undefined;
    let bodyMs: number | undefined;
    try {
      if (options.origin === undefined)
        throw new TypeError('Expected `origin` in the dispatch options');
      const servername = (options as { servername?: unknown }).servername;
      pool =
        typeof servername === 'string' && servername !== ''
          ? this.#poolForServername(options.origin, servername)
          : this.#poolForUrl(options.origin);
      // Checked before a connection is taken. weir keeps these timeouts itself (precisely,
      // on the pool's clock), so undici gets none; the copy is made only when they are set.
      const ht = checkDispatchTimeout('headersTimeout', options.headersTimeout);
      const bt = checkDispatchTimeout('bodyTimeout', options.bodyTimeout);
      if (ht !== undefined || bt !== undefined) {
        headersMs = ht;
        bodyMs = bt;
        opts = { ...options, headersTimeout: null, bodyTimeout: null };
      }
    } catch (error) {
      h.onError?.(error as Error);
      return true;
    }
    new Exchange(pool, opts, h, headersMs, bodyMs).start();
    return true;
  }

  /**
   * Sends a request and resolves at the response headers; the body streams after. An
   * idempotent request with a replayable body is retried once, on a socket opened for the
   * retry, when a keep-alive socket that sat idle or served before was closed under it; a
   * request the server never processed (refused before any byte of it was written, an
   * HTTP/2 GOAWAY or REFUSED_STREAM) is retried on another connection, up to 4 times,
   * whatever its method. Without a URL string, this is undici's `Dispatcher.request`.
   * @throws {TypeError|RangeError} for a bad option (`method`, `headers`, `body`, the
   *   timeouts), before any connection is taken.
   * @throws {HttpError} `ERR_HTTP_CONNECT`, `ERR_HTTP_CONNECT_TIMEOUT`, `ERR_HTTP_TLS`,
   *   `ERR_HTTP_HEADERS_TIMEOUT`, `ERR_HTTP_SOCKET`, `ERR_HTTP_CONNECTION_RETIRED`,
   *   `ERR_HTTP_PROTOCOL`, `ERR_HTTP_INVALID_REQUEST`, `ERR_HTTP_REQUEST_FAILED`,
   *   `ERR_HTTP_CLOSED` (see `HttpErrorCode`); `cause` is undici's error.
   * @throws {WeirError} `ERR_POOL_TIMEOUT`, `ERR_POOL_EXHAUSTED`, `ERR_CIRCUIT_OPEN` from the origin's pool.
   * @throws the signal's reason when `signal` aborts.
   * @example
   * const res = await http.request('https://api.example.com/items', { signal });
   * const items = await res.body.json();
   */
  override request(url: string | URL, options?: HttpRequestOptions): Promise<HttpResponse>;
  override request<TOpaque = null>(
    options: Dispatcher.RequestOptions<TOpaque>,
  ): Promise<Dispatcher.ResponseData<TOpaque>>;
  override request<TOpaque = null>(
    options: Dispatcher.RequestOptions<TOpaque>,
    callback: (err: Error | null, data: Dispatcher.ResponseData<TOpaque>) => void,
  ): void;
  override request(url: unknown, options?: unknown): unknown {
    if (typeof url !== 'string' && !(url instanceof URL)) {
      // undici's own request(options[, callback]), inherited from Dispatcher.
      return (super.request as (...args: unknown[]) => unknown)(url, options);
    }
    return this.#request(url, options as HttpRequestOptions | undefined, undefined);
  }

  /** @internal `request(url)` through the dispatch function of a composed view. */
  requestThrough(
    dispatch: Dispatcher['dispatch'],
    url: string | URL,
    options: HttpRequestOptions | undefined,
  ): Promise<HttpResponse> {
    return this.#request(url, options, dispatch);
  }

  #request(
    url: string | URL,
    options: HttpRequestOptions | undefined,
    via: Dispatcher['dispatch'] | undefined,
  ): Promise<HttpResponse> {
    // Through interceptors the request may go elsewhere (dns, redirect): only the origin's
    // settings are looked up, without making it a pool.
    const direct = via === undefined;
    let pool: Pick<OriginManager, 'origin' | 'options'>;
    let opts: Dispatcher.DispatchOptions;
    try {
      checkObject('options', options);
      checkKeys('HttpPool.request', options, REQUEST_KEYS);
      checkRequestOptions(options);
      if (checkSignal(options?.signal)?.aborted) return Promise.reject(options!.signal!.reason);
      if (this.#closed) throw new HttpError('ERR_HTTP_CLOSED', '', 'The HTTP pool is closed');
      let path: string;
      if (typeof url === 'string') {
        // Split without a URL object on the hot path: origin is up to the first '/' after '//'.
        const slash = url.indexOf('/', url.indexOf('//') + 2);
        const origin = slash < 0 ? url : url.slice(0, slash);
        if (origin.includes('@')) {
          const u = new URL(url);
          pool = direct ? this.#poolFor(originOf(u)) : this.#settingsOf(originOf(u));
          path = u.pathname + u.search;
        } else {
          pool = direct ? this.#poolForUrl(origin) : this.#settingsOf(originOf(origin));
          path = slash < 0 ? '/' : url.slice(slash);
          const hash = path.indexOf('#');
          if (hash >= 0) path = path.slice(0, hash);
        }
      } else {
        pool = direct ? this.#poolFor(originOf(url)) : this.#settingsOf(originOf(url));
        path = url.pathname + url.search;
      }
      opts = {
        origin: pool.origin.key,
        path,
        method: (options?.method ?? 'GET') as Dispatcher.HttpMethod,
      };
      if (options?.headers !== undefined)
        opts.headers = options.headers as NonNullable<Dispatcher.DispatchOptions['headers']>;
      const body = toDispatchBody(options?.body);
      if (body !== undefined) opts.body = body as NonNullable<Dispatcher.DispatchOptions['body']>;
    } catch (error) {
      return Promise.reject(error);
    }
    const signal = options?.signal;
    let dispose: (() => void) | undefined;
    const reader = new ResponseReader(
      this.#clock,
      pool.options.unreadBodyTimeoutMs,
      pool.origin.key,
      signal === undefined ? undefined : () => dispose?.(),
    );
    if (signal !== undefined) dispose = onAbort(signal, (reason) => reader.abort(reason));
    if (direct) {
      new Exchange(
        pool as OriginManager,
        opts,
        reader as LegacyHandler,
        options?.headersTimeoutMs,
        options?.bodyTimeoutMs,
      ).start();
      return reader.promise;
    }
    // Through interceptors: the timeouts travel in undici's terms and come back to dispatch.
    if (options?.headersTimeoutMs !== undefined)
      opts.headersTimeout = undiciMs(options.headersTimeoutMs);
    if (options?.bodyTimeoutMs !== undefined) opts.bodyTimeout = undiciMs(options.bodyTimeoutMs);
    try {
      via(opts, reader as Dispatcher.DispatchHandler);
    } catch (error) {
      reader.onError(error as Error);
    }
    return reader.promise;
  }

  /**
   * The pool seen through undici interceptors, innermost last as in undici: retries on
   * status codes (`interceptors.retry`), redirects, decompression, DNS caching, response
   * caching, `dump`, `responseError`, `deduplicate`. The result is this pool for every other
   * purpose (`stats()`, `close()`, the same connections); its `request(url)`, `download`,
   * `upload` and `dispatch` go through the interceptors, and it composes further.
   * Interceptors that look at error codes see weir's (`ERR_HTTP_SOCKET`, …): list those in
   * the retry interceptor's `errorCodes`.
   * @example
   * import { interceptors } from 'undici';
   * const api = http.compose(
   *   interceptors.retry({ statusCodes: [502, 503], errorCodes: ['ERR_HTTP_SOCKET'] }),
   *   interceptors.redirect({ maxRedirections: 3 }),
   * );
   * const res = await api.request('https://api.example.com/items');
   */
  override compose(interceptors: Dispatcher.DispatcherComposeInterceptor[]): HttpPool;
  override compose(...interceptors: Dispatcher.DispatcherComposeInterceptor[]): HttpPool;
  override compose(...args: unknown[]): HttpPool {
    const composed = (super.compose as (...a: unknown[]) => Dispatcher).apply(this, args);
    return composedView(this, composed.dispatch as Dispatcher['dispatch']);
  }

  /** A snapshot of every origin's pool and the totals. */
  stats(): HttpPoolStats {
    const origins: OriginStats[] = [];
    for (const key of this.#pools.keys()) origins.push(this.#pools.get(key).manager.stats());
    const total: HttpPoolStats = {
      connections: 0,
      active: 0,
      idle: 0,
      inFlight: 0,
      queued: 0,
      requests: 0,
      opened: 0,
      reuseRate: 0,
      retries: 0,
      errors: {},
      origins,
    };
    for (const o of origins) {
      total.connections += o.connections;
      total.active += o.active;
      total.idle += o.idle;
      total.inFlight += o.inFlight;
      total.queued += o.queued;
      total.requests += o.requests;
      total.opened += o.opened;
      total.retries += o.retries;
      for (const [code, n] of Object.entries(o.errors))
        total.errors[code] = (total.errors[code] ?? 0) + n;
    }
    total.reuseRate =
      total.requests === 0 ? 0 : Math.max(0, (total.requests - total.opened) / total.requests);
    return total;
  }

  /**
   * The health of every origin's pool (keyed by origin) and the worst of them (see
   * `KeyedPool.health`; the breaker is the origin's).
   * @throws {TypeError|RangeError} for bad options, naming the option.
   */
  health(options?: HealthOptions): KeyedPoolHealth<string> {
    return this.#pools.health(options);
  }

  /** @internal The per-origin pools, for weir/metrics. */
  [kKeyedPool](): KeyedPool<string, Connection, OriginManager> {
    return this.#pools;
  }

  /**
   * A Node `http.Agent` for libraries that take one (axios, got, `http.request`): its
   * requests take connections of this pool (HTTP/1.1), within the same `connections`
   * budget and queue as `request` and `dispatch`, counted in the same `stats()`, and
   * closed by the same `close()`/`destroy()`.
   * @example
   * await axios.get(url, { httpAgent: http.toHttpAgent() });
   */
  toHttpAgent(): WeirHttpAgent {
    return new WeirHttpAgent(this.#agentSource);
  }

  /** Same as {@link HttpPool.toHttpAgent} for https: a Node `https.Agent`. */
  toHttpsAgent(): WeirHttpsAgent {
    return new WeirHttpsAgent(this.#agentSource);
  }

  readonly #agentSource = {
    agentOrigin: (origin: Origin): OriginManager => {
      if (this.#closed)
        throw new HttpError('ERR_HTTP_CLOSED', origin.key, 'The HTTP pool is closed');
      return this.#poolFor(origin);
    },
    stats: (): HttpPoolStats => this.stats(),
  };

  /**
   * Downloads `url` into a file (path) or a Writable, with backpressure and progress;
   * `resume: true` continues a partial file with a `Range` request.
   * @throws {HttpError} `ERR_HTTP_STATUS` for a status outside 2xx, and whatever `request` throws.
   * @example
   * await http.download(url, '/tmp/big.iso', { resume: true, onProgress: (p) => log(p.bytes, p.total) });
   */
  download(
    url: string | URL,
    destination: string | Writable,
    options?: DownloadOptions,
  ): Promise<TransferResult> {
    return download(this, this.#clock, url, destination, options);
  }

  /**
   * Uploads `source` (bytes, a string, a file stream, any iterable) with progress counted
   * as the socket takes the bytes.
   * @throws {HttpError} `ERR_HTTP_STATUS` for a status outside 2xx, and whatever `request` throws.
   * @example
   * await http.upload(url, fs.createReadStream(file), { size, onProgress });
   */
  upload(url: string | URL, source: RequestBody, options?: UploadOptions): Promise<TransferResult> {
    return upload(this, this.#clock, url, source, options);
  }

  /** @internal The pool of one origin (for the agent, downloads and tests). */
  originPool(url: string | URL): OriginManager {
    return this.#poolForUrl(typeof url === 'string' ? originOf(url).key : url);
  }

  /** @internal */
  get clock(): Clock {
    return this.#clock;
  }

  /**
   * Graceful shutdown: takes no new requests, lets requests in flight finish (for up to
   * 30 s, after which they are failed), then closes every connection. Idempotent.
   */
  override close(): Promise<void>;
  override close(callback: () => void): void;
  override close(callback?: unknown): Promise<void> | void {
    const p = this.#shutdown(30_000);
    if (typeof callback === 'function') void p.then(() => (callback as () => void)());
    else return p;
  }

  /** Forced shutdown: requests in flight fail and every connection closes now. Idempotent. */
  override destroy(): Promise<void>;
  override destroy(err: Error | null): Promise<void>;
  override destroy(callback: () => void): void;
  override destroy(err: Error | null, callback: () => void): void;
  override destroy(a?: unknown, b?: unknown): Promise<void> | void {
    this.#closed = true;
    const p = this.#pools.close();
    const cb = typeof a === 'function' ? a : b;
    if (typeof cb === 'function') void p.then(() => (cb as () => void)());
    else return p;
  }

  #shutdown(timeoutMs: number): Promise<void> {
    this.#closed = true;
    this.#closing ??= this.#pools.drain({ timeoutMs });
    return this.#closing;
  }

  /** Same as {@link HttpPool.close}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/**
 * Creates per-origin pools of HTTP connections.
 * @throws {TypeError|RangeError} for bad options, naming the option.
 * @example
 * import { fetch } from 'undici';
 * const http = createHttpPool({ connections: 50, origins: { 'https://api.example.com': { breaker: {} } } });
 * const res = await http.request('https://api.example.com/items');
 * console.log(res.status, await res.body.json());
 * await fetch('https://api.example.com/health', { dispatcher: http });
 */
export function createHttpPool(options?: HttpPoolOptions): HttpPool {
  return new HttpPool(options);
}
