import { describe } from '../internal/errors.js';
import { checkInt, checkKeys, checkObject, optionKeys } from '../internal/options.js';
import { abortReason, checkSignal } from '../internal/signals.js';
import { BulkheadFullError } from './errors.js';
import {
  EXECUTE_KEYS,
  type ExecuteOptions,
  NO_SIGNAL,
  type Policy,
  type PolicyContext,
} from './policy.js';
import { WaitQueue } from './wait-queue.js';

// Lets a permit give its slot back without making that a public method of Semaphore.
let releaseSlot: (semaphore: Semaphore) => void;

/** Options of a {@link Semaphore}. */
export interface SemaphoreOptions {
  /**
   * Callers that may wait for a permit at once; the next one is refused with
   * `ERR_BULKHEAD_FULL`. `0` makes a pure bulkhead that never queues.
   * @default 10_000
   */
  maxWaiting?: number;
  /** Name used in error messages. @default 'semaphore' */
  name?: string;
}

const SEMAPHORE_KEYS = optionKeys<SemaphoreOptions>({ maxWaiting: 1, name: 1 });

/**
 * One permit of a {@link Semaphore}. Give it back with `release()` or by leaving a
 * `using` block; releasing twice is a no-op, never a double return.
 */
export class SemaphorePermit implements Disposable {
  #semaphore: Semaphore | undefined;

  /** @internal permits are made by {@link Semaphore.acquire}. */
  constructor(semaphore: Semaphore) {
    this.#semaphore = semaphore;
  }

  /** True until the permit is released. */
  get held(): boolean {
    return this.#semaphore !== undefined;
  }

  /** Gives the permit back (to the oldest waiter, if any). Idempotent. */
  release(): void {
    const s = this.#semaphore;
    if (s === undefined) return;
    this.#semaphore = undefined;
    releaseSlot(s);
  }

  /** Same as {@link release}, for `using permit = await semaphore.acquire()`. */
  [Symbol.dispose](): void {
    this.release();
  }
}

/**
 * A counting semaphore, the bulkhead pattern: at most `permits` callers run at once, up to
 * `maxWaiting` more wait in FIFO order, and the rest are refused with `ERR_BULKHEAD_FULL`.
 * A released permit goes straight to the oldest waiter, so no caller can barge ahead.
 * @example
 * const bulkhead = new Semaphore(10, { maxWaiting: 100 });
 * {
 *   using permit = await bulkhead.acquire({ signal: req.signal });
 *   await callTheBackend();
 * } // released here
 * const body = await bulkhead.execute(({ signal }) => fetch(url, { signal }));
 */
export class Semaphore implements Policy {
  readonly #permits: number;
  readonly #maxWaiting: number;
  readonly #name: string;
  #rejected = 0;
  #available: number;
  readonly #queue = new WaitQueue(() => {});

  static {
    releaseSlot = (semaphore) => semaphore.#release();
  }

  /**
   * @param permits how many callers may hold a permit at once (an integer >= 1).
   * @throws {TypeError|RangeError} for bad options, naming the option.
   */
  constructor(permits: number, options: SemaphoreOptions = {}) {
    this.#permits = checkInt('permits', permits, 1);
    checkObject('options', options);
    checkKeys('Semaphore', options, SEMAPHORE_KEYS);
    this.#maxWaiting = checkInt('maxWaiting', options.maxWaiting ?? 10_000, 0, true);
    if (options.name !== undefined && typeof options.name !== 'string') {
      throw new TypeError(`Expected \`name\` to be a string, got ${describe(options.name)}`);
    }
    this.#name = options.name ?? 'semaphore';
    this.#available = this.#permits;
  }

  /** Permits in all. */
  get permits(): number {
    return this.#permits;
  }

  /** Permits free right now. */
  get available(): number {
    return this.#available;
  }

  /** The semaphore's name, as given in the options. */
  get name(): string {
    return this.#name;
  }

  /** Calls refused with `ERR_BULKHEAD_FULL` since the semaphore was made. */
  get rejected(): number {
    return this.#rejected;
  }

  /** Callers waiting for a permit. */
  get waiting(): number {
    return this.#queue.size;
  }

  /** Takes a permit if one is free now, else returns `undefined`. Never waits. */
  tryAcquire(): SemaphorePermit | undefined {
    if (this.#available === 0) return undefined;
    this.#available--;
    return new SemaphorePermit(this);
  }

  /**
   * Waits for a permit, first come first served.
   * @throws {BulkheadFullError} `ERR_BULKHEAD_FULL` when `maxWaiting` callers already wait.
   * @throws the signal's reason when it aborts; the caller then leaves the queue.
   */
  async acquire(options?: ExecuteOptions): Promise<SemaphorePermit> {
    checkKeys('Semaphore.acquire', options, EXECUTE_KEYS);
    await this.#take(options?.signal);
    return new SemaphorePermit(this);
  }

  /**
   * Runs `fn` under a permit and releases it when `fn` settles.
   * @throws {BulkheadFullError} `ERR_BULKHEAD_FULL` when `maxWaiting` callers already wait.
   * @throws the signal's reason if it aborts while waiting; whatever `fn` throws.
   */
  execute<R>(
    fn: (context: PolicyContext) => R | PromiseLike<R>,
    options?: ExecuteOptions,
  ): Promise<R> {
    checkKeys('Semaphore.execute', options, EXECUTE_KEYS);
    const signal = options?.signal;
    if (signal !== undefined || this.#available === 0) return this.#executeWaiting(fn, signal);
    // The fast path takes the slot inline: no permit object, no async frame, and shared
    // release handlers instead of a closure per call.
    this.#available--;
    let result: R | PromiseLike<R>;
    try {
      result = fn(NO_SIGNAL);
    } catch (error) {
      this.#release();
      return Promise.reject(error);
    }
    const promise = result instanceof Promise ? result : Promise.resolve(result);
    return promise.then(this.#releaseOk, this.#releaseFail) as Promise<R>;
  }

  readonly #releaseOk = (value: unknown): unknown => {
    this.#release();
    return value;
  };

  readonly #releaseFail = (error: unknown): never => {
    this.#release();
    throw error;
  };

  async #executeWaiting<R>(
    fn: (context: PolicyContext) => R | PromiseLike<R>,
    signal: AbortSignal | undefined,
  ): Promise<R> {
    await this.#take(signal);
    try {
      return await fn(signal === undefined ? NO_SIGNAL : { signal });
    } finally {
      this.#release();
    }
  }

  /** Gives one slot back: to the oldest waiter, or to the free count. */
  #release(): void {
    if (this.#queue.head !== null) this.#queue.grantHead();
    else this.#available++;
  }

  #take(signal: AbortSignal | undefined): Promise<void> {
    if (signal !== undefined) {
      checkSignal(signal);
      if (signal.aborted) return Promise.reject(abortReason(signal));
    }
    if (this.#available > 0) {
      this.#available--;
      return Promise.resolve();
    }
    if (this.#queue.size >= this.#maxWaiting) {
      this.#rejected++;
      return Promise.reject(
        new BulkheadFullError(
          `Semaphore "${this.#name}" is full: all ${this.#permits} permits are held and ${this.#queue.size} callers wait (maxWaiting ${this.#maxWaiting}); shed load or raise the limits`,
          this.#permits,
          this.#queue.size,
        ),
      );
    }
    return this.#queue.wait(1, signal);
  }
}
