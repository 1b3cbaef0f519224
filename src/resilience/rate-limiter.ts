import type { Clock, TimerHandle } from '../internal/clock.js';
import { realClock } from '../internal/clock.js';
import { describe } from '../internal/errors.js';
import { checkInt, checkKeys, checkObject, optionKeys } from '../internal/options.js';
import { abortReason, checkSignal } from '../internal/signals.js';
import { RateLimitedError } from './errors.js';
import {
  EXECUTE_KEYS,
  type ExecuteOptions,
  NO_SIGNAL,
  type Policy,
  type PolicyContext,
} from './policy.js';
import { type Waiter, WaitQueue } from './wait-queue.js';

/** Options of a {@link RateLimiter}. */
export interface RateLimiterOptions {
  /** Tokens added to the bucket per second; a finite number above 0. Required. */
  ratePerSecond: number;
  /**
   * Capacity of the bucket: the most tokens that can be taken at once after a quiet
   * period. The bucket starts full. A number >= 1. @default max(1, ratePerSecond)
   */
  burst?: number;
  /**
   * Callers that may wait at once; the next `acquire` is refused with `ERR_RATE_LIMITED`.
   * `0` never queues. @default 10_000
   */
  maxWaiting?: number;
  /** Name used in error messages. @default 'rate limiter' */
  name?: string;
  /** Source of time. @default the real clock */
  clock?: Clock;
}

const RATE_LIMITER_KEYS = optionKeys<RateLimiterOptions>({
  ratePerSecond: 1,
  burst: 1,
  maxWaiting: 1,
  name: 1,
  clock: 1,
});

// Tokens are fractional; sums of (elapsed ms × rate) can land a hair below a whole token.
const EPSILON = 1e-9;

/**
 * A token bucket: tokens refill continuously at `ratePerSecond` up to `burst`; each call
 * takes some. `tryAcquire` never waits; `acquire` waits in FIFO order (a large request at
 * the head is not starved by small ones behind it), with a bounded queue and one timer
 * for the whole queue.
 * @example
 * const limiter = new RateLimiter({ ratePerSecond: 50, burst: 10 });
 * await limiter.acquire(1, { signal: req.signal }); // waits for a token
 * if (!limiter.tryAcquire()) res.writeHead(429).end(); // or refuse at once
 */
export class RateLimiter implements Policy {
  readonly #ratePerMs: number;
  readonly #burst: number;
  readonly #maxWaiting: number;
  readonly #name: string;
  #rejected = 0;
  readonly #clock: Clock;
  #tokens: number;
  #last: number;
  // Tokens asked for by the queued waiters, for the retry hint of a refusal.
  #queuedTokens = 0;
  #timer: TimerHandle = undefined;
  readonly #queue: WaitQueue;

  /** @throws {TypeError|RangeError} for bad options, naming the option. */
  constructor(options: RateLimiterOptions) {
    if (options === undefined) {
      throw new TypeError('Expected `options` to be an object with `ratePerSecond`, got undefined');
    }
    checkObject('options', options);
    checkKeys('RateLimiter', options, RATE_LIMITER_KEYS);
    const { rate, burst } = checkRate(options);
    this.#ratePerMs = rate / 1000;
    this.#burst = burst;
    this.#maxWaiting = checkInt('maxWaiting', options.maxWaiting ?? 10_000, 0, true);
    if (options.name !== undefined && typeof options.name !== 'string') {
      throw new TypeError(`Expected \`name\` to be a string, got ${describe(options.name)}`);
    }
    this.#name = options.name ?? 'rate limiter';
    checkObject('clock', options.clock);
    this.#clock = options.clock ?? realClock;
    this.#tokens = burst;
    this.#last = this.#clock.now();
    this.#queue = new WaitQueue((waiter, wasHead) => this.#onAbort(waiter, wasHead));
  }

  /** Tokens in the bucket now (fractional). */
  get available(): number {
    this.#refill();
    return this.#tokens;
  }

  /** Callers waiting for tokens. */
  get waiting(): number {
    return this.#queue.size;
  }

  /** The limiter's name, as given in the options. */
  get name(): string {
    return this.#name;
  }

  /** Calls refused with `ERR_RATE_LIMITED` since the limiter was made. */
  get rejected(): number {
    return this.#rejected;
  }

