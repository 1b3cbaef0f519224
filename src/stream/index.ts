export { isWeirError, TimeoutError, WeirError, type WeirErrorCode } from '../internal/errors.js';
export { StreamTimeoutError } from './errors.js';
export type { Source } from './sources.js';
export {
  type BatchOptions,
  type Destination,
  type MapOptions,
  type PipeOptions,
  type RateLimitOptions,
  type Recovery,
  type RunOptions,
  Stream,
  stream,
  type TimeoutOptions,
} from './stream.js';
