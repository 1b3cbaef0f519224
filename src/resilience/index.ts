// weir/resilience: circuit breaker, retry with backoff, rate limiter, semaphore (bulkhead),
// timeouts, and wrap() to compose them.

export {
  type Backoff,
  constantBackoff,
  type DecorrelatedJitterOptions,
  decorrelatedJitter,
  type ExponentialBackoffOptions,
  exponentialBackoff,
  type LinearBackoffOptions,
  linearBackoff,
} from './backoff.js';
export {
  type BreakerEvents,
  type BreakerState,
  type BreakerStateChange,
  CircuitBreaker,
  type CircuitBreakerOptions,
  type RollingWindowOptions,
} from './breaker.js';
export {
  BulkheadFullError,
  CircuitOpenError,
  isWeirError,
  RateLimitedError,
  TimeoutError,
  WeirError,
  type WeirErrorCode,
} from './errors.js';
export type { ExecuteOptions, Policy, PolicyContext } from './policy.js';
export {
  RateLimiter,
  type RateLimiterOptions,
} from './rate-limiter.js';
export {
  type RetryContext,
  type RetryEvent,
  type RetryOptions,
  retry,
  retryPolicy,
} from './retry.js';
export { Semaphore, type SemaphoreOptions, SemaphorePermit } from './semaphore.js';
export {
  type TimeoutContext,
  type TimeoutOptions,
  timeoutPolicy,
  withTimeout,
} from './timeout.js';
export { wrap } from './wrap.js';
