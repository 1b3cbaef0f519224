import type { Clock, TimerHandle } from '../internal/clock.js';
import { closeQuietly, DONE, isPending, type Pull, type Step, settle } from './pull.js';

/**
 * @internal `batch(size, { maxWaitMs })`: groups items into arrays of `size`; the last one
 * may be shorter. With `maxWaitMs`, a batch is also emitted that long after its first item
 * arrived; the pull still pending then carries over into the next batch.
 */
export class BatchPull<T> implements Pull<T[]> {
  readonly #up: Pull<T>;
  readonly #size: number;
  readonly #maxWaitMs: number;
  readonly #clock: Clock;
  #batch: T[] = [];
  #pending: Promise<Step<T>> | null = null;
  #upDone = false;
  #closed = false;
  #deadline = 0;
  #timer: TimerHandle = undefined;

  constructor(up: Pull<T>, size: number, maxWaitMs: number, clock: Clock) {
    this.#up = up;
    this.#size = size;
    this.#maxWaitMs = maxWaitMs;
    this.#clock = clock;
  }

  next(): Step<T[]> | Promise<Step<T[]>> {
    for (;;) {
      if (this.#upDone) return this.#rest();
      const r = this.#pending ?? settle(this.#up.next());
      if (isPending(r)) {
        const p = Promise.resolve(r);
        if (this.#batch.length > 0 && Number.isFinite(this.#maxWaitMs)) return this.#race(p);
        return p.then((s) => {
          if (this.#add(s)) return this.#emit();
          return this.next();
        });
      }
      if (this.#add(r)) return this.#emit();
    }
  }

  return(): void | Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#batch = [];
    this.#clock.clearTimeout(this.#timer);
    if (this.#upDone) return;
    // A pull carried over from a timed-out batch is still pending: see
    // ConcurrentMapPull.return, never wait on an upstream parked in it.
    if (this.#pending !== null) void closeQuietly(this.#up);
    else return this.#up.return();
  }

  // Adds a pulled item; true when the batch is full.
  #add(s: Step<T>): boolean {
    this.#pending = null;
    if (s.done === true) {
      this.#upDone = true;
      return false;
    }
    if (this.#batch.length === 0) this.#deadline = this.#clock.now() + this.#maxWaitMs;
    this.#batch.push(s.value);
    return this.#batch.length >= this.#size;
  }

  #emit(): Step<T[]> {
    const value = this.#batch;
    this.#batch = [];
    return { done: false, value };
  }

  #rest(): Step<T[]> {
    return this.#batch.length > 0 ? this.#emit() : DONE;
  }

  #race(p: Promise<Step<T>>): Promise<Step<T[]>> {
    this.#pending = p;
    return new Promise<Step<T[]>>((resolve, reject) => {
      let settled = false;
      this.#timer = this.#clock.setTimeout(
        () => {
          this.#timer = undefined;
          if (settled) return;
          settled = true;
          // The pull stays pending and will count towards the next batch.
          resolve(this.#emit());
        },
        Math.max(0, this.#deadline - this.#clock.now()),
      );
      p.then(
        (s) => {
          if (settled) return;
          settled = true;
          this.#clock.clearTimeout(this.#timer);
          this.#timer = undefined;
          try {
            resolve(this.#add(s) ? this.#emit() : this.next());
          } catch (error) {
            reject(error);
          }
        },
        (error: unknown) => {
          // Once the timer has emitted, the next pull re-awaits this promise and fails.
          if (settled) return;
          settled = true;
          this.#pending = null;
          this.#upDone = true;
          this.#clock.clearTimeout(this.#timer);
          this.#timer = undefined;
          reject(error);
        },
      );
    });
  }
}
