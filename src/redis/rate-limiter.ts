import { describe } from '../internal/errors.js';
import { checkKeys, checkMs, checkObject, optionKeys } from '../internal/options.js';
import { abortReason, checkSignal } from '../internal/signals.js';
import { RateLimitedError } from '../resilience/errors.js';
import { EXECUTE_KEYS, type ExecuteOptions, type PolicyContext } from '../resilience/policy.js';
import { checkRate, RateLimiter } from '../resilience/rate-limiter.js';
import { sleep } from '../resilience/sleep.js';
import { RedisUnavailableError } from './errors.js';
import { RATE_LIMIT, RATE_LIMIT_MANY, RATE_REFUND } from './lua.js';
import { BASE_KEYS, type RedisBaseOptions, type ResolvedBase, resolveBase } from './options.js';
import { isUnavailable, Script, within } from './scripts.js';

const LIMIT = new Script(RATE_LIMIT);
const REFUND = new Script(RATE_REFUND);
const LIMIT_MANY = new Script(RATE_LIMIT_MANY);

interface Check {
  tokens: number;
  askedAt: number;
  resolve: (granted: boolean) => void;
  reject: (error: unknown) => void;
}

/** Options of a {@link RedisRateLimiter}. */
export interface RedisRateLimiterOptions extends RedisBaseOptions {
  /** Tokens per second across the whole fleet; a finite number above 0. Required. */
  ratePerSecond: number;
  /**
   * The most tokens that can be taken at once after a quiet period (a number >= 1).
   * @default max(1, ratePerSecond)
   */
  burst?: number;
  /**
   * The longest an `acquire` may be booked ahead, in ms; a call that would wait longer is
   * refused with `ERR_RATE_LIMITED` (and `retryAfterMs`) without taking anything.
   * @default 60_000
   */
  maxWaitMs?: number;
}

const RATE_KEYS = optionKeys<RedisRateLimiterOptions>({
  ...BASE_KEYS,
  ratePerSecond: 1,
  burst: 1,
  maxWaitMs: 1,
});

/**
 * A rate limit shared by the fleet: GCRA (the cell rate algorithm, a token bucket kept as
 * one timestamp) in one Lua script on the server's clock, so clients' clocks never skew
 * it. Shaped like `weir/resilience`'s `RateLimiter`: `tryAcquire` never waits; `acquire`
 * books its tokens in one round trip and waits out the delay Redis gave it, so callers
 * across processes are served in the order they asked, with no polling.
 *
 * While Redis is unreachable, `whenUnavailable` decides: `'fail-closed'` throws
 * `ERR_REDIS_UNAVAILABLE`, `'fail-open'` lets calls through, and `{ localLimit: n }`
 * limits this process to `n` tokens per second on its own.
 * @example
 * const limiter = new RedisRateLimiter({ redis, key: 'api', ratePerSecond: 100, burst: 20 });
 * if (!(await limiter.tryAcquire())) return res.writeHead(429).end();
 * await limiter.acquire(1, { signal }); // or wait for the turn
 */
export class RedisRateLimiter {
  readonly #base: ResolvedBase;
  readonly #intervalUs: number;
  readonly #burst: number;
  readonly #maxWaitMs: number;
  readonly #keys: readonly string[];
  readonly #local: RateLimiter | undefined;
  // tryAcquire calls made while a check is on the wire, sent together in one script when it
  // answers: one round trip and one script for many callers, in the order they asked.
  #checks: Check[] = [];
  #checking = false;

