/**
 * Every error weir throws on purpose is a {@link WeirError} with a stable `code`.
 * The code is the contract; messages may improve between versions.
 */

/**
 * Every code a {@link WeirError} can carry, and nothing else, so that a misspelt code passed
 * to `isWeirError` does not compile. See `docs/errors.md` for the table of meanings; a test keeps this list,
 * that table and the codes raised in the sources equal.
 */
export type WeirErrorCode =
  // weir/pool
  | 'ERR_POOL_TIMEOUT'
  | 'ERR_POOL_CLOSED'
  | 'ERR_POOL_EXHAUSTED'
  | 'ERR_POOL_CREATE_FAILED'
  | 'ERR_POOL_CREATE_TIMEOUT'
  | 'ERR_RESOURCE_BROKEN'
  // weir/resilience
  | 'ERR_CIRCUIT_OPEN'
  | 'ERR_RATE_LIMITED'
  | 'ERR_BULKHEAD_FULL'
  | 'ERR_TIMEOUT'
  // weir/channel, weir/stream
  | 'ERR_CHANNEL_CLOSED'
  | 'ERR_STREAM_TIMEOUT'
  // weir/pg
  | 'ERR_PG_QUERY_TIMEOUT'
  // weir/http
  | 'ERR_HTTP_CONNECT'
  | 'ERR_HTTP_CONNECT_TIMEOUT'
  | 'ERR_HTTP_TLS'
  | 'ERR_HTTP_HEADERS_TIMEOUT'
  | 'ERR_HTTP_BODY_TIMEOUT'
  | 'ERR_HTTP_SOCKET'
  | 'ERR_HTTP_CONNECTION_RETIRED'
  | 'ERR_HTTP_PROTOCOL'
  | 'ERR_HTTP_INVALID_REQUEST'
  | 'ERR_HTTP_REQUEST_FAILED'
  | 'ERR_HTTP_UNREAD_BODY'
  | 'ERR_HTTP_CLOSED'
  | 'ERR_HTTP_STATUS'
  | 'ERR_HTTP_PROXY'
  | 'ERR_HTTP_PROXY_AUTH'
  | 'ERR_HTTP_NO_HEALTHY_UPSTREAM'
  // weir/json
  | 'ERR_JSON_ENCODE'
  | 'ERR_JSON_PARSE'
  | 'ERR_JSON_ITEM_TOO_LARGE'
  // weir/sse
  | 'ERR_SSE_INVALID_FIELD'
  | 'ERR_SSE_CLOSED'
  | 'ERR_SSE_CLIENT_TOO_SLOW'
  | 'ERR_SSE_LINE_TOO_LONG'
  | 'ERR_SSE_EVENT_TOO_LARGE'
  | 'ERR_SSE_STATUS'
  | 'ERR_SSE_CONTENT_TYPE'
  | 'ERR_SSE_RETRIES_EXHAUSTED'
  // weir/wasm
  | 'ERR_WASM_COMPILE'
  | 'ERR_WASM_TRAP'
  | 'ERR_WASM_INSTANCE_BROKEN'
  | 'ERR_WASM_OUT_OF_MEMORY'
  | 'ERR_WASM_MEMORY_LIMIT'
  | 'ERR_WASM_CALL_TIMEOUT'
  | 'ERR_WASM_WORKER_EXIT'
  // weir/ws
  | 'ERR_WS_CLOSED'
  | 'ERR_WS_FATAL_CLOSE'
  | 'ERR_WS_HANDSHAKE_REFUSED'
  | 'ERR_WS_RETRIES_EXHAUSTED'
  | 'ERR_WS_SEND_TIMEOUT'
  | 'ERR_WS_PROTOCOL'
  | 'ERR_WS_STREAM_RESET'
  // weir/redis
  | 'ERR_REDIS_UNAVAILABLE'
  | 'ERR_REDIS_ACQUIRE_TIMEOUT'
  | 'ERR_REDIS_LEASE_LOST'
  | 'ERR_REDIS_CLOSED'
  // weir/dashboard
  | 'ERR_DASHBOARD_OPTION'
  // weir/metrics
  | 'ERR_METRICS_DUPLICATE_NAME'
  | 'ERR_METRICS_NAME_TAKEN'
  | 'ERR_REDIS_CHANNEL_FULL';

// A registry-wide brand, so that two copies of weir loaded in one process still
// recognise each other's errors (undici does the same).
const kWeirError = Symbol.for('weir.error');

/**
 * Base class of all weir errors.
 * @example
 * if (isWeirError(err, 'ERR_POOL_TIMEOUT')) retryLater();
 */
export class WeirError extends Error {
  /** Stable machine-readable code, e.g. `ERR_POOL_TIMEOUT`. */
  readonly code: WeirErrorCode;

  constructor(code: WeirErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }

  override get name(): string {
    return this.constructor.name;
  }

  /** @internal brand check across copies of the library. */
  get [kWeirError](): true {
    return true;
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this === WeirError) {
      return typeof value === 'object' && value !== null && kWeirError in value;
    }
    return Function.prototype[Symbol.hasInstance].call(this, value);
  }
}

/**
 * Tells whether `value` is a weir error, optionally with the given `code`.
 * Works across two copies of weir in one process.
 */
export function isWeirError(value: unknown, code?: WeirErrorCode): value is WeirError {
  if (typeof value !== 'object' || value === null || !(kWeirError in value)) return false;
  return code === undefined || (value as WeirError).code === code;
}

/** An operation waited longer than its deadline. Code `ERR_TIMEOUT`. */
export class TimeoutError extends WeirError {
  constructor(message: string, options?: { cause?: unknown; code?: WeirErrorCode }) {
    super(options?.code ?? 'ERR_TIMEOUT', message, options);
  }
}

/** A circuit breaker is open and refused the call. Code `ERR_CIRCUIT_OPEN`. */
export class CircuitOpenError extends WeirError {
  /** Clock time (ms, on the breaker's clock) when the breaker will next let a probe through. */
  readonly retryAt: number;
  /** Milliseconds from the moment of the error until `retryAt`. */
  readonly retryAfterMs: number;

  constructor(
    message: string,
    retryAt: number,
    retryAfterMs: number,
    options?: { cause?: unknown },
  ) {
    super('ERR_CIRCUIT_OPEN', message, options);
    this.retryAt = retryAt;
    this.retryAfterMs = retryAfterMs;
  }
}

/**
 * Throw this from inside `pool.use(fn)` (or pass it to `lease.destroy`) to say the
 * resource is broken: the pool destroys it instead of returning it.
 * Code `ERR_RESOURCE_BROKEN`.
 */
export class BrokenResourceError extends WeirError {
  constructor(
    message = 'The resource is broken and must not be reused',
    options?: { cause?: unknown },
  ) {
    super('ERR_RESOURCE_BROKEN', message, options);
  }
}

/** Describes a value for option error messages: `0 (number)`, `"x" (string)`. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return `${JSON.stringify(value)} (string)`;
  if (typeof value === 'function') return 'a function';
  if (value === null) return 'null';
  if (typeof value === 'object') return Array.isArray(value) ? 'an array' : 'an object';
  return `${String(value)} (${typeof value})`;
}
