// weir/resilience: circuit breaker, retry with backoff, rate limiter, semaphore (bulkhead),
// timeouts, and wrap() to compose them.
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
} from './errors.js';
export type { ExecuteOptions, Policy, PolicyContext } from './policy.js';
export {
  RateLimiter,
  type RateLimiterOptions,
} from './rate-limiter.js';
export { Semaphore, type SemaphoreOptions, SemaphorePermit } from './semaphore.js';
