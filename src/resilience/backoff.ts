import { describe } from '../internal/errors.js';
import { checkKeys, checkMs, checkObject, optionKeys } from '../internal/options.js';

/**
 * Computes the delay before a retry: `retry` counts from 1 (the wait after the first
 * failure), `previousMs` is what this backoff returned last time (0 before the first
 * retry), and `random` returns a number in [0, 1). Returns milliseconds.
 * Any function of this shape works; the factories below cover the usual ones.
 */
export type Backoff = (retry: number, previousMs: number, random: () => number) => number;

/**
 * The same delay before every retry.
 * @example
 * await retry(call, { backoff: constantBackoff(250) });
 * @throws {RangeError} if `delayMs` is not a finite number >= 0.
 */
export function constantBackoff(delayMs: number): Backoff {
  const d = checkMs('delayMs', delayMs, 0, false);
  return () => d;
}

/** Options of {@link linearBackoff}. */
export interface LinearBackoffOptions {
  /** Delay before the first retry. @default 100 ms */
  initialMs?: number;
  /** Added for each later retry. @default initialMs */
  stepMs?: number;
  /** Ceiling. @default 30_000 ms */
  maxMs?: number;
}

const LINEAR_KEYS = optionKeys<LinearBackoffOptions>({ initialMs: 1, stepMs: 1, maxMs: 1 });

/**
 * `initialMs`, then `initialMs + stepMs`, `initialMs + 2 × stepMs`, … up to `maxMs`.
 * @example
 * linearBackoff({ initialMs: 100, stepMs: 50 }); // 100, 150, 200, …
 * @throws {TypeError|RangeError} for bad options, naming the option.
 */
export function linearBackoff(options: LinearBackoffOptions = {}): Backoff {
  checkObject('options', options);
  checkKeys('linearBackoff', options, LINEAR_KEYS);
  const initial = checkMs('initialMs', options.initialMs ?? 100, 0, false);
  const step = checkMs('stepMs', options.stepMs ?? initial, 0, false);
  const max = checkMs('maxMs', options.maxMs ?? 30_000, 0, true);
  return (retry) => Math.min(max, initial + (retry - 1) * step);
}

/** Options of {@link exponentialBackoff}. */
export interface ExponentialBackoffOptions {
  /** Delay before the first retry. @default 100 ms */
  initialMs?: number;
  /** Multiplier per retry, >= 1. @default 2 */
  factor?: number;
  /** Ceiling, applied before jitter. @default 30_000 ms */
  maxMs?: number;
  /**
   * `none`: exactly `initialMs × factor^(retry-1)`, capped.
   * `full`: a uniform draw in [0, that) (AWS's "full jitter").
   * `equal`: half of it plus a uniform draw over the other half ("equal jitter").
   * @default 'none'
   */
  jitter?: 'none' | 'full' | 'equal';
}

const EXPONENTIAL_KEYS = optionKeys<ExponentialBackoffOptions>({
  initialMs: 1,
  factor: 1,
  maxMs: 1,
  jitter: 1,
});

/**
 * Exponential backoff, optionally jittered so that many clients do not retry in step.
 * @example
 * exponentialBackoff({ initialMs: 100, maxMs: 10_000, jitter: 'full' });
 * @throws {TypeError|RangeError} for bad options, naming the option.
 */
export function exponentialBackoff(options: ExponentialBackoffOptions = {}): Backoff {
  checkObject('options', options);
  checkKeys('exponentialBackoff', options, EXPONENTIAL_KEYS);
  const initial = checkMs('initialMs', options.initialMs ?? 100, 0, false);
  const factor = options.factor ?? 2;
  if (typeof factor !== 'number' || !Number.isFinite(factor) || factor < 1) {
    throw new RangeError(`Expected \`factor\` to be a finite number >= 1, got ${describe(factor)}`);
  }
  const max = checkMs('maxMs', options.maxMs ?? 30_000, 0, true);
  const jitter = options.jitter ?? 'none';
  if (jitter !== 'none' && jitter !== 'full' && jitter !== 'equal') {
    throw new TypeError(
      `Expected \`jitter\` to be 'none', 'full' or 'equal', got ${describe(jitter)}`,
    );
  }
  return (retry, _previous, random) =>
    exponentialDelay(retry, initial, factor, max, jitter, random);
}

/**
 * @internal The delay of {@link exponentialBackoff} with options already checked, for
 * callers whose base changes from call to call (the SSE client's server-given `retry`).
 */
export function exponentialDelay(
  retry: number,
  initialMs: number,
  factor: number,
  maxMs: number,
  jitter: 'none' | 'full' | 'equal',
  random: () => number,
): number {
  const d = Math.min(maxMs, initialMs * factor ** (retry - 1));
  if (jitter === 'full') return random() * d;
  if (jitter === 'equal') return d / 2 + (random() * d) / 2;
  return d;
}

/** Options of {@link decorrelatedJitter}. */
export interface DecorrelatedJitterOptions {
  /** The smallest delay, and the seed of the sequence. @default 100 ms */
  baseMs?: number;
  /** Ceiling. @default 30_000 ms */
  maxMs?: number;
}

const DECORRELATED_KEYS = optionKeys<DecorrelatedJitterOptions>({ baseMs: 1, maxMs: 1 });

/**
 * "Decorrelated jitter" from the AWS Architecture Blog's *Exponential Backoff and Jitter*:
 * `sleep = min(cap, random_between(base, previous × 3))`, starting from `previous = base`.
 * Delays grow about exponentially but each depends on the last draw, which spreads
 * clients apart better than jittering a fixed schedule.
 * @example
 * await retry(call, { backoff: decorrelatedJitter({ baseMs: 50, maxMs: 5_000 }) });
 * @throws {TypeError|RangeError} for bad options, naming the option.
 */
export function decorrelatedJitter(options: DecorrelatedJitterOptions = {}): Backoff {
  checkObject('options', options);
  checkKeys('decorrelatedJitter', options, DECORRELATED_KEYS);
  const base = checkMs('baseMs', options.baseMs ?? 100, 0, false);
  const max = checkMs('maxMs', options.maxMs ?? 30_000, 0, true);
  if (max < base) {
    throw new RangeError(
      `Expected \`maxMs\` to be at least \`baseMs\` (${base}), got ${describe(max)}`,
    );
  }
  return (_retry, previous, random) => {
    const prev = previous > 0 ? previous : base;
    return Math.min(max, base + random() * (prev * 3 - base));
  };
}
