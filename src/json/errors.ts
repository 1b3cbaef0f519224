import { WeirError } from '../internal/errors.js';

/**
 * An item could not be encoded as JSON (a `BigInt`, a cycle, a throwing `toJSON`).
 * Code `ERR_JSON_ENCODE`; the encoder's own error is the `cause`.
 */
export class JsonEncodeError extends WeirError {
  /** Zero-based position of the item in the source. */
  readonly index: number;

  constructor(index: number, cause: unknown) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super(
      'ERR_JSON_ENCODE',
      `Item ${index} cannot be encoded as JSON (${why}); the body was left incomplete so that no client takes it for a complete one`,
      { cause },
    );
    this.index = index;
  }
}

/**
 * A byte stream is not a well-formed JSON array or NDJSON body. Code `ERR_JSON_PARSE`.
 * `offset` is the byte offset in the whole body where the problem was found.
 */
export class JsonParseError extends WeirError {
  /** Byte offset from the start of the body (0-based). */
  readonly offset: number;

  constructor(message: string, offset: number, options?: { cause?: unknown }) {
    super('ERR_JSON_PARSE', `${message} at byte ${offset}`, options);
    this.offset = offset;
  }
}

/**
 * One item of a parsed body is larger than `maxItemBytes`: parsing stops before buffering
 * more of it, so that a hostile body cannot exhaust memory. Code `ERR_JSON_ITEM_TOO_LARGE`.
 */
export class JsonItemTooLargeError extends WeirError {
  /** Byte offset where the item starts. */
  readonly offset: number;
  /** The limit that was exceeded, in bytes. */
  readonly maxItemBytes: number;

  constructor(offset: number, maxItemBytes: number) {
    super(
      'ERR_JSON_ITEM_TOO_LARGE',
      `The item starting at byte ${offset} is larger than maxItemBytes (${maxItemBytes} bytes); raise the limit if such items are expected`,
    );
    this.offset = offset;
    this.maxItemBytes = maxItemBytes;
  }
}
