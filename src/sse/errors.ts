import { WeirError } from '../internal/errors.js';

/**
 * A field of an event to send would let the payload forge another event: an `event` or
 * `id` with a line break (or an `id` with NUL), or a `retry` that is not an integer >= 0.
 * Code `ERR_SSE_INVALID_FIELD`.
 */
export class SseFieldError extends WeirError {
  constructor(message: string) {
    super('ERR_SSE_INVALID_FIELD', message);
  }
}

/** A send on a stream that is closed (the client went away, or `close()`). Code `ERR_SSE_CLOSED`. */
export class SseClosedError extends WeirError {
  constructor(
    message = 'The event stream is closed; the client disconnected or close() was called',
  ) {
    super('ERR_SSE_CLOSED', message);
  }
}

/**
 * A hub dropped a client whose unsent events went over `maxBufferedBytes`.
 * Code `ERR_SSE_CLIENT_TOO_SLOW`.
 */
export class SseSlowClientError extends WeirError {
  /** Bytes the client had not yet taken when it was dropped. */
  readonly bufferedBytes: number;
  constructor(bufferedBytes: number, maxBufferedBytes: number) {
    super(
      'ERR_SSE_CLIENT_TOO_SLOW',
      `The client was dropped: ${bufferedBytes} bytes waited to be sent, over maxBufferedBytes (${maxBufferedBytes}); it can reconnect with Last-Event-ID to catch up`,
    );
    this.bufferedBytes = bufferedBytes;
  }
}

/**
 * An incoming event stream broke a size limit: a line over `maxLineLength`
 * (`ERR_SSE_LINE_TOO_LONG`) or an event's data over `maxEventLength`
 * (`ERR_SSE_EVENT_TOO_LARGE`).
 */
export class SseLimitError extends WeirError {
  /** The limit that was exceeded, in characters. */
  readonly limit: number;
  constructor(code: 'ERR_SSE_LINE_TOO_LONG' | 'ERR_SSE_EVENT_TOO_LARGE', limit: number) {
    super(
      code,
      code === 'ERR_SSE_LINE_TOO_LONG'
        ? `An event-stream line is longer than maxLineLength (${limit} characters)`
        : `An event's data is longer than maxEventLength (${limit} characters)`,
    );
    this.limit = limit;
  }
}

/**
 * `connectSse` got a response that is not an event stream: a status other than 200 (or
 * 204, which ends the stream) is `ERR_SSE_STATUS`; another content type is
 * `ERR_SSE_CONTENT_TYPE`. Neither is retried, as the spec says.
 */
export class SseResponseError extends WeirError {
  /** The response's status. */
  readonly status: number;
  /** The response's `Content-Type`, or null. */
  readonly contentType: string | null;
  constructor(
    code: 'ERR_SSE_STATUS' | 'ERR_SSE_CONTENT_TYPE',
    url: string,
    status: number,
    contentType: string | null,
  ) {
    super(
      code,
      code === 'ERR_SSE_STATUS'
        ? `GET ${url} answered ${status}, not 200: not an event stream (not retried)`
        : `GET ${url} answered with Content-Type ${JSON.stringify(contentType)}, not text/event-stream (not retried)`,
    );
    this.status = status;
    this.contentType = contentType;
  }
}

/** `connectSse` failed `maxRetries` times in a row to connect. Code `ERR_SSE_RETRIES_EXHAUSTED`. */
export class SseRetriesExhaustedError extends WeirError {
  constructor(attempts: number, cause: unknown) {
    super(
      'ERR_SSE_RETRIES_EXHAUSTED',
      `Gave up on the event stream after ${attempts} failed attempts in a row`,
      { cause },
    );
  }
}
