import type { Clock } from '../internal/clock.js';
import { realClock } from '../internal/clock.js';
import { Emitter } from '../internal/emitter.js';
import { CircuitOpenError, describe } from '../internal/errors.js';
import {
  checkFn,
  checkInt,
  checkKeys,
  checkMs,
  checkObject,
  checkRatio,
  optionKeys,
} from '../internal/options.js';
import { abortReason, checkSignal } from '../internal/signals.js';
import {
  EXECUTE_KEYS,
  type ExecuteOptions,
  NO_SIGNAL,
  type Policy,
  type PolicyContext,
} from './policy.js';

/** The three states of a {@link CircuitBreaker}. */
export type BreakerState = 'closed' | 'open' | 'half-open';

/** Settings of the rolling-window failure policy of a {@link CircuitBreaker}. */
export interface RollingWindowOptions {
  /** Length of the window. @default 10_000 ms */
  windowMs?: number;
  /** Calls the window must hold before the breaker may open. @default 10 */
  minimumCalls?: number;
  /** Failed share of the window's calls that opens the breaker, in (0, 1]. @default 0.5 */
  failureRatio?: number;
  /**
   * Buckets the window is counted in. The window slides one bucket at a time, so it
   * covers between `windowMs - windowMs / buckets` and `windowMs` of history; more
   * buckets are finer and cost a little more memory. @default 10
   */
  buckets?: number;
}

/** Options of a {@link CircuitBreaker}. */
export interface CircuitBreakerOptions {
  /**
   * `consecutive`: opens after `threshold` failures in a row (cockatiel's
   * `ConsecutiveBreaker`).
   * `rolling`: opens when, over the last `rolling.windowMs`, at least `rolling.minimumCalls`
   * calls were made and the share that failed reached `rolling.failureRatio` (opossum's
   * `volumeThreshold`/`errorThresholdPercentage`, cockatiel's `SamplingBreaker`).
   * @default 'consecutive'
   */
  policy?: 'consecutive' | 'rolling';
  /** Consecutive failures that open the breaker (`consecutive` policy). @default 5 */
  threshold?: number;
  /** The rolling-window policy's settings (`rolling` policy). */
  rolling?: RollingWindowOptions;
  /** How long the breaker stays open before it lets probes through. @default 10_000 ms */
  halfOpenAfterMs?: number;
  /**
   * Probe calls let through at once while half-open. The breaker closes after that many
   * probes succeed, and opens again as soon as one fails. @default 1
   */
  halfOpenProbes?: number;
  /**
   * Which errors count as failures. An error it rejects is still thrown to the caller
   * but counts as a success (the service answered: a 404 is not an outage).
   * @default every error is a failure
   */
  isFailure?: (error: unknown) => boolean;
  /** Name used in error messages. @default 'circuit' */
  name?: string;
  /** Source of time. @default the real clock */
  clock?: Clock;
}

/** @internal The keys of {@link CircuitBreakerOptions}; a pool checks its `breaker` with them. */
export const CIRCUIT_BREAKER_KEYS = optionKeys<CircuitBreakerOptions>({
  policy: 1,
  threshold: 1,
  rolling: 1,
  halfOpenAfterMs: 1,
  halfOpenProbes: 1,
  isFailure: 1,
  name: 1,
  clock: 1,
});
const ROLLING_KEYS = optionKeys<RollingWindowOptions>({
  windowMs: 1,
  minimumCalls: 1,
  failureRatio: 1,
  buckets: 1,
});

/** A change of a {@link CircuitBreaker}'s state; `reason` is the failure that opened it. */
export interface BreakerStateChange {
  from: BreakerState;
  to: BreakerState;
  reason?: unknown;
}

/** Events of a {@link CircuitBreaker}. */
export interface BreakerEvents {
  stateChange: (e: BreakerStateChange) => void;
}

/**
 * A circuit breaker: after too many failures it opens and fails calls fast with
 * `ERR_CIRCUIT_OPEN`; after `halfOpenAfterMs` it lets `halfOpenProbes` calls through, closes
 * when they succeed and opens again when one fails. `isolate()` holds it open, `reset()`
 * closes it.
 *
 * Besides {@link execute}, a low-level permit API ({@link tryAcquirePermit},
 * {@link recordSuccess}, {@link recordFailure}, {@link releasePermit}) lets other
 * components (the pool's factory) guard work that is not one function call.
 * @example
 * const breaker = new CircuitBreaker({ threshold: 5, halfOpenAfterMs: 10_000 });
 * breaker.on('stateChange', ({ from, to }) => log.warn(`api breaker ${from} -> ${to}`));
 * const body = await breaker.execute(({ signal }) => fetch(url, { signal }));
 */
