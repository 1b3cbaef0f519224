import { WeirError, type WeirErrorCode } from '../internal/errors.js';

/**
 * The codes of {@link HttpError}. Every failure of a `weir/http` request carries one of
 * these, or a code of the pool it waited on (`ERR_POOL_TIMEOUT`, `ERR_POOL_EXHAUSTED`,
 * `ERR_CIRCUIT_OPEN`), or is the caller's own abort reason.
 */
export type HttpErrorCode = Extract<WeirErrorCode, `ERR_HTTP_${string}`>;

/**
 * Base class of the errors `weir/http` raises about a request or a connection. `origin`
 * names the server as `scheme://host:port`, never with credentials; `cause` is undici's
 * or the socket's own error.
 *
 * | code | meaning |
 * | --- | --- |
 * | `ERR_HTTP_CONNECT` | the connection could not be opened (refused, unreachable, DNS) |
 * | `ERR_HTTP_CONNECT_TIMEOUT` | opening the connection took longer than `connectTimeoutMs` |
 * | `ERR_HTTP_TLS` | the TLS handshake failed, e.g. an untrusted or mismatched certificate |
 * | `ERR_HTTP_HEADERS_TIMEOUT` | no response headers within `headersTimeoutMs` |
 * | `ERR_HTTP_BODY_TIMEOUT` | no body bytes for `bodyTimeoutMs` |
 * | `ERR_HTTP_SOCKET` | the connection (or HTTP/2 stream) closed or reset during the request |
 * | `ERR_HTTP_CONNECTION_RETIRED` | the server never processed the request (its connection had closed or gone away, or it refused the stream), and the retries met the same |
 * | `ERR_HTTP_PROTOCOL` | the server broke the protocol: a malformed status line or header, a wrong `content-length`, an HTTP/2 protocol error |
 * | `ERR_HTTP_INVALID_REQUEST` | undici refused the request as malformed (a header value, a body of the wrong length) |
 * | `ERR_HTTP_REQUEST_FAILED` | the request failed otherwise (a request body stream that errored, …); see `cause` |
 * | `ERR_HTTP_UNREAD_BODY` | a response body was not read within `unreadBodyTimeoutMs` and was discarded |
 * | `ERR_HTTP_CLOSED` | the pool is closed |
 * | `ERR_HTTP_STATUS` | `download`/`upload` got a status outside 2xx |
 * | `ERR_HTTP_PROXY` | the proxy could not be reached, or refused the CONNECT tunnel |
 * | `ERR_HTTP_PROXY_AUTH` | the proxy answered 407 Proxy Authentication Required |
 * | `ERR_HTTP_NO_HEALTHY_UPSTREAM` | a balanced pool with `panic: 'fail'` had no healthy endpoint |
 */
export class HttpError extends WeirError {
  /** Stable machine-readable code, e.g. `ERR_HTTP_SOCKET`. */
  declare readonly code: HttpErrorCode;
  /** The server, as `scheme://host:port`. */
  readonly origin: string;

  constructor(code: HttpErrorCode, origin: string, message: string, cause?: unknown) {
    super(code, message, cause === undefined ? undefined : { cause });
    this.origin = origin;
  }
}

const TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ERR_SSL_WRONG_VERSION_NUMBER',
]);

/** @internal The `code` of an error, if it has a string one. */
export function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Maps a failure to open a connection onto an {@link HttpError}. */
export function connectError(origin: string, error: unknown): HttpError {
  // Already named (a proxy's refusal): as it is.
  if (error instanceof HttpError) return error;
  const code = codeOf(error);
  if (code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'ERR_TIMEOUT') {
    return new HttpError(
      'ERR_HTTP_CONNECT_TIMEOUT',
      origin,
      `Timed out connecting to ${origin} (connectTimeoutMs); is the server up and reachable?`,
      error,
    );
  }
  if (code !== undefined && (TLS_CODES.has(code) || code.startsWith('ERR_SSL'))) {
    return new HttpError(
      'ERR_HTTP_TLS',
      origin,
      `TLS handshake with ${origin} failed (${code}); pass the server's CA in \`tls.ca\` if it is trusted`,
      error,
    );
  }
  return new HttpError(
    'ERR_HTTP_CONNECT',
    origin,
    `Could not connect to ${origin}${code === undefined ? '' : ` (${code})`}`,
    error,
  );
}

/**
 * undici's (and Node's) codes for a server that broke the protocol: a malformed status
 * line or header (llhttp's `HPE_*`), headers too large, a body longer or shorter than its
 * `content-length`, an HTTP/2 protocol violation.
 */
const PROTOCOL_CODES = new Set([
  'UND_ERR_HEADERS_OVERFLOW',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
  'UND_ERR_RES_EXCEEDED_MAX_SIZE',
  'ERR_HTTP2_ERROR',
  'ERR_HTTP2_INVALID_PSEUDOHEADER',
  'ERR_HTTP2_INVALID_HEADER_VALUE',
]);

/** Opening the connection failed (normally reported by the pool, as a create failure). */
const CONNECT_CODES = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/** The connection or stream went away under the request. */
const SOCKET_CODES = new Set([
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_DESTROYED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ERR_STREAM_PREMATURE_CLOSE',
  'ERR_HTTP2_GOAWAY_SESSION',
  'ERR_HTTP2_INVALID_SESSION',
  'ERR_HTTP2_SESSION_ERROR',
  'ERR_HTTP2_STREAM_ERROR',
  'ERR_HTTP2_STREAM_CANCEL',
]);

/** The request itself was malformed; undici refused it before sending. */
const INVALID_REQUEST_CODES = new Set([
  'UND_ERR_INVALID_ARG',
  'UND_ERR_NOT_SUPPORTED',
  'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH',
]);

