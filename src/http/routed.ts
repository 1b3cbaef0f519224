// One request of a balanced pool: sent to the endpoint the router picks, timed from the
// moment it is handed to the pool of connections to its response headers (so the wait for
// a connection counts: a saturated endpoint is a slow one), and sent to another endpoint,
// another region first, when it could not be sent at all and may be sent twice.
import type { Dispatcher } from 'undici';
import type { Clock } from '../internal/clock.js';
import type { Endpoint } from './endpoint.js';
import { codeOf, type HttpError } from './errors.js';
import { IDEMPOTENT, isReplayable } from './exchange.js';
import type { LegacyHandler } from './handler.js';

/**
 * Failures that prove the request was not sent to the endpoint, so that another one may
 * take it: the connection could not be opened, the origin's breaker is open, or the
 * connection was retired before anything was written.
 */
const UNSENT = new Set([
  'ERR_HTTP_CONNECT',
  'ERR_HTTP_CONNECT_TIMEOUT',
  'ERR_HTTP_TLS',
  'ERR_CIRCUIT_OPEN',
  'ERR_HTTP_CONNECTION_RETIRED',
  'ERR_POOL_CREATE_FAILED',
  'ERR_POOL_CREATE_TIMEOUT',
]);

/** Failures that count against the endpoint (the rest are the caller's or the local pool's). */
const ENDPOINT_FAILURES = new Set([
  ...UNSENT,
  'ERR_HTTP_SOCKET',
  'ERR_HTTP_HEADERS_TIMEOUT',
  'ERR_HTTP_BODY_TIMEOUT',
  'ERR_HTTP_PROTOCOL',
]);

/** @internal Whether a failure counts against the endpoint that had the request. */
export function countsAgainstEndpoint(error: unknown): boolean {
  const code = codeOf(error);
  return code !== undefined && ENDPOINT_FAILURES.has(code);
}

/** @internal What a routed request needs of its balanced pool. */
export interface Router {
  readonly clock: Clock;
  readonly retries: number;
  /**
   * The endpoint for a request (`tried` null) or for its retry (`tried` the endpoints it
   * went to): an endpoint, null when none is left, or the error to fail with.
   */
  pick(tried: readonly Endpoint[] | null): Endpoint | null | HttpError;
  /** Hands the request to the pool of connections of `endpoint`. */
  send(endpoint: Endpoint, opts: Dispatcher.DispatchOptions, handler: LegacyHandler): void;
  /** Response headers with `status` arrived `ms` after the request was handed over. */
  answered(endpoint: Endpoint, status: number, ms: number): void;
  /** The request failed `ms` after it was handed over. */
  failed(endpoint: Endpoint, error: unknown, ms: number): void;
  /** A request went to another endpoint. */
  retried(): void;
}

/** @internal The handler of one request of a balanced pool, wrapped around the caller's. */
export class RoutedRequest implements LegacyHandler {
  readonly #router: Router;
  readonly #opts: Dispatcher.DispatchOptions;
  readonly #outer: LegacyHandler;
  #endpoint: Endpoint | null = null;
  #sentAt = 0;
  #tried: Endpoint[] | null = null;
  #retries = 0;
  #abort: ((reason?: unknown) => void) | null = null;
  #aborted = false;
  #reason: unknown = undefined;
  #connected = false;
  #headers = false;
  #done = false;

  constructor(router: Router, opts: Dispatcher.DispatchOptions, outer: LegacyHandler) {
    this.#router = router;
    this.#opts = opts;
    this.#outer = outer;
  }

  start(): void {
    const picked = this.#router.pick(null);
    if (picked === null || !('region' in picked)) {
      this.#done = true;
      this.#outer.onError?.(picked as Error);
      return;
    }
    this.#send(picked);
  }

  #send(endpoint: Endpoint): void {
    this.#endpoint = endpoint;
    endpoint.pending++;
    endpoint.requests++;
    this.#sentAt = this.#router.clock.now();
    this.#router.send(endpoint, this.#opts, this);
  }

  /** Ends the current attempt's share of the endpoint's requests in flight. */
  #release(): Endpoint | null {
    const e = this.#endpoint;
    if (e !== null) {
      e.pending--;
      this.#endpoint = null;
    }
    return e;
  }

  #abortAll(reason: unknown): void {
    if (this.#done || this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason ?? new DOMException('The request was aborted', 'AbortError');
    this.#abort?.(this.#reason);
  }

  onConnect(abort: (reason?: unknown) => void, context?: unknown): void {
    this.#abort = abort;
    if (this.#aborted) {
      abort(this.#reason);
      return;
    }
    if (this.#connected) return;
    // The caller sees one request, however many endpoints it went to.
    this.#connected = true;
    this.#outer.onConnect?.((reason) => this.#abortAll(reason), context);
  }

  onResponseStarted(): void {
    this.#outer.onResponseStarted?.();
  }

  onHeaders(status: number, raw: Buffer[], resume: () => void, statusText: string): boolean {
    const e = this.#endpoint;
    if (status >= 200 && !this.#headers && e !== null) {
      this.#headers = true;
      this.#router.answered(e, status, this.#router.clock.now() - this.#sentAt);
    }
    return this.#outer.onHeaders?.(status, raw, resume, statusText) ?? true;
  }

  onData(chunk: Buffer): boolean {
    return this.#outer.onData?.(chunk) ?? true;
  }

  onComplete(trailers: Buffer[] | null): void {
    this.#release();
    this.#done = true;
    this.#outer.onComplete?.(trailers);
  }

  onUpgrade(status: number, raw: Buffer[] | string[] | null, socket: unknown): void {
    this.#release();
    this.#done = true;
    this.#outer.onUpgrade?.(status, raw, socket);
  }

  onError(error: Error): void {
    const e = this.#release();
    if (this.#done) return;
    if (e !== null && !this.#aborted) {
      this.#router.failed(e, error, this.#router.clock.now() - this.#sentAt);
      if (!this.#headers && this.#mayRetry(error)) {
        (this.#tried ??= []).push(e);
        const next = this.#router.pick(this.#tried);
        if (next !== null && 'region' in next) {
          this.#retries++;
          this.#router.retried();
          this.#send(next);
          return;
        }
      }
    }
    this.#done = true;
    this.#outer.onError?.(this.#aborted ? (this.#reason as Error) : error);
  }

  /** An idempotent request with a replayable body that provably never reached the endpoint. */
  #mayRetry(error: unknown): boolean {
    if (this.#retries >= this.#router.retries) return false;
    const code = codeOf(error);
    if (code === undefined || !UNSENT.has(code)) return false;
    if (!isReplayable(this.#opts.body)) return false;
    return IDEMPOTENT.has((this.#opts.method ?? 'GET').toUpperCase());
  }
}
