import { WeirError, type WeirErrorCode } from '../internal/errors.js';

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
 * | `ERR_HTTP_SOCKET` | the connection closed or reset during the request |
 * | `ERR_HTTP_CONNECTION_RETIRED` | the connection had closed before the request was written, and the one retry met the same |
 * | `ERR_HTTP_UNREAD_BODY` | a response body was not read within `unreadBodyTimeoutMs` and was discarded |
 * | `ERR_HTTP_CLOSED` | the pool is closed |
 * | `ERR_HTTP_STATUS` | `download`/`upload` got a status outside 2xx |
 */
export class HttpError extends WeirError {
  /** The server, as `scheme://host:port`. */
  readonly origin: string;

  constructor(
    code: Extract<WeirErrorCode, `ERR_HTTP_${string}`>,
    origin: string,
    message: string,
    cause?: unknown,
  ) {
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

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Maps a failure to open a connection onto an {@link HttpError}. */
export function connectError(origin: string, error: unknown): HttpError {
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
 * Maps an error undici reported for a request onto an {@link HttpError}; errors that
 * are already weir's (or an abort reason) pass through unchanged.
 */
export function requestError(origin: string, error: unknown): unknown {
  if (error instanceof WeirError) return error;
  switch (codeOf(error)) {
    case 'UND_ERR_HEADERS_TIMEOUT':
      return new HttpError(
        'ERR_HTTP_HEADERS_TIMEOUT',
        origin,
        `${origin} sent no response headers within headersTimeoutMs`,
        error,
      );
    case 'UND_ERR_BODY_TIMEOUT':
      return new HttpError(
        'ERR_HTTP_BODY_TIMEOUT',
        origin,
        `${origin} sent no body bytes within bodyTimeoutMs`,
        error,
      );
    case 'UND_ERR_SOCKET':
    case 'UND_ERR_CLOSED':
    case 'ECONNRESET':
    case 'EPIPE':
      return new HttpError(
        'ERR_HTTP_SOCKET',
        origin,
        `The connection to ${origin} closed during the request`,
        error,
      );
    default:
      return error;
  }
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
    code === 'ERR_HTTP2_STREAM_ERROR'
  );
}

/** The code an error is counted under in `stats().errors`. */
export function statsCode(error: unknown): string {
  return codeOf(error) ?? (error instanceof Error ? error.name : 'unknown');
}
