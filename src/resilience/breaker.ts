import type { Clock } from '../internal/clock.js';
import { realClock } from '../internal/clock.js';
import { Emitter } from '../internal/emitter.js';
import { CircuitOpenError, describe } from '../internal/errors.js';
import { checkFn, checkInt, checkMs, checkObject, checkRatio } from '../internal/options.js';
import { abortReason, checkSignal } from '../internal/signals.js';

/** The three states of a {@link CircuitBreaker}. */
export type BreakerState = 'closed' | 'open' | 'half-open';

/** Options of a {@link CircuitBreaker}. */
export interface CircuitBreakerOptions {
  /**
   * `consecutive`: opens after `threshold` failures in a row.
   * `rolling`: opens when, over the last `rolling.windowMs`, at least `rolling.minimumCalls`
   * calls were made and the share that failed reached `rolling.failureRatio`.
   * @default 'consecutive'
   */
  policy?: 'consecutive' | 'rolling';
  /** Consecutive failures that open the breaker. @default 5 */
  threshold?: number;
  /** The rolling-window policy's settings. */
  rolling?: {
    /** @default 10_000 ms */
    windowMs?: number;
    /** Calls needed in the window before it may open. @default 10 */
    minimumCalls?: number;
    /** Failed share of calls that opens it, in (0, 1]. @default 0.5 */
    failureRatio?: number;
    /** Buckets the window is counted in; more is finer and costs more memory. @default 10 */
    buckets?: number;
  };
  /** How long the breaker stays open before it lets probes through. @default 10_000 ms */
  halfOpenAfterMs?: number;
  /** Probe calls let through at once while half-open; all must succeed to close. @default 1 */
  halfOpenProbes?: number;
  /** Which errors count as failures. @default every error */
  isFailure?: (error: unknown) => boolean;
  /** Name used in error messages. @default 'circuit' */
  name?: string;
  /** Source of time. @default the real clock */
  clock?: Clock;
}

/** Events of a {@link CircuitBreaker}. */
export interface BreakerEvents {
  stateChange: (e: { from: BreakerState; to: BreakerState; reason?: unknown }) => void;
}

/**
 * A circuit breaker: after too many failures it opens and fails calls fast with
 * `ERR_CIRCUIT_OPEN`; after `halfOpenAfterMs` it lets `halfOpenProbes` calls through, and
 * closes when they succeed (or opens again when one fails).
 * @example
 * const breaker = new CircuitBreaker({ threshold: 5, halfOpenAfterMs: 10_000 });
 * const body = await breaker.execute(({ signal }) => fetch(url, { signal }));
 */
export class CircuitBreaker extends Emitter<BreakerEvents> {
  #state: BreakerState = 'closed';
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
  // Rolling window: ring of buckets, each counting calls and failures over bucketMs.
  readonly #bucketMs: number;
  readonly #minimumCalls: number;
  readonly #failureRatio: number;
  readonly #calls: Uint32Array;
  readonly #fails: Uint32Array;
  #bucketStart = 0;
  #bucketIndex = 0;