export class CircuitBreaker extends Emitter<BreakerEvents> implements Policy {
  #state: BreakerState = 'closed';
  // Bumped on every transition. execute() records an outcome only if the state it was
  // admitted in is still the current one: a slow call admitted while closed must not count
  // as a half-open probe, nor re-open a breaker that a probe has since closed.
  #epoch = 0;
  #isolated = false;
  #openedAt = 0;
  #consecutive = 0;
  #probesOut = 0;
  #probeSuccesses = 0;
  readonly #clock: Clock;
  readonly #rolling: boolean;
  readonly #threshold: number;
  readonly #halfOpenAfterMs: number;
  readonly #halfOpenProbes: number;
  readonly #isFailure: ((error: unknown) => boolean) | undefined;
  readonly #name: string;
  // Rolling window: a ring of buckets, each counting the calls and failures of bucketMs.
  readonly #bucketMs: number;
  readonly #minimumCalls: number;
  readonly #failureRatio: number;
  readonly #calls: Uint32Array;
  readonly #fails: Uint32Array;
  #bucketStart = 0;
  #bucketIndex = 0;
  // Running totals over the ring, so a failure checks the ratio in O(1).
  #windowCalls = 0;
  #windowFails = 0;

  /** @throws {TypeError|RangeError} for bad options, naming the option. */
  constructor(options: CircuitBreakerOptions = {}) {
    super();
    checkObject('options', options);
    checkKeys('CircuitBreaker', options, CIRCUIT_BREAKER_KEYS);
    const policy = options.policy ?? 'consecutive';
    if (policy !== 'consecutive' && policy !== 'rolling') {
      throw new TypeError(
        `Expected \`policy\` to be 'consecutive' or 'rolling', got ${describe(policy)}`,
      );
    }
    this.#rolling = policy === 'rolling';
    this.#threshold = checkInt('threshold', options.threshold ?? 5, 1);
    checkObject('rolling', options.rolling);
    checkKeys("CircuitBreaker's `rolling`", options.rolling, ROLLING_KEYS);
    const r = options.rolling ?? {};
    const windowMs = checkMs('rolling.windowMs', r.windowMs ?? 10_000, 1, false);
    const buckets = checkInt('rolling.buckets', r.buckets ?? 10, 1);
    if (buckets > windowMs) {
      throw new RangeError(
        `Expected \`rolling.buckets\` to be at most \`rolling.windowMs\` (${windowMs}), got ${describe(buckets)}`,
      );
    }
    this.#bucketMs = windowMs / buckets;
    this.#minimumCalls = checkInt('rolling.minimumCalls', r.minimumCalls ?? 10, 1);
    const ratio = r.failureRatio ?? 0.5;
    if (typeof ratio !== 'number' || !(ratio > 0)) {
      throw new RangeError(
        `Expected \`rolling.failureRatio\` to be a number above 0 and at most 1, got ${describe(ratio)}`,
      );
    }
    this.#failureRatio = checkRatio('rolling.failureRatio', ratio, 0, 1);
    this.#calls = new Uint32Array(this.#rolling ? buckets : 0);
    this.#fails = new Uint32Array(this.#rolling ? buckets : 0);
    this.#halfOpenAfterMs = checkMs('halfOpenAfterMs', options.halfOpenAfterMs ?? 10_000, 0, false);
    this.#halfOpenProbes = checkInt('halfOpenProbes', options.halfOpenProbes ?? 1, 1);
    this.#isFailure = checkFn('isFailure', options.isFailure, false);
    if (options.name !== undefined && typeof options.name !== 'string') {
      throw new TypeError(`Expected \`name\` to be a string, got ${describe(options.name)}`);
    }
    this.#name = options.name ?? 'circuit';
    checkObject('clock', options.clock);
    this.#clock = options.clock ?? realClock;
    this.#bucketStart = this.#clock.now();
    this.#makeClosedHandlers();
  }

  /**
   * Current state. An open breaker whose `halfOpenAfterMs` is over still reads `open`
   * until the next call (or permit request) probes it.
   */
  get state(): BreakerState {
    return this.#state;
  }

