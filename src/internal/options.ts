import { describe } from './errors.js';

// Option checks in p-queue's wording: "Expected `max` to be an integer >= 1, got 0 (number)".
// They never clamp: a wrong value is a programming error and fails loudly.

/** Checks an integer option (Infinity allowed when `allowInfinity`). @throws {TypeError|RangeError} */
export function checkInt(name: string, value: unknown, min: number, allowInfinity = false): number {
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new TypeError(`Expected \`${name}\` to be a number, got ${describe(value)}`);
  }
  if (
    !(Number.isInteger(value) || (allowInfinity && value === Number.POSITIVE_INFINITY)) ||
    value < min
  ) {
    throw new RangeError(
      `Expected \`${name}\` to be an integer >= ${min}${allowInfinity ? ' or Infinity' : ''}, got ${describe(value)}`,
    );
  }
  return value;
}

/** Checks a duration in milliseconds: a finite number >= `min`, or Infinity when allowed. */
export function checkMs(name: string, value: unknown, min = 0, allowInfinity = true): number {
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new TypeError(
      `Expected \`${name}\` to be a number of milliseconds, got ${describe(value)}`,
    );
  }
  if (value < min || (!allowInfinity && !Number.isFinite(value))) {
    throw new RangeError(
      `Expected \`${name}\` to be a number of milliseconds >= ${min}${allowInfinity ? ' or Infinity' : ''}, got ${describe(value)}`,
    );
  }
  return value;
}

/** Checks a ratio in [min, max]. */
export function checkRatio(name: string, value: unknown, min = 0, max = 1): number {
  if (typeof value !== 'number' || Number.isNaN(value) || value < min || value > max) {
    throw new RangeError(
      `Expected \`${name}\` to be a number from ${min} to ${max}, got ${describe(value)}`,
    );
  }
  return value;
}

/** Checks an optional function option. */
export function checkFn<F>(name: string, value: unknown, required: boolean): F | undefined {
  if (value === undefined && !required) return undefined;
  if (typeof value !== 'function') {
    throw new TypeError(`Expected \`${name}\` to be a function, got ${describe(value)}`);
  }
  return value as F;
}

/** Checks that `options` is an object (or undefined). */
export function checkObject(name: string, value: unknown): void {
  if (value !== undefined && (typeof value !== 'object' || value === null)) {
    throw new TypeError(`Expected \`${name}\` to be an object, got ${describe(value)}`);
  }
}