  /** @throws {TypeError|RangeError} for bad options, naming the option. */
  constructor(options: CircuitBreakerOptions = {}) {
    super();
    checkObject('options', options);
    const policy = options.policy ?? 'consecutive';
    if (policy !== 'consecutive' && policy !== 'rolling') {
      throw new TypeError(
        `Expected \`policy\` to be 'consecutive' or 'rolling', got ${describe(policy)}`,
      );
    }
    this.#rolling = policy === 'rolling';
    this.#threshold = checkInt('threshold', options.threshold ?? 5, 1);
    checkObject('rolling', options.rolling);
    const r = options.rolling ?? {};
    const windowMs = checkMs('rolling.windowMs', r.windowMs ?? 10_000, 1, false);
    const buckets = checkInt('rolling.buckets', r.buckets ?? 10, 1);
    this.#bucketMs = windowMs / buckets;
    this.#minimumCalls = checkInt('rolling.minimumCalls', r.minimumCalls ?? 10, 1);
    this.#failureRatio = checkRatio(
      'rolling.failureRatio',
      r.failureRatio ?? 0.5,
      Number.MIN_VALUE,
      1,
    );
    this.#calls = new Uint32Array(this.#rolling ? buckets : 0);
    this.#fails = new Uint32Array(this.#rolling ? buckets : 0);
    this.#halfOpenAfterMs = checkMs('halfOpenAfterMs', options.halfOpenAfterMs ?? 10_000, 0, false);
    this.#halfOpenProbes = checkInt('halfOpenProbes', options.halfOpenProbes ?? 1, 1);
    this.#isFailure = checkFn('isFailure', options.isFailure, false);
    this.#name = options.name ?? 'circuit';
    this.#clock = options.clock ?? realClock;
    this.#bucketStart = this.#clock.now();
  }

  /** Current state. An open breaker whose wait is over still reads `open` until a call probes it. */
  get state(): BreakerState {
    return this.#state;
  }

  /** Clock time at which an open breaker lets the next probe through; now, when not open. */
  get retryAt(): number {
    if (this.#state !== 'open') return this.#clock.now();
    return this.#isolated ? Number.POSITIVE_INFINITY : this.#openedAt + this.#halfOpenAfterMs;
  }

  /**
   * Runs `fn` if the breaker allows it and records the outcome. `fn` gets the signal.
   * @throws {CircuitOpenError} `ERR_CIRCUIT_OPEN` when open, or half-open with every probe taken.
   * @throws whatever `fn` throws, or the signal's reason if it is already aborted.
   */
  async execute<R>(
    fn: (context: { signal: AbortSignal | undefined }) => R | Promise<R>,
    options?: { signal?: AbortSignal },
  ): Promise<R> {
    const signal = checkSignal(options?.signal);
    if (signal?.aborted) throw abortReason(signal);
    if (!this.tryAcquirePermit()) throw this.openError();
    let result: R;
    try {
      result = await fn({ signal });
    } catch (error) {
      this.recordFailure(error);
      throw error;
    }
    this.recordSuccess();
    return result;
  }

  /**
   * Low-level: asks for permission to make one call now. In the open state, once
   * `halfOpenAfterMs` passed, moves to half-open and grants a probe. Every `true` must be
   * followed by exactly one {@link recordSuccess}, {@link recordFailure} or {@link releasePermit}.
   */
  tryAcquirePermit(): boolean {
    switch (this.#state) {
      case 'closed':
        return true;
      case 'open':
        if (this.#isolated || this.#clock.now() < this.#openedAt + this.#halfOpenAfterMs)
          return false;
        this.#transition('half-open');
        this.#probesOut = 1;
        this.#probeSuccesses = 0;
        return true;
      default:
        if (this.#probesOut >= this.#halfOpenProbes) return false;
        this.#probesOut++;
        return true;
    }
  }

  /** Records a successful call made under a permit. */
  recordSuccess(): void {
    if (this.#state === 'half-open') {
      this.#probesOut = Math.max(0, this.#probesOut - 1);
      if (++this.#probeSuccesses >= this.#halfOpenProbes) this.#close();
      return;
    }
    this.#consecutive = 0;
    if (this.#rolling) this.#count(false);
  }

  /** Records a failed call made under a permit; errors that `isFailure` rejects count as successes. */
  recordFailure(error?: unknown): void {
    if (this.#isFailure !== undefined && !this.#isFailure(error)) {
      this.recordSuccess();
      return;
    }
    if (this.#state === 'half-open') {
      this.#probesOut = Math.max(0, this.#probesOut - 1);
      this.#open(error);
      return;
    }
    if (this.#state === 'open') return;
    this.#consecutive++;
    if (this.#rolling) {
      this.#count(true);
      let calls = 0;
      let fails = 0;
      for (let i = 0; i < this.#calls.length; i++) {
        calls += this.#calls[i]!;
        fails += this.#fails[i]!;
      }
      if (calls >= this.#minimumCalls && fails / calls >= this.#failureRatio) this.#open(error);
    } else if (this.#consecutive >= this.#threshold) {
      this.#open(error);
    }
  }

  /** Gives back a permit whose call was abandoned without an outcome. */
  releasePermit(): void {
    if (this.#state === 'half-open') this.#probesOut = Math.max(0, this.#probesOut - 1);
  }

  /** The error {@link execute} throws while open, for components that refuse calls themselves. */
  openError(cause?: unknown): CircuitOpenError {
    const retryAt = this.retryAt;
    const after = Math.max(0, retryAt - this.#clock.now());
    return new CircuitOpenError(
      this.#isolated
        ? `Circuit "${this.#name}" is isolated; calls are refused until reset()`
        : `Circuit "${this.#name}" is ${this.#state}; calls are refused for ${Math.ceil(after)} ms more`,
      retryAt,
      after,
      cause === undefined ? undefined : { cause },
    );
  }

  /** Forces the breaker open until {@link reset}. */
  isolate(): void {
    this.#isolated = true;
    this.#open(undefined);
  }

  /** Closes the breaker and clears its counts. */
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
    this.#calls.fill(0);
    this.#fails.fill(0);
    this.#transition('closed');
  }

  #transition(to: BreakerState, reason?: unknown): void {
    const from = this.#state;
    if (from === to) return;
    this.#state = to;
    this.emit('stateChange', reason === undefined ? { from, to } : { from, to, reason });
  }

  /** Adds one call to the current bucket, first clearing buckets the window has moved past. */
  #count(failed: boolean): void {
    const now = this.#clock.now();
    const n = this.#calls.length;
    let steps = Math.floor((now - this.#bucketStart) / this.#bucketMs);
    if (steps > 0) {
      this.#bucketStart += steps * this.#bucketMs;
      if (steps > n) steps = n;
      for (let i = 0; i < steps; i++) {
        this.#bucketIndex = (this.#bucketIndex + 1) % n;
        this.#calls[this.#bucketIndex] = 0;
        this.#fails[this.#bucketIndex] = 0;
      }
    }
    this.#calls[this.#bucketIndex]!++;
    if (failed) this.#fails[this.#bucketIndex]!++;
  }
}
