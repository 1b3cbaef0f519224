import type { Writable } from 'node:stream';
import { Dispatcher } from 'undici';
import type { Clock } from '../internal/clock.js';
import { realClock } from '../internal/clock.js';
import { checkObject } from '../internal/options.js';
import { checkSignal } from '../internal/signals.js';
import { WeirHttpAgent, WeirHttpsAgent } from './agent.js';
import { type RequestBody, toDispatchBody } from './body.js';
import { HttpError } from './errors.js';
import { Exchange } from './exchange.js';
import { type LegacyHandler, toLegacy } from './handler.js';
import { type HttpPoolOptions, type OriginOptions, resolveOriginOptions } from './options.js';
import { type Origin, originOf } from './origin.js';
import { OriginPool, type OriginStats } from './origin-pool.js';
import {
  type DownloadOptions,
  download,
  type TransferResult,
  type UploadOptions,
  upload,
} from './progress.js';
import { type HttpResponse, ResponseReader } from './response.js';

/** Options of {@link HttpPool.request}. */
export interface HttpRequestOptions {
  /** @default 'GET' */
  method?: string;
  /** Request headers. */
  headers?: Record<string, string | string[] | undefined> | string[];
  /** The request body; see {@link RequestBody}. */
  body?: RequestBody | null;
  /** Aborts the request in any phase (waiting for a connection, sending, receiving). */
  signal?: AbortSignal;
  /** Overrides the origin's `headersTimeoutMs` for this request. */
  headersTimeoutMs?: number;
  /** Overrides the origin's `bodyTimeoutMs` for this request. */
  bodyTimeoutMs?: number;
}

/** Totals over every origin, with each origin's own {@link OriginStats}. */
export interface HttpPoolStats {
  connections: number;
  active: number;
  idle: number;
  inFlight: number;
  queued: number;
  requests: number;
  opened: number;
  /** Share of requests served on an already open connection, 0 to 1. */
  reuseRate: number;
  retries: number;
  errors: Record<string, number>;
  origins: OriginStats[];
}

/**
 * Per-origin pools of HTTP/1.1 keep-alive and HTTP/2 connections, on `weir/pool` with
 * undici's `Client` speaking the protocol. It is an undici `Dispatcher`: pass it to
 * `undici.request`, `undici.fetch` or `setGlobalDispatcher`. Create one with
 * {@link createHttpPool}.
 */
export class HttpPool extends Dispatcher {
  readonly #options: HttpPoolOptions;
  readonly #overrides = new Map<string, OriginOptions>();
  readonly #origins = new Map<string, OriginPool>();
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
  }

  /** The pool of `origin`, made on first use. */
  #poolFor(origin: Origin): OriginPool {
    let p = this.#origins.get(origin.key);
    if (p === undefined) {
      p = new OriginPool(
        origin,
        resolveOriginOptions(this.#options, this.#overrides.get(origin.key)),
        this.#name,
      );
      this.#origins.set(origin.key, p);
    }
    return p;
  }

  #poolForUrl(origin: string | URL): OriginPool {
    // Most requests repeat an origin already seen: look the string up before parsing it.
    if (typeof origin === 'string') {
      const hit = this.#origins.get(origin) ?? this.#origins.get(this.#aliases.get(origin) ?? '');
      if (hit !== undefined) return hit;
      const parsed = originOf(origin);
      this.#aliases.set(origin, parsed.key);
      return this.#poolFor(parsed);
    }
    return this.#poolFor(originOf(origin));
  }

  readonly #aliases = new Map<string, string>();

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
    let pool: OriginPool;
    try {
      if (options.origin === undefined)
        throw new TypeError('Expected `origin` in the dispatch options');
      pool = this.#poolForUrl(options.origin);
    } catch (error) {
      h.onError?.(error as Error);
      return true;
    }
    new Exchange(pool, options, h).start();
    return true;
  }

  /**
   * Sends a request and resolves at the response headers; the body streams after. An
   * idempotent request with a replayable body is retried once, on a socket opened for the
   * retry, when a keep-alive socket that sat idle or served before was closed under it; a
   * request refused before any byte of it was written is retried whatever its method and
   * body. Without a URL string, this is undici's `Dispatcher.request`.
   * @throws {HttpError} `ERR_HTTP_CONNECT`, `ERR_HTTP_CONNECT_TIMEOUT`, `ERR_HTTP_TLS`,
   *   `ERR_HTTP_HEADERS_TIMEOUT`, `ERR_HTTP_SOCKET`, `ERR_HTTP_CLOSED`.
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
    return this.#request(url, options as HttpRequestOptions | undefined);
  }

  #request(url: string | URL, options: HttpRequestOptions | undefined): Promise<HttpResponse> {
    let pool: OriginPool;
    let opts: Dispatcher.DispatchOptions;
    try {
      checkObject('options', options);
      if (checkSignal(options?.signal)?.aborted) return Promise.reject(options!.signal!.reason);
      if (this.#closed) throw new HttpError('ERR_HTTP_CLOSED', '', 'The HTTP pool is closed');
      let path: string;
      if (typeof url === 'string') {
        // Split without a URL object on the hot path: origin is up to the first '/' after '//'.
        const slash = url.indexOf('/', url.indexOf('//') + 2);
        const origin = slash < 0 ? url : url.slice(0, slash);
        if (origin.includes('@')) {
          const u = new URL(url);
          pool = this.#poolFor(originOf(u));
          path = u.pathname + u.search;
        } else {
          pool = this.#poolForUrl(origin);
          path = slash < 0 ? '/' : url.slice(slash);
          const hash = path.indexOf('#');
          if (hash >= 0) path = path.slice(0, hash);
        }
      } else {
        pool = this.#poolFor(originOf(url));
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
      if (options?.headersTimeoutMs !== undefined) opts.headersTimeout = options.headersTimeoutMs;
      if (options?.bodyTimeoutMs !== undefined) opts.bodyTimeout = options.bodyTimeoutMs;
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
    if (signal !== undefined) {
      const onAbort = (): void => reader.abort(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      dispose = () => signal.removeEventListener('abort', onAbort);
    }
    new Exchange(pool, opts, reader as LegacyHandler).start();
    return reader.promise;
  }

  /** A snapshot of every origin's pool and the totals. */
  stats(): HttpPoolStats {
    const origins = [...this.#origins.values()].map((p) => p.stats());
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
    agentOrigin: (origin: Origin): OriginPool => {
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
  originPool(url: string | URL): OriginPool {
    return this.#poolForUrl(typeof url === 'string' ? originOf(url).key : url);
  }

  /** @internal */
  get clock(): Clock {
    return this.#clock;
  }

  /** @internal */
  get options(): HttpPoolOptions {
    return this.#options;
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
    const p = Promise.all([...this.#origins.values()].map((o) => o.pool.close())).then(() => {});
    const cb = typeof a === 'function' ? a : b;
    if (typeof cb === 'function') void p.then(() => (cb as () => void)());
    else return p;
  }

  #shutdown(timeoutMs: number): Promise<void> {
    this.#closed = true;
    this.#closing ??= Promise.all(
      [...this.#origins.values()].map((o) => o.pool.drain({ timeoutMs })),
    ).then(() => {});
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
