export { isWeirError, WeirError, type WeirErrorCode } from '../internal/errors.js';
export {
  type ConnectSseOptions,
  connectSse,
  type SseAttemptInfo,
  type SseFetch,
  type SseFetchResponse,
  type SseHeaders,
  type SseHeadersInfo,
  type SseReconnectInfo,
} from './client.js';
export type { SseMessage } from './encode.js';
export {
  SseClosedError,
  SseFieldError,
  SseLimitError,
  SseResponseError,
  SseRetriesExhaustedError,
  SseSlowClientError,
} from './errors.js';
export { SseHub, type SseHubClient, type SseHubOptions } from './hub.js';
export { type SseEvent, SseParser, type SseParserOptions } from './parser.js';
export {
  createSseStream,
  type NodeResponse,
  SSE_HEADERS,
  SseStream,
  type SseStreamOptions,
} from './writer.js';
