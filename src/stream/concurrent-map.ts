import { childController } from '../internal/signals.js';
import {
  closeQuietly,
  DONE,
  isPending,
  isThenable,
  type Pull,
  type Run,
  type Step,
  settle,
} from './pull.js';

interface Slot<U> {
  done: boolean;
  value: U | undefined;
}

/**
 * @internal `map` with concurrency > 1. At most `concurrency` items are held at once,
 * counting calls in flight and finished results not yet taken, so neither can exceed it.
 * The first failure (of a call or of the upstream) aborts every call in flight and is
 * reported to the consumer once; results not yet taken are dropped.
 */
export class ConcurrentMapPull<T, U> implements Pull<U> {
  readonly #up: Pull<T>;
  readonly #fn: (value: T, index: number, signal: AbortSignal) => U | PromiseLike<U>;
  readonly #limit: number;
  readonly #ordered: boolean;
  readonly #controller: AbortController;
  readonly #detach: () => void;
  // Ordered: slots in input order. Unordered: finished values in completion order.
  readonly #slots: Slot<U>[] = [];
  readonly #finished: U[] = [];
  #held = 0;
  #index = 0;
  #pulling = false;
  #upDone = false;
  #closed = false;
  #failed = false;
  #error: unknown;
  #waiter: { resolve: (s: Step<U>) => void; reject: (e: unknown) => void } | null = null;

  constructor(
    up: Pull<T>,
    fn: (value: T, index: number, signal: AbortSignal) => U | PromiseLike<U>,
    concurrency: number,
    ordered: boolean,
    run: Run,
  ) {
    this.#up = up;
    this.#fn = fn;
    this.#limit = concurrency;
    this.#ordered = ordered;
    const { controller, dispose } = childController(run.signal);
    this.#controller = controller;
    this.#detach = dispose;
  }

  next(): Step<U> | Promise<Step<U>> {
    this.#fill();
    const s = this.#take();
    if (s !== undefined) return s;
    if (this.#failed) return this.#throw();
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve, reject };
    });
  }

  return(): void | Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#controller.abort();
    this.#detach();
    this.#settleWaiter();
    if (this.#upDone || this.#failed) return;
    // With a pull of ours pending the upstream may be parked in it, and its return() may
    // wait for that pull forever: call it, but give control back now.
    if (this.#pulling) void closeQuietly(this.#up);
    else return this.#up.return();
  }

  #take(): Step<U> | undefined {
    if (this.#failed) return undefined;
    if (this.#ordered) {
      const head = this.#slots[0];
      if (head?.done === true) {
        this.#slots.shift();
        return this.#taken(head.value as U);
      }
    } else if (this.#finished.length > 0) {
      return this.#taken(this.#finished.shift() as U);
    }
    if (this.#upDone && this.#held === 0) {
      this.#detach();
      return DONE;
    }
    return undefined;
  }

  #taken(value: U): Step<U> {
    this.#held--;
    return { done: false, value };
  }

  #throw(): never {
    throw this.#error;
  }

  #fill(): void {
    while (
      !this.#pulling &&
      !this.#upDone &&
      !this.#closed &&
      !this.#failed &&
      this.#held < this.#limit
    ) {
      let r: Step<T> | Promise<Step<T>>;
      try {
        r = settle(this.#up.next());
      } catch (error) {
        this.#fail(error, true);
        return;
      }
      if (isPending(r)) {
        this.#pulling = true;
        r.then(
          (s) => {
            this.#pulling = false;
            if (this.#closed || this.#failed) return;
            this.#start(s);
            this.#fill();
            this.#settleWaiter();
          },
          (error: unknown) => {
            this.#pulling = false;
            this.#fail(error, true);
          },
        );
        return;
      }
      this.#start(r);
    }
  }

  #start(s: Step<T>): void {
    if (s.done === true) {
      this.#upDone = true;
      return;
    }
    this.#held++;
    const slot: Slot<U> = { done: false, value: undefined };
    if (this.#ordered) this.#slots.push(slot);
    let out: U | PromiseLike<U>;
    try {
      out = this.#fn(s.value, this.#index++, this.#controller.signal);
    } catch (error) {
      this.#fail(error, false);
      return;
    }
    if (isThenable(out)) {
      out.then(
        (v) => this.#complete(slot, v),
        (error: unknown) => this.#fail(error, false),
      );
    } else this.#complete(slot, out);
  }

  #complete(slot: Slot<U>, value: U): void {
    if (this.#closed || this.#failed) return;
    slot.done = true;
    slot.value = value;
    if (!this.#ordered) this.#finished.push(value);
    this.#settleWaiter();
  }

  #fail(error: unknown, fromUpstream: boolean): void {
    if (this.#failed || this.#closed) return;
    this.#failed = true;
    this.#error = error;
    this.#slots.length = 0;
    this.#finished.length = 0;
    this.#controller.abort(error);
    this.#detach();
    if (!fromUpstream && !this.#upDone) void closeQuietly(this.#up);
    this.#upDone = true;
    this.#settleWaiter();
  }

  #settleWaiter(): void {
    const w = this.#waiter;
    if (w === null) return;
    if (this.#closed) {
      this.#waiter = null;
      w.resolve(DONE);
      return;
    }
    if (this.#failed) {
      this.#waiter = null;
      w.reject(this.#error);
      return;
    }
    const s = this.#take();
    if (s === undefined) return;
    this.#waiter = null;
    w.resolve(s);
    // Taking a result freed a slot: start the next call without waiting for a pull.
    this.#fill();
  }
}
