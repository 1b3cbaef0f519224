import type { Clock } from '../internal/clock.js';
import { realClock } from '../internal/clock.js';
import { TimeoutError } from '../internal/errors.js';
import { checkFn, checkKeys, checkMs, checkObject, optionKeys } from '../internal/options.js';
import { abortReason, checkSignal, onAbort } from '../internal/signals.js';
import { EXECUTE_KEYS, type ExecuteOptions, type Policy, type PolicyContext } from './policy.js';

/** What {@link withTimeout} passes to `fn`: a signal that aborts at the deadline. */
export interface TimeoutContext extends PolicyContext {
  /** Aborts with a `TimeoutError` at the deadline, or with the caller's reason. */
  readonly signal: AbortSignal;
}

/** Options of {@link withTimeout} and {@link timeoutPolicy}. */
export interface TimeoutOptions {
  /** Source of time. @default the real clock */
  clock?: Clock;
}

const TIMEOUT_KEYS = optionKeys<TimeoutOptions>({ clock: 1 });
const WITH_TIMEOUT_KEYS = optionKeys<TimeoutOptions & ExecuteOptions>({ clock: 1, signal: 1 });

function check(ms: number, options: TimeoutOptions): Clock {
  checkMs('ms', ms, 0, true);
  checkObject('options', options);
  checkObject('clock', options.clock);
  return options.clock ?? realClock;
}

function run<R>(
  fn: (context: TimeoutContext) => R | PromiseLike<R>,
  ms: number,
  clock: Clock,
  parent: AbortSignal | undefined,
): Promise<R> {
  if (parent?.aborted) return Promise.reject(abortReason(parent));
  return new Promise<R>((resolve, reject) => {
    const controller = new AbortController();
    let done = false;
    const settle = (): boolean => {
      if (done) return false;
      done = true;
      clock.clearTimeout(timer);
      disposeParent();
      return true;
    };
    const onParentAbort = (reason: unknown): void => {
      if (!settle()) return;
      controller.abort(reason);
      reject(reason);
    };
    // The deadline rejects even if `fn` ignores its signal: a timeout that waits for a
    // stuck call is no timeout. `fn`'s late outcome is then dropped (and handled, so it
    // never surfaces as an unhandled rejection).
    const timer = clock.setTimeout(() => {
      if (!settle()) return;
      const error = new TimeoutError(
        `Timed out after ${ms} ms; the operation was aborted (raise the timeout, or find what is slow)`,
      );
      controller.abort(error);
      reject(error);
    }, ms);
    const disposeParent = onAbort(parent, onParentAbort);
    let result: R | PromiseLike<R>;
    try {
      result = fn({ signal: controller.signal });
    } catch (error) {
      if (settle()) reject(error);
      return;
    }
    Promise.resolve(result).then(
      (value) => {
        if (settle()) resolve(value);
      },
      (error: unknown) => {
        if (settle()) reject(error);
      },
    );
  });
}

/**
 * Runs `fn` with a signal that aborts after `ms`; rejects with `ERR_TIMEOUT` at that
 * deadline even if `fn` ignores the signal. The caller's `signal` aborts it sooner, with
 * its own reason. No timer or listener outlives the call. `ms = Infinity` sets no deadline.
 * @example
 * const res = await withTimeout(({ signal }) => fetch(url, { signal }), 2_000, { signal: req.signal });
 * @throws {TimeoutError} `ERR_TIMEOUT` at the deadline.
 * @throws {RangeError} if `ms` is not a number >= 0.
 * @throws whatever `fn` throws, or the signal's reason.
 */
export function withTimeout<R>(
  fn: (context: TimeoutContext) => R | PromiseLike<R>,
  ms: number,
  options: TimeoutOptions & ExecuteOptions = {},
): Promise<R> {
  checkKeys('withTimeout', options, WITH_TIMEOUT_KEYS);
  const clock = check(ms, options);
  checkFn('fn', fn, true);
  return run(fn, ms, clock, checkSignal(options.signal));
}

/**
 * {@link withTimeout} as a reusable {@link Policy}, for {@link wrap}.
 * @example
 * const policy = wrap(retryPolicy(), timeoutPolicy(1_000)); // 1 s per attempt
 * @throws {RangeError} if `ms` is not a number >= 0.
 */
export function timeoutPolicy(ms: number, options: TimeoutOptions = {}): Policy {
  checkKeys('timeoutPolicy', options, TIMEOUT_KEYS);
  const clock = check(ms, options);
  return {
    execute<R>(
      fn: (context: PolicyContext) => R | PromiseLike<R>,
      execOptions?: ExecuteOptions,
    ): Promise<R> {
      checkKeys('timeoutPolicy execute', execOptions, EXECUTE_KEYS);
      return run(fn, ms, clock, checkSignal(execOptions?.signal));
    },
  };
}
