import { TimeoutError } from '../internal/errors.js';

/**
 * `stream.timeout(ms)`: the upstream took longer than `ms` to produce an item.
 * Code `ERR_STREAM_TIMEOUT`.
 */
export class StreamTimeoutError extends TimeoutError {
  /** The per-item limit that was exceeded, in ms. */
  readonly timeoutMs: number;

  constructor(timeoutMs: number) {
    super(
      `The stream produced no item within ${timeoutMs} ms (timeout); the upstream was stopped`,
      { code: 'ERR_STREAM_TIMEOUT' },
    );
    this.timeoutMs = timeoutMs;
  }
}