  /**
   * Takes `tokens` now if the bucket holds them and nobody is queued ahead; never waits.
   * @default tokens 1
   * @throws {RangeError} if `tokens` is not an integer from 1 to `burst`.
   */
  tryAcquire(tokens = 1): boolean {
    if (tokens !== 1) this.#checkTokens(tokens);
    // Queued callers come first: taking tokens now would starve them.
    if (this.#queue.size !== 0) return false;
    this.#refill();
    if (this.#tokens + EPSILON < tokens) return false;
    this.#tokens -= tokens;
    return true;
  }

  /**
   * Waits until `tokens` can be taken, behind every caller already waiting.
   * @default tokens 1
   * @throws {RateLimitedError} `ERR_RATE_LIMITED` when `maxWaiting` callers already wait;
   * its `retryAfterMs` says when the tokens would be there.
   * @throws {RangeError} if `tokens` is not an integer from 1 to `burst`.
   * @throws the signal's reason when it aborts; the caller then leaves the queue.
   */
  acquire(tokens = 1, options?: ExecuteOptions): Promise<void> {
    if (tokens !== 1) this.#checkTokens(tokens);
    checkKeys('RateLimiter.acquire', options, EXECUTE_KEYS);
    const signal = options?.signal;
    if (signal !== undefined) {
      checkSignal(signal);
      if (signal.aborted) return Promise.reject(abortReason(signal));
    }
    if (this.tryAcquire(tokens)) return Promise.resolve();
    if (this.#queue.size >= this.#maxWaiting) {
      const deficit = this.#queuedTokens + tokens - this.#tokens;
      const after = Math.max(0, Math.ceil(deficit / this.#ratePerMs));
      this.#rejected++;
      return Promise.reject(
        new RateLimitedError(
          `Rate limiter "${this.#name}" refused the call: ${this.#queue.size} callers already wait (maxWaiting ${this.#maxWaiting}); retry in ${after} ms`,
          after,
        ),
      );
    }
    const promise = this.#queue.wait(tokens, signal);
    this.#queuedTokens += tokens;
    if (this.#queue.size === 1) this.#arm();
    return promise;
  }

  /**
   * Takes one token (waiting for it) and runs `fn`.
   * @throws {RateLimitedError} `ERR_RATE_LIMITED` when the queue is full.
   * @throws the signal's reason if it aborts while waiting; whatever `fn` throws.
   */
  execute<R>(
    fn: (context: PolicyContext) => R | PromiseLike<R>,
    options?: ExecuteOptions,
  ): Promise<R> {
    checkKeys('RateLimiter.execute', options, EXECUTE_KEYS);
    const signal = options?.signal;
    if (signal !== undefined || !this.tryAcquire(1)) return this.#executeWaiting(fn, options);
    // A token was there: call at once, without an async frame.
    try {
      return Promise.resolve(fn(NO_SIGNAL));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async #executeWaiting<R>(
    fn: (context: PolicyContext) => R | PromiseLike<R>,
    options: ExecuteOptions | undefined,
  ): Promise<R> {
    await this.acquire(1, options);
    const signal = options?.signal;
    return fn(signal === undefined ? NO_SIGNAL : { signal });
  }

  #checkTokens(tokens: number): void {
    if (!Number.isInteger(tokens) || tokens < 1 || tokens > this.#burst) {
      throw new RangeError(
        `Expected \`tokens\` to be an integer from 1 to \`burst\` (${this.#burst}), got ${describe(tokens)}`,
      );
    }
  }

  #refill(): void {
    const now = this.#clock.now();
    const elapsed = now - this.#last;
    if (elapsed > 0) {
      const t = this.#tokens + elapsed * this.#ratePerMs;
      this.#tokens = t > this.#burst ? this.#burst : t;
      this.#last = now;
    }
  }

  /** Grants queued callers in order while the bucket holds enough, then re-arms the timer. */
  #drain(): void {
    this.#refill();
    const q = this.#queue;
    for (let w = q.head; w !== null; w = q.head) {
      if (this.#tokens + EPSILON < w.tokens) break;
      this.#tokens -= w.tokens;
      this.#queuedTokens -= w.tokens;
      q.grantHead();
    }
    this.#arm();
  }

  /** One timer for the whole queue: due when the head's tokens will be there. */
  #arm(): void {
    if (this.#timer !== undefined) {
      this.#clock.clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    const head = this.#queue.head;
    if (head === null) return;
    const wait = Math.max(1, Math.ceil((head.tokens - this.#tokens) / this.#ratePerMs));
    this.#timer = this.#clock.setTimeout(this.#onTimer, wait);
  }

  readonly #onTimer = (): void => {
    this.#timer = undefined;
    this.#drain();
  };

  #onAbort(waiter: Waiter, wasHead: boolean): void {
    this.#queuedTokens -= waiter.tokens;
    // The new head may ask for fewer tokens and be served now, or later than the old one.
    if (wasHead) this.#drain();
  }
}

/**
 * @internal The `ratePerSecond` and `burst` of a token bucket, checked: a rate above 0 and
 * a burst >= 1 (by default the rate, at least 1). Shared with weir/redis's limiter.
 * @throws {RangeError} naming the option.
 */
export function checkRate(options: { ratePerSecond: number; burst?: number }): {
  rate: number;
  burst: number;
} {
  const rate = options.ratePerSecond;
  if (typeof rate !== 'number' || !Number.isFinite(rate) || rate <= 0) {
    throw new RangeError(
      `Expected \`ratePerSecond\` to be a finite number above 0, got ${describe(rate)}`,
    );
  }
  const burst = options.burst ?? Math.max(1, rate);
  if (typeof burst !== 'number' || !Number.isFinite(burst) || burst < 1) {
    throw new RangeError(`Expected \`burst\` to be a finite number >= 1, got ${describe(burst)}`);
  }
  return { rate, burst };
}
