import { WeirError } from '../internal/errors.js';

export { isWeirError, WeirError, type WeirErrorCode } from '../internal/errors.js';

/**
 * Redis did not answer within `connectTimeoutMs` (down, unreachable, or a command failed on
 * the wire), and the policy in `whenUnavailable` was `'fail-closed'`. `cause` is the
 * client's error, when there is one. Code `ERR_REDIS_UNAVAILABLE`.
 * @example
 * if (isWeirError(err, 'ERR_REDIS_UNAVAILABLE')) res.writeHead(503).end();
 */
export class RedisUnavailableError extends WeirError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_REDIS_UNAVAILABLE', message, options);
  }
}

/**
 * An `acquire` on a {@link RedisSemaphore} waited longer than its `timeoutMs`. The caller
 * has left the queue. Code `ERR_REDIS_ACQUIRE_TIMEOUT`.
 */
export class RedisAcquireTimeoutError extends WeirError {
  constructor(message: string) {
    super('ERR_REDIS_ACQUIRE_TIMEOUT', message);
  }
}

/**
 * A permit's lease ran out before it was renewed (the process stalled longer than the
 * lease, or Redis was unreachable that long): another process may hold the slot now.
 * Set as the reason of the permit's `signal`. Code `ERR_REDIS_LEASE_LOST`.
 */
export class RedisLeaseLostError extends WeirError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_REDIS_LEASE_LOST', message, options);
  }
}

/**
 * An operation on a `weir/redis` object after its `close()`. Code `ERR_REDIS_CLOSED`.
 */
export class RedisClosedError extends WeirError {
  constructor(message: string) {
    super('ERR_REDIS_CLOSED', message);
  }
}

/**
 * A `send` on a {@link RedisChannel} waited longer than its `timeoutMs` for room: the
 * channel held `capacity` messages not yet acknowledged the whole time. Nothing was sent.
 * Code `ERR_REDIS_CHANNEL_FULL`.
 */
export class RedisChannelFullError extends WeirError {
  /** The channel's capacity. */
  readonly capacity: number;

  constructor(message: string, capacity: number) {
    super('ERR_REDIS_CHANNEL_FULL', message);
    this.capacity = capacity;
  }
}
