export {
  BrokenResourceError,
  CircuitOpenError,
  isWeirError,
  WeirError,
  type WeirErrorCode,
} from '../internal/errors.js';
export { POOL_CHANNELS, type PoolChannelMessage } from './diagnostics.js';
export {
  CreateFailedError,
  PoolClosedError,
  PoolExhaustedError,
  type PoolState,
  PoolTimeoutError,
} from './errors.js';
export type {
  HealthFigures,
  HealthLevel,
  HealthOptions,
  HealthThreshold,
  PoolBreakerState,
  PoolHealth,
} from './health.js';
export { Lease } from './lease.js';
export type { AutoscaleOptions, PoolOptions } from './options.js';
export { type AcquireOptions, createPool, type DestroyReason, Pool } from './pool.js';
export type { PoolEvents, PoolStats, WaitSummary } from './stats.js';
