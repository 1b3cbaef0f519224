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

/** Every key of `T`, each once: a missing or extra key does not compile. */
export type KeyList<T> = { readonly [K in keyof T]-?: 1 };

/**
 * The keys of an options type as a frozen Set, for {@link checkKeys}. Spelt as an object
 * so that the compiler holds the list to the interface: `optionKeys<PoolOptions<unknown>>({
 * create: 1, … })` fails to build when an option is added to the type but not here.
 */
export function optionKeys<T>(keys: KeyList<T>): ReadonlySet<string> {
  return Object.freeze(new Set(Object.keys(keys)));
}

/**
 * Rejects a key of `options` that is not in `known`, naming the nearest valid key, so that
 * a misspelt option (`acquireTimeout`) fails at once instead of being ignored. Costs one
 * `for…in` and a Set lookup per key; only a mistake pays for the suggestion.
 * Non-objects are left to the caller's own checks.
 * @throws {TypeError} "Unknown option `acquireTimeout` of createPool; did you mean `acquireTimeoutMs`?"
 */
export function checkKeys(where: string, options: unknown, known: ReadonlySet<string>): void {
  if (typeof options !== 'object' || options === null) return;
  for (const key in options) {
    if (!known.has(key)) throw unknownOption(where, key, known);
  }
}

function unknownOption(where: string, key: string, known: ReadonlySet<string>): TypeError {
  const near = nearest(key, known);
  const hint =
    near === undefined
      ? `; the options are ${[...known].map((k) => `\`${k}\``).join(', ')}`
      : `; did you mean \`${near}\`?`;
  return new TypeError(`Unknown option \`${key}\` of ${where}${hint}`);
}

/**
 * The known key a misspelt `key` most likely meant: one a single edit away (`maxWaitng`);
 * else one that contains it or that it contains (`acquireTimeout` for `acquireTimeoutMs`,
 * `maxConnections` for `connections`, not the nearer `minConnections`), the closest in
 * length; else the closest within a few edits; else undefined.
 */
export function nearest(key: string, known: Iterable<string>): string | undefined {
  const k = key.toLowerCase();
  let part: string | undefined;
  let partDiff = Number.POSITIVE_INFINITY;
  let typo: string | undefined;
  let typoDistance = k.length <= 3 ? 2 : Math.max(3, Math.floor(k.length / 3) + 1);
  for (const candidate of known) {
    const c = candidate.toLowerCase();
    if (Math.min(c.length, k.length) >= 3 && (c.includes(k) || k.includes(c))) {
      const diff = Math.abs(c.length - k.length);
      if (diff < partDiff) {
        part = candidate;
        partDiff = diff;
      }
      continue;
    }
    const d = distance(k, c);
    if (d < typoDistance) {
      typo = candidate;
      typoDistance = d;
    }
  }
  return typoDistance <= 1 ? typo : (part ?? typo);
}

/** Optimal string alignment distance: insertions, deletions, substitutions, transpositions. */
function distance(a: string, b: string): number {
  let prev2: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d = Math.min(d, prev2[j - 2]! + 1);
      }
      row.push(d);
    }
    prev2 = prev;
    prev = row;
  }
  return prev[b.length]!;
}

/** `keys` without `omit`, for the key list of an options type made with `Omit<…>`. */
export function omitKeys<T, K extends keyof T>(
  keys: KeyList<T>,
  ...omit: K[]
): KeyList<Omit<T, K>> {
  const out: Record<PropertyKey, 1> = { ...keys };
  for (const k of omit) delete out[k];
  return out as KeyList<Omit<T, K>>;
}
