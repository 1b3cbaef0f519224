import type { Clock, TimerHandle } from '../internal/clock.js';
import { HttpError } from './errors.js';

/**
 * @internal The headers and body timeouts of one request, on the pool's clock.
 *
 * undici runs its HTTP/1.1 timeouts on a timer wheel that ticks twice a second, so a
 * 200 ms `headersTimeout` fires after 0.5 to 1 s, and on real time only, so tests cannot
 * drive it. weir turns undici's timeouts off and keeps its own: one timer per request,
 * armed when undici writes the request and moved only when it must fire earlier. Progress
 * (a body chunk written or received) just records the time; when the timer fires it
 * re-arms for whatever is left. So a request costs one timer, whatever its size.
 *
 * - headers: no response headers within `headersMs` after the request was written (each
 *   chunk of a request body being written counts as progress, so that a long upload is not
 *   cut off while it moves);
 * - body: no body bytes for `bodyMs`; not counted while the reader holds the body paused
 *   (a full buffer is the reader's business: `unreadBodyTimeoutMs` covers it).
 */
export class Deadline {
  readonly #clock: Clock;
  readonly #origin: string;
  readonly #headersMs: number;
  readonly #bodyMs: number;
  readonly #onTimeout: (error: HttpError) => void;
  readonly #fire = (): void => this.#check();
  #handle: TimerHandle = undefined;
  #due = 0;
  #mark = 0;
  #limit = Number.POSITIVE_INFINITY;
  #inBody = false;
  /** True while the reader holds the body paused. */
  paused = false;

  constructor(
    clock: Clock,
    origin: string,
    headersMs: number,
    bodyMs: number,
    onTimeout: (error: HttpError) => void,
  ) {
    this.#clock = clock;
    this.#origin = origin;
    this.#headersMs = headersMs;
    this.#bodyMs = bodyMs;
    this.#onTimeout = onTimeout;
  }

  /** The request is being written: the headers timeout starts. */
  start(): void {
    this.#inBody = false;
    this.paused = false;
    this.#phase(this.#headersMs);
  }

  /** The response headers arrived: the body timeout starts. */
  body(): void {
    this.#inBody = true;
    this.#phase(this.#bodyMs);
  }

  /** Bytes moved (written, or received): the current timeout counts from now. */
  progress(): void {
    this.#mark = this.#clock.now();
  }

  /** The request finished: no timeout any more. */
  stop(): void {
    this.#limit = Number.POSITIVE_INFINITY;
    if (this.#handle !== undefined) {
      this.#clock.clearTimeout(this.#handle);
      this.#handle = undefined;
    }
  }

  #phase(limit: number): void {
    const now = this.#clock.now();
    this.#mark = now;
    this.#limit = limit;
    if (!Number.isFinite(limit)) {
      this.stop();
      return;
    }
    // A timer due no later than the new deadline is kept: it re-arms for the rest then.
    if (this.#handle !== undefined && this.#due <= now + limit) return;
    this.#arm(now, limit);
  }

  #arm(now: number, ms: number): void {
    if (this.#handle !== undefined) this.#clock.clearTimeout(this.#handle);
    this.#due = now + ms;
    // Unref'd: the request's socket keeps the process alive while it is in flight.
    this.#handle = this.#clock.setTimeout(this.#fire, ms, true);
  }

  #check(): void {
    this.#handle = undefined;
    if (!Number.isFinite(this.#limit)) return;
    const now = this.#clock.now();
    if (this.#inBody && this.paused) this.#mark = now;
    const left = this.#mark + this.#limit - now;
    if (left > 0) {
      this.#arm(now, left);
      return;
    }
    this.#limit = Number.POSITIVE_INFINITY;
    this.#onTimeout(
      this.#inBody
        ? new HttpError(
            'ERR_HTTP_BODY_TIMEOUT',
            this.#origin,
            `${this.#origin} sent no body bytes for ${this.#bodyMs} ms (bodyTimeoutMs)`,
          )
        : new HttpError(
            'ERR_HTTP_HEADERS_TIMEOUT',
            this.#origin,
            `${this.#origin} sent no response headers within ${this.#headersMs} ms (headersTimeoutMs)`,
          ),
    );
  }
}

/**
 * @internal A request's timeout: its own if it set one, else the origin's. 0 (undici's
 * spelling) and Infinity (weir's) are off.
 */
export function timeoutMs(own: number | undefined, fallback: number): number {
  const ms = own ?? fallback;
  return ms === 0 ? Number.POSITIVE_INFINITY : ms;
}
