import { WeirError } from '../internal/errors.js';

// The breaker's and the timeout's errors are shared with the rest of weir (the pool throws
// the same CircuitOpenError), so they live in the internals and are re-exported here.
export {
  CircuitOpenError,
  isWeirError,
  TimeoutError,
  WeirError,
  type WeirErrorCode,
} from '../internal/errors.js';

/**
 * A {@link Semaphore} (bulkhead) refused a caller because all its permits were taken and
 * `maxWaiting` callers were already queued. Code `ERR_BULKHEAD_FULL`.
 * @example
 * if (isWeirError(err, 'ERR_BULKHEAD_FULL')) res.statusCode = 503;
 */
export class BulkheadFullError extends WeirError {
  /** Permits the semaphore holds in all. */
  readonly permits: number;
  /** Callers that were waiting when this one was refused. */
  readonly waiting: number;

  constructor(message: string, permits: number, waiting: number) {
    super('ERR_BULKHEAD_FULL', message);
    this.permits = permits;
    this.waiting = waiting;
  }
}

/**
 * A {@link RateLimiter} refused a caller: its waiting queue was full. `retryAfterMs` says
 * when the tokens asked for would be available if nobody else took them, so `retry()`
 * waits at least that long. Code `ERR_RATE_LIMITED`.
 * @example
 * if (err instanceof RateLimitedError) res.setHeader('retry-after', Math.ceil(err.retryAfterMs / 1000));
 */
export class RateLimitedError extends WeirError {
  /** Milliseconds from the moment of the error until the tokens asked for could be granted. */
  readonly retryAfterMs: number;

  constructor(message: string, retryAfterMs: number) {
    super('ERR_RATE_LIMITED', message);
    this.retryAfterMs = retryAfterMs;
  }
}
