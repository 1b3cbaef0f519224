import { WeirError, type WeirErrorCode } from '../internal/errors.js';

/**
 * A failure of `weir/ws`: a connection that closed or gave up, a send that waited too
 * long, a multiplexed stream that was reset, or a peer that broke the stream framing.
 * The `code` says which; `cause` carries the socket's own error when there is one.
 * @example
 * try { await conn.send(msg); } catch (e) { if (isWeirError(e, 'ERR_WS_CLOSED')) reconnectLater(); }
 */
export class WsError extends WeirError {
  /** The WebSocket close code involved, if any (1006 for a connection that just dropped). */
  readonly closeCode: number | undefined;

  constructor(
    code: Extract<
      WeirErrorCode,
      | 'ERR_WS_CLOSED'
      | 'ERR_WS_FATAL_CLOSE'
      | 'ERR_WS_HANDSHAKE_REFUSED'
      | 'ERR_WS_RETRIES_EXHAUSTED'
      | 'ERR_WS_SEND_TIMEOUT'
      | 'ERR_WS_PROTOCOL'
      | 'ERR_WS_STREAM_RESET'
    >,
    message: string,
    options?: { cause?: unknown; closeCode?: number },
  ) {
    super(code, message, options);
    this.closeCode = options?.closeCode;
  }
}