  /** @throws {TypeError|RangeError} for bad options, naming the option. */
  constructor(options: RedisRateLimiterOptions) {
    if (options === undefined) {
      throw new TypeError(
        'Expected `options` to be an object with `redis`, `key` and `ratePerSecond`',
      );
    }
    checkObject('options', options);
    checkKeys('RedisRateLimiter', options, RATE_KEYS);
    this.#base = resolveBase(options);
    const { rate, burst } = checkRate(options);
    this.#intervalUs = 1_000_000 / rate;
    this.#burst = burst;
    this.#maxWaitMs = checkMs('maxWaitMs', options.maxWaitMs ?? 60_000, 0, false);
    this.#keys = [`${this.#base.prefix}rate:{${this.#base.key}}`];
    const w = this.#base.whenUnavailable;
    this.#local =
      typeof w === 'number'
        ? new RateLimiter({ ratePerSecond: w, clock: this.#base.clock, name: this.#base.key })
        : undefined;
  }

  /**
   * Takes `tokens` now if the fleet's bucket holds them; never waits. Calls made while
   * another check of this limiter is on the wire go together in the next script (one round
   * trip for all of them, checked in the order they were made), so many concurrent checks
   * cost the server one script rather than one each.
   * @default tokens 1
   * @throws {RangeError} if `tokens` is not an integer from 1 to `burst`.
   * @throws {RedisUnavailableError} `ERR_REDIS_UNAVAILABLE` while Redis does not answer
   * and the policy is 'fail-closed'.
   */
  async tryAcquire(tokens = 1): Promise<boolean> {
    this.#checkTokens(tokens);
    try {
      return await new Promise<boolean>((resolve, reject) => {
        this.#checks.push({ tokens, askedAt: this.#base.clock.now(), resolve, reject });
        if (!this.#checking) this.#sendChecks();
      });
    } catch (error) {
      return this.#degraded(error, tokens, undefined, true);
    }
  }

  /** Sends the checks waiting, in one script; the ones asked meanwhile go next. */
  #sendChecks(): void {
    const batch = this.#checks;
    this.#checks = [];
    this.#checking = true;
    const { redis, clock, connectTimeoutMs, key } = this.#base;
    const args = [this.#intervalUs, this.#burst, ...batch.map((c) => c.tokens)];
    // Every caller has its answer within connectTimeoutMs of asking, the wait behind the
    // check before included.
    const left = Math.max(1, connectTimeoutMs - (clock.now() - batch[0]!.askedAt));
    within(clock, left, `a rate check on "${key}"`, LIMIT_MANY.run(redis, this.#keys, args)).then(
      (reply) => {
        const granted = reply as number[];
        for (const [i, c] of batch.entries()) c.resolve(Number(granted[i]) === 1);
        this.#nextChecks();
      },
      (error: unknown) => {
        for (const c of batch) c.reject(error);
        // Those asked meanwhile would wait on the same Redis: the policy answers them now.
        if (isUnavailable(error)) for (const c of this.#checks.splice(0)) c.reject(error);
        this.#nextChecks();
      },
    );
  }

  #nextChecks(): void {
    this.#checking = false;
    if (this.#checks.length > 0) this.#sendChecks();
  }

  /**
   * Books `tokens` and waits until they are due (on this process's clock, from the delay
   * the server computed). An abort gives the booked tokens back.
   * @default tokens 1
   * @throws {RateLimitedError} `ERR_RATE_LIMITED` when the wait would exceed `maxWaitMs`;
   * `retryAfterMs` says when to try again. Nothing was taken.
   * @throws {RedisUnavailableError} `ERR_REDIS_UNAVAILABLE` (policy 'fail-closed').
   * @throws the signal's reason when it aborts.
   */
  async acquire(tokens = 1, options?: ExecuteOptions): Promise<void> {
    this.#checkTokens(tokens);
    checkObject('options', options);
    checkKeys('RedisRateLimiter.acquire', options, EXECUTE_KEYS);
    const signal = checkSignal(options?.signal);
    if (signal?.aborted) throw abortReason(signal);
    let reply: [number, number];
    try {
      reply = (await this.#run(LIMIT, tokens, Math.floor(this.#maxWaitMs * 1000))) as [
        number,
        number,
      ];
    } catch (error) {
      await this.#degraded(error, tokens, signal, false);
      return;
    }
    const waitMs = Number(reply[1]) / 1000;
    if (Number(reply[0]) !== 1) {
      const after = Math.ceil(waitMs);
      throw new RateLimitedError(
        `RedisRateLimiter "${this.#base.key}" refused ${tokens} token(s): the wait (${after} ms) would exceed maxWaitMs (${this.#maxWaitMs}); retry in ${after} ms`,
        after,
      );
    }
    if (waitMs <= 0 && !signal?.aborted) return;
    try {
      await this.#sleep(waitMs, signal);
    } catch (reason) {
      this.#run(REFUND, tokens).catch(() => {});
      throw reason;
    }
  }

  /**
   * Takes one token (waiting for it) and runs `fn`.
   * @throws what {@link acquire} throws, and whatever `fn` throws.
   */
  async execute<R>(
    fn: (context: PolicyContext) => R | PromiseLike<R>,
    options?: ExecuteOptions,
  ): Promise<R> {
    await this.acquire(1, options);
    return fn({ signal: options?.signal });
  }

  #checkTokens(tokens: number): void {
    if (!Number.isInteger(tokens) || tokens < 1 || tokens > this.#burst) {
      throw new RangeError(
        `Expected \`tokens\` to be an integer from 1 to \`burst\` (${this.#burst}), got ${describe(tokens)}`,
      );
    }
  }

  #run(script: Script, tokens: number, maxWaitUs?: number): Promise<unknown> {
    const { redis, clock, connectTimeoutMs, key } = this.#base;
    const args =
      script === LIMIT
        ? [this.#intervalUs, this.#burst, tokens, maxWaitUs ?? 0]
        : [this.#intervalUs, tokens];
    return within(
      clock,
      connectTimeoutMs,
      `a rate check on "${key}"`,
      script.run(redis, this.#keys, args),
    );
  }

  #sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
    return sleep(this.#base.clock, ms, signal);
  }

  async #degraded(
    error: unknown,
    tokens: number,
    signal: AbortSignal | undefined,
    tryOnly: boolean,
  ): Promise<boolean> {
    const policy = this.#base.whenUnavailable;
    if (!isUnavailable(error) || policy === 'fail-closed') throw error;
    if (policy === 'fail-open') return true;
    const local = this.#local as RateLimiter;
    if (tokens > policy) {
      throw new RedisUnavailableError(
        `Redis is unreachable and ${tokens} tokens exceed the local fallback limit (${policy}/s) of "${this.#base.key}"`,
        { cause: error },
      );
    }
    if (tryOnly) return local.tryAcquire(tokens);
    await local.acquire(tokens, { signal });
    return true;
  }
}
