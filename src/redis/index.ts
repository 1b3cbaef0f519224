// weir/redis: limits that hold across a fleet of processes: a fair semaphore woken by the
// server, and a rate limiter on the server's clock.

export {
  type DedicatedConnection,
  fromIoredis,
  fromNodeRedis,
  type IoredisLike,
  type NodeRedisLike,
  type RedisArg,
  type RedisCommands,
} from './commands.js';
export {
  isWeirError,
  RedisAcquireTimeoutError,
  RedisClosedError,
  RedisLeaseLostError,
  RedisUnavailableError,
  WeirError,
  type WeirErrorCode,
} from './errors.js';
export type { RedisBaseOptions, UnavailablePolicy } from './options.js';
export { RedisPermit } from './permit.js';
export { RedisRateLimiter, type RedisRateLimiterOptions } from './rate-limiter.js';
export {
  type RedisAcquireOptions,
  RedisSemaphore,
  type RedisSemaphoreOptions,
} from './semaphore.js';
