// Options every weir/redis object shares, and their checks.

import { type Clock, realClock } from '../internal/clock.js';
import { describe } from '../internal/errors.js';
import { checkInt, checkMs, checkObject } from '../internal/options.js';
import { type RedisCommands, toCommands } from './commands.js';

/**
 * What to do while Redis is unreachable (no answer within `connectTimeoutMs`):
 * - `'fail-closed'`: refuse with `ERR_REDIS_UNAVAILABLE` (nothing runs unguarded);
 * - `'fail-open'`: let the caller through unlimited (what is limited is cheap to overrun);
 * - `{ localLimit: n }`: fall back to a limit of `n` inside this process alone (size it as
 *   the fleet-wide limit divided by the number of processes).
 * Whatever the choice, the caller gets its answer within `connectTimeoutMs`: never a hang.
 */
export type UnavailablePolicy = 'fail-closed' | 'fail-open' | { readonly localLimit: number };

/** Options shared by {@link RedisSemaphore} and {@link RedisRateLimiter}. */
export interface RedisBaseOptions {
  /** An ioredis 5 client, a connected node-redis 5 client, or {@link RedisCommands}. Required. */
  redis: unknown;
  /**
   * The name of the shared object; every process that uses the same `key` (and `prefix`)
   * shares it. It becomes a Redis Cluster hash tag (`{key}`), so it must not contain braces.
   * Required.
   */
  key: string;
  /** Prepended to every Redis key. @default 'weir:' */
  prefix?: string;
  /**
   * How long one Redis command may take before Redis counts as unreachable and the
   * `whenUnavailable` policy answers, in ms. @default 2000
   */
  connectTimeoutMs?: number;
  /** See {@link UnavailablePolicy}. @default 'fail-closed' */
  whenUnavailable?: UnavailablePolicy;
  /** Source of time for timeouts, renewals and waits (not for the limits: those use the server's). @default the real clock */
  clock?: Clock;
}

/** @internal The base options, checked. */
export interface ResolvedBase {
  redis: RedisCommands;
  key: string;
  prefix: string;
  connectTimeoutMs: number;
  whenUnavailable: 'fail-closed' | 'fail-open' | number;
  clock: Clock;
}

/** @internal The base option keys. */
export const BASE_KEYS = {
  redis: 1,
  key: 1,
  prefix: 1,
  connectTimeoutMs: 1,
  whenUnavailable: 1,
  clock: 1,
} as const;

/** @internal Checks the base options. @throws {TypeError|RangeError} naming the option. */
export function resolveBase(o: RedisBaseOptions): ResolvedBase {
  const redis = toCommands(o.redis);
  if (typeof o.key !== 'string' || o.key === '' || /[{}]/.test(o.key)) {
    throw new TypeError(
      `Expected \`key\` to be a non-empty string without braces, got ${describe(o.key)}`,
    );
  }
  const prefix = o.prefix ?? 'weir:';
  if (typeof prefix !== 'string') {
    throw new TypeError(`Expected \`prefix\` to be a string, got ${describe(prefix)}`);
  }
  const connectTimeoutMs = checkMs('connectTimeoutMs', o.connectTimeoutMs ?? 2000, 1, false);
  const w = o.whenUnavailable ?? 'fail-closed';
  let whenUnavailable: ResolvedBase['whenUnavailable'];
  if (w === 'fail-closed' || w === 'fail-open') whenUnavailable = w;
  else if (typeof w === 'object' && w !== null && 'localLimit' in w) {
    whenUnavailable = checkInt('whenUnavailable.localLimit', w.localLimit, 1);
  } else {
    throw new TypeError(
      `Expected \`whenUnavailable\` to be 'fail-closed', 'fail-open' or { localLimit }, got ${describe(w)}`,
    );
  }
  checkObject('clock', o.clock);
  return {
    redis,
    key: o.key,
    prefix,
    connectTimeoutMs,
    whenUnavailable,
    clock: o.clock ?? realClock,
  };
}
