import type { Clock } from '../internal/clock.js';
import { realClock } from '../internal/clock.js';
import { describe } from '../internal/errors.js';
import {
  checkFn,
  checkInt,
  checkKeys,
  checkMs,
  checkObject,
  type KeyList,
  omitKeys,
  optionKeys,
} from '../internal/options.js';
import { abortReason, checkSignal } from '../internal/signals.js';
import { type Backoff, decorrelatedJitter } from './backoff.js';
import { EXECUTE_KEYS, type ExecuteOptions, type Policy, type PolicyContext } from './policy.js';
import { sleep } from './sleep.js';

/** What {@link retry} passes to each attempt. */
export interface RetryContext extends PolicyContext {
  /** 1 for the first call, 2 for the first retry, … */
  readonly attempt: number;
}

/** What {@link RetryOptions.onRetry} is told before each wait. */
export interface RetryEvent {
  /** The error of the attempt that failed. */
  error: unknown;
  /** The attempt that failed (1-based). */
  attempt: number;
  /** How long retry waits before the next attempt. */
  delayMs: number;
}

/** Options of {@link retry} and {@link retryPolicy}. */
export interface RetryOptions {
  /** Attempts in all, the first call included; an integer >= 1 or Infinity. @default 3 */
  attempts?: number;
  /** Delay before each retry. @default decorrelatedJitter({ baseMs: 100, maxMs: 30_000 }) */
  backoff?: Backoff;
  /**
   * Whether the error of attempt `attempt` (1-based) is worth another try. It is not asked
   * after the last attempt, nor once the signal has aborted.
   * @default every error is retried
   */
  retryOn?: (error: unknown, attempt: number) => boolean;
  /**
   * Reads a server-given delay from the error (an HTTP `Retry-After`, a breaker's
   * `retryAfterMs`), in milliseconds; retry then waits at least that long. `false` ignores
   * such hints.
   * @default reads a numeric `retryAfterMs` property (CircuitOpenError, RateLimitedError)
   */
  retryAfter?: false | ((error: unknown) => number | undefined);
  /**
   * A hint longer than this means "not any time soon": retry gives up and throws the error
   * instead of waiting (an isolated breaker's hint is Infinity). @default 60_000 ms
   */
  maxRetryAfterMs?: number;
  /** Called before each wait, for logging and metrics. */
  onRetry?: (event: RetryEvent) => void;
  /** Random source in [0, 1) for the backoff's jitter; inject a seeded one in tests. @default Math.random */
  random?: () => number;
  /** Source of time for the waits. @default the real clock */
  clock?: Clock;
  /** Aborting stops at once: a wait in progress rejects with the signal's reason. */
  signal?: AbortSignal | undefined;
}

const retryKeys: KeyList<RetryOptions> = {
  attempts: 1,
  backoff: 1,
  retryOn: 1,
  retryAfter: 1,
  maxRetryAfterMs: 1,
  onRetry: 1,
  random: 1,
  clock: 1,
  signal: 1,
};
const RETRY_KEYS = optionKeys(retryKeys);
// A policy's signal comes with each execute() call, so retryPolicy() takes none.
const RETRY_POLICY_KEYS = optionKeys(omitKeys(retryKeys, 'signal'));

interface Resolved {
  attempts: number;
  backoff: Backoff;
  retryOn: ((error: unknown, attempt: number) => boolean) | undefined;
  retryAfter: ((error: unknown) => number | undefined) | undefined;
  maxRetryAfterMs: number;
  onRetry: ((event: RetryEvent) => void) | undefined;
  random: () => number;
  clock: Clock;
}

function readRetryAfterMs(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const v = (error as { retryAfterMs?: unknown }).retryAfterMs;
  return typeof v === 'number' && !Number.isNaN(v) ? v : undefined;
}