// HTTP/2 error codes (RFC 9113 §7) that say the peer broke the protocol, as Node names them.
const H2_PROTOCOL =
  /\b(NGHTTP2_)?(PROTOCOL_ERROR|FRAME_SIZE_ERROR|COMPRESSION_ERROR|FLOW_CONTROL_ERROR)\b|error code (1|3|6|9)\b/;

function messageOf(error: unknown): string {
  const m = (error as { message?: unknown } | null)?.message;
  return typeof m === 'string' ? m : '';
}

/**
 * Whether `error` proves that the server never processed the request, so that it may be
 * sent again whatever its method: refused unsent by a closed connection, an HTTP/2 stream
 * reset with REFUSED_STREAM (RFC 9113 §8.7; also how Node closes the streams above a
 * GOAWAY's last stream id), or a stream whose HEADERS frame could not be sent.
 */
export function isUnprocessed(error: unknown): boolean {
  const code = codeOf(error);
  if (code === 'ERR_HTTP_CONNECTION_RETIRED') return true;
  if (code === 'ERR_HTTP2_STREAM_ERROR') return messageOf(error).includes('REFUSED_STREAM');
  // undici's InformationalError for a stream's `frameError`; HEADERS is frame type 1.
  if (code === 'UND_ERR_INFO') return messageOf(error).includes('"frameError" received - type 1,');
  return false;
}

function protocolError(origin: string, error: unknown): HttpError {
  return new HttpError(
    'ERR_HTTP_PROTOCOL',
    origin,
    `${origin} broke the HTTP protocol: ${messageOf(error) || String(error)}`,
    error,
  );
}

/**
 * Maps an error undici (or Node's socket) reported for a request onto an
 * {@link HttpError} with `error` as its `cause`; weir's own errors pass through unchanged.
 * Every other failure gets a code too: `ERR_HTTP_REQUEST_FAILED` when nothing more is known.
 */
export function requestError(origin: string, error: unknown): WeirError {
  if (error instanceof WeirError) return error;
  const code = codeOf(error);
  if (code === 'UND_ERR_HEADERS_TIMEOUT') {
    return new HttpError(
      'ERR_HTTP_HEADERS_TIMEOUT',
      origin,
      `${origin} sent no response headers within headersTimeoutMs`,
      error,
    );
  }
  if (code === 'UND_ERR_BODY_TIMEOUT') {
    return new HttpError(
      'ERR_HTTP_BODY_TIMEOUT',
      origin,
      `${origin} sent no body bytes within bodyTimeoutMs`,
      error,
    );
  }
  if (code !== undefined && CONNECT_CODES.has(code)) return connectError(origin, error);
  // undici's HTTPParserError often has no code at all (a malformed status line has none).
  if (
    (code !== undefined && (code.startsWith('HPE_') || PROTOCOL_CODES.has(code))) ||
    (error as { name?: unknown } | null)?.name === 'HTTPParserError'
  ) {
    return protocolError(origin, error);
  }
  if (isUnprocessed(error)) {
    return new HttpError(
      'ERR_HTTP_CONNECTION_RETIRED',
      origin,
      `${origin} refused the request unprocessed (its connection was closing or going away)`,
      error,
    );
  }
  if (code === 'UND_ERR_INFO') {
    // undici's notes about an HTTP/2 stream or an HTTP/1.1 socket that ended early; a
    // frame the server sent that could not be parsed is its protocol error.
    return messageOf(error).includes('frameError')
      ? protocolError(origin, error)
      : new HttpError(
          'ERR_HTTP_SOCKET',
          origin,
          `The connection to ${origin} closed during the request (${messageOf(error)})`,
          error,
        );
  }
  if (code !== undefined && SOCKET_CODES.has(code)) {
    if (code.startsWith('ERR_HTTP2_') && H2_PROTOCOL.test(messageOf(error))) {
      return protocolError(origin, error);
    }
    return new HttpError(
      'ERR_HTTP_SOCKET',
      origin,
      `The connection to ${origin} closed during the request`,
      error,
    );
  }
  if (code !== undefined && INVALID_REQUEST_CODES.has(code)) {
    return new HttpError(
      'ERR_HTTP_INVALID_REQUEST',
      origin,
      `undici refused the request to ${origin} as malformed: ${messageOf(error)}`,
      error,
    );
  }
  return new HttpError(
    'ERR_HTTP_REQUEST_FAILED',
    origin,
    `The request to ${origin} failed: ${messageOf(error) || String(error)}`,
    error,
  );
}

/** Whether `error` says the connection failed under the request (not the request itself). */
export function isSocketError(error: unknown): boolean {
  const code = codeOf(error);
  return (
    code === 'UND_ERR_SOCKET' ||
    code === 'UND_ERR_CLOSED' ||
    code === 'ECONNRESET' ||
    code === 'EPIPE' ||
    code === 'ERR_HTTP_SOCKET' ||
    code === 'ERR_HTTP2_GOAWAY_SESSION' ||
    code === 'ERR_HTTP2_INVALID_SESSION' ||
    // A GOAWAY with an error code: Node destroys the session with this.
    code === 'ERR_HTTP2_SESSION_ERROR' ||
    code === 'ERR_HTTP2_STREAM_ERROR'
  );
}

/** The code an error is counted under in `stats().errors`. */
export function statsCode(error: unknown): string {
  return codeOf(error) ?? (error instanceof Error ? error.name : 'unknown');
}

/** @internal A request refused unsent because its connection had closed or gone away. */
export function retiredError(origin: string): HttpError {
  return new HttpError(
    'ERR_HTTP_CONNECTION_RETIRED',
    origin,
    `The connection to ${origin} is closed; the request was not sent`,
  );
}
