// weir/ws: WebSocket connections on `ws` that stay healthy (ping/pong), reconnect without
// storms (full jitter per connection), bound what they buffer in bytes and lose nothing
// between open and the first read; pools of them; multiplexed logical streams with credit
// and optional at-least-once delivery, and the server half of that framing.
export { isWeirError, WeirError, type WeirErrorCode } from '../internal/errors.js';
export {
  connectWs,
  WsConnection,
  type WsConnectionEvents,
  type WsConnectionStats,
  type WsState,
} from './connection.js';
export { WsError } from './errors.js';
export type { WsMessage } from './inbox.js';
export { defaultIsFatalClose, type WsOptions } from './options.js';
export {
  createWsPool,
  type OpenStreamOptions,
  WsPool,
  type WsPoolOptions,
  type WsPoolStats,
  type WsStreamsOptions,
} from './pool.js';
export type { WsData } from './send-queue.js';
export {
  acceptWsStreams,
  type WsStreamInfo,
  WsStreamServer,
  type WsStreamServerOptions,
} from './server.js';
export { WsStream, type WsStreamStats } from './stream.js';