function resolve(options: RetryOptions): Resolved {
  checkObject('options', options);
  const retryAfter = options.retryAfter;
  if (retryAfter !== undefined && retryAfter !== false && typeof retryAfter !== 'function') {
    throw new TypeError(
      `Expected \`retryAfter\` to be a function or false, got ${describe(retryAfter)}`,
    );
  }
  checkObject('clock', options.clock);
  return {
    attempts: checkInt('attempts', options.attempts ?? 3, 1, true),
    backoff: checkFn<Backoff>('backoff', options.backoff, false) ?? decorrelatedJitter(),
    retryOn: checkFn('retryOn', options.retryOn, false),
    retryAfter: retryAfter === false ? undefined : (retryAfter ?? readRetryAfterMs),
    maxRetryAfterMs: checkMs('maxRetryAfterMs', options.maxRetryAfterMs ?? 60_000, 0, true),
    onRetry: checkFn('onRetry', options.onRetry, false),
    random: checkFn<() => number>('random', options.random, false) ?? Math.random,
    clock: options.clock ?? realClock,
  };
}

async function run<R>(
  fn: (context: RetryContext) => R | PromiseLike<R>,
  o: Resolved,
  signal: AbortSignal | undefined,
): Promise<R> {
  let previous = 0;
  for (let attempt = 1; ; attempt++) {
    if (signal?.aborted) throw abortReason(signal);
    try {
      return await fn({ signal, attempt });
    } catch (error) {
      // An abort ends it with the signal's reason, whatever the attempt made of it.
      if (signal?.aborted) throw abortReason(signal);
      if (attempt >= o.attempts) throw error;
      if (o.retryOn !== undefined && !o.retryOn(error, attempt)) throw error;
      let delay = o.backoff(attempt, previous, o.random);
      if (typeof delay !== 'number' || !(delay >= 0) || !Number.isFinite(delay)) {
        throw new RangeError(
          `Expected \`backoff\` to return a finite number of milliseconds >= 0, got ${describe(delay)}`,
          { cause: error },
        );
      }
      // The backoff's own sequence goes on from its own value, not from a server's hint.
      previous = delay;
      const hint = o.retryAfter?.(error);
      if (hint !== undefined) {
        if (hint > o.maxRetryAfterMs) throw error;
        if (hint > delay) delay = hint;
      }
      o.onRetry?.({ error, attempt, delayMs: delay });
      await sleep(o.clock, delay, signal);
    }
  }
}

/**
 * Calls `fn` until it succeeds, up to `attempts` times, waiting by `backoff` between tries
 * (at least as long as a `retryAfterMs` the error carries). Rejects with the last error.
 * @example
 * const user = await retry(({ signal }) => getUser(id, { signal }), {
 *   attempts: 5,
 *   backoff: exponentialBackoff({ initialMs: 100, jitter: 'full' }),
 *   retryOn: (err) => (err as { status?: number }).status !== 404,
 *   signal: req.signal,
 * });
 * @throws {TypeError|RangeError} for bad options, naming the option.
 * @throws the last attempt's error, or the signal's reason once it aborts.
 */
export function retry<R>(
  fn: (context: RetryContext) => R | PromiseLike<R>,
  options: RetryOptions = {},
): Promise<R> {
  checkKeys('retry', options, RETRY_KEYS);
  const o = resolve(options);
  checkFn('fn', fn, true);
  return run(fn, o, checkSignal(options.signal));
}

/**
 * {@link retry} as a reusable {@link Policy}, for {@link wrap}. Options are checked once.
 * @example
 * const policy = wrap(retryPolicy({ attempts: 3 }), breaker, timeoutPolicy(2_000));
 * @throws {TypeError|RangeError} for bad options, naming the option.
 */
export function retryPolicy(options: Omit<RetryOptions, 'signal'> = {}): Policy {
  checkKeys('retryPolicy', options, RETRY_POLICY_KEYS);
  const o = resolve(options);
  return {
    execute<R>(
      fn: (context: PolicyContext) => R | PromiseLike<R>,
      execOptions?: ExecuteOptions,
    ): Promise<R> {
      checkKeys('retryPolicy execute', execOptions, EXECUTE_KEYS);
      return run(fn, o, checkSignal(execOptions?.signal));
    },
  };
}
