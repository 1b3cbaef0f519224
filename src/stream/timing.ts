import type { Clock, TimerHandle } from '../internal/clock.js';
import { StreamTimeoutError } from './errors.js';
import {
  closeQuietly,
  DONE,
  isPending,
  type Pull,
  type Pulled,
  type Step,
  settle,
} from './pull.js';

/**
 * @internal `rateLimit(perSecond, { burst })`: a token bucket in front of the upstream.
 * It waits before pulling, so the upstream itself is paced, not just the output.
 */
export class RateLimitPull<T> implements Pull<T> {
  readonly #up: Pull<T>;
  readonly #perMs: number;
  readonly #burst: number;
  readonly #clock: Clock;
  #tokens: number;
  #last: number;
  #timer: TimerHandle = undefined;
  #resolveWait: ((s: Step<T>) => void) | null = null;
  #closed = false;

  constructor(up: Pull<T>, perSecond: number, burst: number, clock: Clock) {
    this.#up = up;
    this.#perMs = perSecond / 1000;
    this.#burst = burst;
    this.#clock = clock;
    this.#tokens = burst;
    this.#last = clock.now();
  }

  next(): Pulled<T> {
    const now = this.#clock.now();
    this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#last) * this.#perMs);
    this.#last = now;
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return this.#up.next();
    }
    const waitMs = (1 - this.#tokens) / this.#perMs;
    return new Promise<Step<T>>((resolve, reject) => {
      this.#resolveWait = resolve;
      this.#timer = this.#clock.setTimeout(() => {
        this.#timer = undefined;
        this.#resolveWait = null;
        try {
          resolve(settle(this.next()));
        } catch (error) {
          reject(error);
        }
      }, waitMs);
    });
  }

  return(): void | Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    const resolve = this.#resolveWait;
    this.#resolveWait = null;
    resolve?.(DONE);
    return this.#up.return();
  }
}

/**
 * @internal `timeout(ms)`: each pull that takes longer than `ms` fails with
 * `ERR_STREAM_TIMEOUT` and stops the upstream. Synchronous pulls never time out.
 */
export class TimeoutPull<T> implements Pull<T> {
  readonly #up: Pull<T>;
  readonly #ms: number;
  readonly #clock: Clock;
  #timer: TimerHandle = undefined;
  #closed = false;

  constructor(up: Pull<T>, ms: number, clock: Clock) {
    this.#up = up;
    this.#ms = ms;
    this.#clock = clock;
  }

  next(): Step<T> | Promise<Step<T>> {
    const r = settle(this.#up.next());
    if (!isPending(r)) return r;
    return new Promise<Step<T>>((resolve, reject) => {
      this.#timer = this.#clock.setTimeout(() => {
        this.#timer = undefined;
        this.#closed = true;
        void closeQuietly(this.#up);
        reject(new StreamTimeoutError(this.#ms));
      }, this.#ms);
      r.then(
        (s) => {
          if (this.#timer === undefined) return;
          this.#clock.clearTimeout(this.#timer);
          this.#timer = undefined;
          resolve(s);
        },
        (error: unknown) => {
          if (this.#timer === undefined) return;
          this.#clock.clearTimeout(this.#timer);
          this.#timer = undefined;
          reject(error);
        },
      );
    });
  }

  return(): void | Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    return this.#up.return();
  }
}