  /** Clock time at which an open breaker lets the next probe through; now, when not open. */
  get retryAt(): number {
    if (this.#state !== 'open') return this.#clock.now();
    return this.#isolated ? Number.POSITIVE_INFINITY : this.#openedAt + this.#halfOpenAfterMs;
  }

  /** The breaker's name, as given in the options. */
  get name(): string {
    return this.#name;
  }

  /** True while {@link isolate} holds the breaker open. */
  get isolated(): boolean {
    return this.#isolated;
  }

  /**
   * Runs `fn` if the breaker allows it and records the outcome. `fn` gets the signal.
   * While closed this costs one `.then` on `fn`'s promise and allocates nothing else when
   * no signal is given.
   * @throws {CircuitOpenError} `ERR_CIRCUIT_OPEN` when open, or half-open with every probe
   * taken; its `retryAfterMs` says when the next probe may go.
   * @throws whatever `fn` throws, or the signal's reason if it is already aborted.
   */
  execute<R>(
    fn: (context: PolicyContext) => R | PromiseLike<R>,
    options?: ExecuteOptions,
  ): Promise<R> {
    checkKeys('CircuitBreaker.execute', options, EXECUTE_KEYS);
    let context = NO_SIGNAL;
    if (options !== undefined && options.signal !== undefined) {
      const signal = options.signal;
      try {
        checkSignal(signal);
      } catch (error) {
        return Promise.reject(error);
      }
      if (signal.aborted) return Promise.reject(abortReason(signal));
      context = { signal };
    }
    if (this.#state !== 'closed') return this.#executeGuarded(fn, context);
    // Closed, the hot path: no async frame, and the outcome handlers are shared by every
    // call of this closed period (they know its epoch), so no closure per call.
    let result: R | PromiseLike<R>;
    try {
      result = fn(context);
    } catch (error) {
      this.recordFailure(error);
      return Promise.reject(error);
    }
    const promise = result instanceof Promise ? result : Promise.resolve(result);
    return promise.then(this.#closedSuccess, this.#closedFailure) as Promise<R>;
  }

  // Outcome handlers of the current closed period; replaced on every return to closed.
  #closedSuccess!: (value: unknown) => unknown;
  #closedFailure!: (error: unknown) => never;

  #makeClosedHandlers(): void {
    const epoch = this.#epoch;
    this.#closedSuccess = (value) => {
      if (epoch === this.#epoch) this.recordSuccess();
      return value;
    };
    this.#closedFailure = (error) => {
      if (epoch === this.#epoch) this.recordFailure(error);
      throw error;
    };
  }

  /** Open or half-open: a probe permit, with the outcome tied to the state it was granted in. */
  async #executeGuarded<R>(
    fn: (context: PolicyContext) => R | PromiseLike<R>,
    context: PolicyContext,
  ): Promise<R> {
    if (!this.tryAcquirePermit()) throw this.openError();
    const epoch = this.#epoch;
    let result: R;
    try {
      result = await fn(context);
    } catch (error) {
      if (epoch === this.#epoch) this.recordFailure(error);
      throw error;
    }
    if (epoch === this.#epoch) this.recordSuccess();
    return result;
  }

  /**
   * Low-level: asks for permission to make one call now. In the open state, once
   * `halfOpenAfterMs` passed, moves to half-open and grants a probe; while half-open,
   * grants up to `halfOpenProbes` at once. Every `true` must be followed by exactly one
   * {@link recordSuccess}, {@link recordFailure} or {@link releasePermit}; outcomes are
   * counted against the state current when they are recorded.
   */
  tryAcquirePermit(): boolean {
    const state = this.#state;
    if (state === 'closed') return true;
    if (state === 'open') {
      if (this.#isolated || this.#clock.now() < this.#openedAt + this.#halfOpenAfterMs) {
        return false;
      }
      this.#probesOut = 1;
      this.#probeSuccesses = 0;
      this.#transition('half-open');
      return true;
    }
    if (this.#probesOut >= this.#halfOpenProbes) return false;
    this.#probesOut++;
    return true;
  }

  /** Records a successful call made under a permit. */
  recordSuccess(): void {
    const state = this.#state;
    if (state === 'closed') {
      this.#consecutive = 0;
      if (this.#rolling) this.#count(false);
    } else if (state === 'half-open') {
      if (this.#probesOut > 0) this.#probesOut--;
      if (++this.#probeSuccesses >= this.#halfOpenProbes) this.#close();
    }
    // Open: a call admitted before the breaker opened; it changes nothing.
  }

  /**
   * Records a failed call made under a permit. An error that `isFailure` rejects counts as
   * a success.
   */
  recordFailure(error?: unknown): void {
    if (this.#isFailure !== undefined && !this.#isFailure(error)) {
      this.recordSuccess();
      return;
    }
    const state = this.#state;
    if (state === 'half-open') {
      if (this.#probesOut > 0) this.#probesOut--;
      this.#open(error);
      return;
    }
    if (state === 'open') return;
    if (this.#rolling) {
      this.#count(true);
      if (
        this.#windowCalls >= this.#minimumCalls &&
        // Division, not multiplication: 3 / 10 rounds to the same double as the literal 0.3,
        // while 0.3 * 10 is 3.0000000000000004 and would miss the threshold.
        this.#windowFails / this.#windowCalls >= this.#failureRatio
      ) {
        this.#open(error);
      }
    } else if (++this.#consecutive >= this.#threshold) {
      this.#open(error);
    }
  }

  /** Gives back a permit whose call was abandoned without an outcome (e.g. cancelled). */
  releasePermit(): void {
    if (this.#state === 'half-open' && this.#probesOut > 0) this.#probesOut--;
  }

  /**
   * The error {@link execute} throws while open, for components that refuse calls
   * themselves, so that every refusal reads the same.
   */
  openError(cause?: unknown): CircuitOpenError {
    const retryAt = this.retryAt;
    const after = Math.max(0, retryAt - this.#clock.now());
    return new CircuitOpenError(
      this.#isolated
        ? `Circuit "${this.#name}" is isolated; calls are refused until reset()`
        : this.#state === 'half-open'
          ? `Circuit "${this.#name}" is half-open and its ${this.#halfOpenProbes} probe call(s) are in flight; calls are refused until they succeed`
          : `Circuit "${this.#name}" is open; calls are refused for ${Math.ceil(after)} ms more`,
      retryAt,
      after,
      cause === undefined ? undefined : { cause },
    );
  }

  /** Forces the breaker open, refusing every call until {@link reset}. */
  isolate(): void {
    this.#isolated = true;
    this.#open(undefined);
  }

  /** Closes the breaker (also an isolated one) and clears its counts. */
  reset(): void {
    this.#isolated = false;
    this.#close();
  }

  #open(reason: unknown): void {
    this.#openedAt = this.#clock.now();
    this.#transition('open', reason);
  }

  #close(): void {
    this.#consecutive = 0;
    this.#probesOut = 0;
    this.#probeSuccesses = 0;
    if (this.#rolling) {
      // A closed breaker starts from a clean window: the failures that opened it are history.
      this.#calls.fill(0);
      this.#fails.fill(0);
      this.#windowCalls = 0;
      this.#windowFails = 0;
      this.#bucketStart = this.#clock.now();
    }
    this.#transition('closed');
    this.#makeClosedHandlers();
  }

  #transition(to: BreakerState, reason?: unknown): void {
    const from = this.#state;
    if (from === to) return;
    this.#state = to;
    this.#epoch++;
    if (this.hasListeners('stateChange')) {
      this.emit('stateChange', reason === undefined ? { from, to } : { from, to, reason });
    }
  }

  /** Adds one call to the current bucket, first clearing the buckets the window slid past. */
  #count(failed: boolean): void {
    const now = this.#clock.now();
    const n = this.#calls.length;
    let steps = Math.floor((now - this.#bucketStart) / this.#bucketMs);
    if (steps > 0) {
      this.#bucketStart += steps * this.#bucketMs;
      if (steps > n) steps = n;
      for (let i = 0; i < steps; i++) {
        const next = this.#bucketIndex + 1 === n ? 0 : this.#bucketIndex + 1;
        this.#bucketIndex = next;
        this.#windowCalls -= this.#calls[next]!;
        this.#windowFails -= this.#fails[next]!;
        this.#calls[next] = 0;
        this.#fails[next] = 0;
      }
    }
    const i = this.#bucketIndex;
    this.#calls[i]!++;
    this.#windowCalls++;
    if (failed) {
      this.#fails[i]!++;
      this.#windowFails++;
    }
  }
}
