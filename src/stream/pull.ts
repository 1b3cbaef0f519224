// The internal protocol every stage speaks. A stage's next() returns a plain result when
// it has one at hand and a promise only when it must wait, so a chain over a synchronous
// source runs as plain nested calls with no promise per item.
//
// A shared internal: besides the stream module, weir/json's streaming parse and stringify
// speak it (with `openSource`/`isSource` from sources.ts) to run as stages of a stream
// without a promise per item. It is not part of the public API (the package exports no
// path to it); a change here is a change to those stages too, and their tests cover it.
// It stays beside the stages rather than in src/internal/ because the sources it opens
// include channels, and src/internal/ imports no module above it.

import { abortReason, childController, onAbort } from '../internal/signals.js';

/** @internal One pull's outcome. */
export type Step<T> = IteratorResult<T, unknown>;

/**
 * @internal "Wait for `wait`, then call `resume` with its value". A fused stage returns this
 * instead of `wait.then(resume)` so that a terminal can await the source's own promise and
 * run the whole fused chain synchronously after it: one promise hop per item, not two.
 * A stage reuses one instance, since it has at most one pull pending.
 */
export class Suspend<T> {
  wait: PromiseLike<unknown> = Promise.resolve();
  resume: (value: unknown) => Pulled<T>;
  constructor(resume: (value: unknown) => Pulled<T>) {
    this.resume = resume;
  }
}

/** @internal What a pull returns. */
export type Pulled<T> = Step<T> | Promise<Step<T>> | Suspend<T>;

/** @internal Turns a suspended pull into a promise, for stages that just need a result. */
export function settle<T>(r: Pulled<T>): Step<T> | Promise<Step<T>> {
  if (r instanceof Suspend) {
    const { wait, resume } = r;
    return Promise.resolve(wait).then((v) => settle(resume(v)));
  }
  return r;
}

/**
 * @internal A pull-based stage. next() is never called concurrently, nor after done or a
 * throw. A stage may reuse its step object, so a consumer reads `value` before pulling again.
 */
export interface Pull<T> {
  next(): Pulled<T>;
  /** Stops early and releases the upstream. May be called while a next() is pending. */
  return(): void | Promise<void>;
}

/** @internal */
export const DONE: IteratorReturnResult<undefined> = Object.freeze({
  done: true,
  value: undefined,
});

/** @internal Whether `v` is a promise or another thenable. */
export function isThenable(v: unknown): v is PromiseLike<unknown> {
  return (
    (typeof v === 'object' || typeof v === 'function') &&
    v !== null &&
    typeof (v as { then?: unknown }).then === 'function'
  );
}

/**
 * @internal Whether a pull's outcome is a promise. Stages only ever return native
 * promises, and `instanceof` stays fast where a `.then` lookup over the many shapes of
 * results would not.
 */
export function isPending<T>(r: Pulled<T>): r is Promise<Step<T>> {
  return r instanceof Promise;
}

/**
 * @internal Calls `pull.return()`, swallowing its failure: an earlier error or exit wins.
 * Sources report their own cleanup failures to the run (see {@link Run.cleanupFailed}), so
 * what is swallowed here is at most a stage's.
 */
export function closeQuietly(pull: Pull<unknown>): void | Promise<void> {
  try {
    const r = pull.return();
    if (isThenable(r)) return Promise.resolve(r).then(undefined, noop);
  } catch {
    // See above.
  }
}

/** @internal */
export const noop = (): void => {};

/**
 * @internal One execution of a pipeline, made by a terminal. Its signal aborts when the
 * run ends early or fails, which cancels what operators started (concurrent map calls,
 * channel receives, timers); it also follows the caller's signal.
 */
export class Run {
  readonly signal: AbortSignal;
  readonly #controller: AbortController;
  readonly #dispose: () => void;
  readonly #disposeWait: () => void;
  readonly #outer: AbortSignal | undefined;
  readonly #onCleanupError: ((error: unknown) => void) | undefined;
  #reject: ((e: unknown) => void) | undefined = undefined;

  constructor(outer: AbortSignal | undefined, onCleanupError?: (error: unknown) => void) {
    this.#onCleanupError = onCleanupError;
    const { controller, dispose } = childController(outer);
    this.#controller = controller;
    this.signal = controller.signal;
    this.#outer = outer;
    this.#dispose = dispose;
    // A terminal waiting on a pull settles at once when the caller aborts.
    this.#disposeWait =
      outer === undefined || outer.aborted
        ? noop
        : onAbort(outer, (reason) => this.#reject?.(reason));
  }

  /** Waits for `p`, or rejects as soon as the caller's signal aborts. */
  wait<T>(p: PromiseLike<T>): PromiseLike<T> {
    if (this.#outer === undefined) return p;
    if (this.#outer.aborted) return Promise.reject(abortReason(this.#outer));
    return new Promise<T>((resolve, reject) => {
      this.#reject = reject;
      p.then(resolve, reject);
    });
  }

  /** Ends the run early: aborts what operators started. */
  abort(reason: unknown): void {
    if (!this.signal.aborted) this.#controller.abort(reason);
  }

  /** Detaches from the caller's signal. */
  dispose(): void {
    this.#reject = undefined;
    this.#dispose();
    this.#disposeWait();
  }

  /**
   * A source's cleanup (`return()`, `cancel()`) failed. The consumer may be long gone (a
   * source parked in an `await` runs its cleanup only when that settles), and its outcome
   * is already decided, so the failure goes to the caller's `onCleanupError`, or else
   * becomes an unhandled rejection: what Node does with any rejection nobody awaits.
   */
  cleanupFailed(error: unknown): void {
    const hook = this.#onCleanupError;
    if (hook === undefined) {
      void Promise.reject(error);
      return;
    }
    try {
      hook(error);
    } catch (hookError) {
      void Promise.reject(hookError);
    }
  }

  /** Throws the caller's abort reason if it has aborted. */
  check(): void {
    if (this.#outer?.aborted) throw abortReason(this.#outer);
  }
}

/** @internal Builds a fresh stage chain for one run. */
export type Opener<T> = (run: Run) => Pull<T>;
