// weir/redis: limits and channels that hold across a fleet of processes: a fair semaphore
// woken by the server, a rate limiter on the server's clock, and a bounded at-least-once
// channel over a Redis stream and its consumer group.

export {
  RedisChannel,
  type RedisChannelOptions,
  type RedisReceiveOptions,
  type RedisSendOptions,
} from './channel.js';
export type { DeadLetter } from './channel-reader.js';
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
  RedisChannelFullError,
  RedisClosedError,
  RedisLeaseLostError,
  RedisUnavailableError,
  WeirError,
  type WeirErrorCode,
} from './errors.js';
export { RedisMessage } from './message.js';
export type { RedisBaseOptions, UnavailablePolicy } from './options.js';
export { RedisPermit } from './permit.js';
export { RedisRateLimiter, type RedisRateLimiterOptions } from './rate-limiter.js';
export {
  type RedisAcquireOptions,
  RedisSemaphore,
  type RedisSemaphoreOptions,
} from './semaphore.js';
