export { isWeirError, WeirError, type WeirErrorCode } from '../internal/errors.js';
export {
  BufferPool,
  type BufferPoolOptions,
  type BufferPoolStats,
  releaseChunk,
} from './buffer-pool.js';
export { JsonEncodeError, JsonItemTooLargeError, JsonParseError } from './errors.js';
export type { JsonStreamMetrics, JsonStreamOutcome } from './metered.js';
export { type ParseOptions, parseJsonArray, parseNdjson } from './parse.js';
export { type EncodeOptions, jsonArray, type NdjsonOptions, ndjson } from './stringify.js';
export {
  type Compression,
  type ResponseOptions,
  toResponse,
  type WriteOutcome,
  type WriteToOptions,
  writeTo,
} from './write-to.js';
