import { onAbort } from '../internal/signals.js';

// A FIFO of waiters for the semaphore and the rate limiter: a doubly linked list, so that
// an aborted waiter leaves from the middle in O(1); a waiter with a signal registers one
// wait on it (see internal/signals.ts), removed when it leaves the queue.

const NOTHING = (): void => {};

/** @internal One queued caller. */
export class Waiter {
  prev: Waiter | undefined = undefined;
  next: Waiter | undefined = undefined;
  queued = true;
  readonly tokens: number;
  readonly signal: AbortSignal | undefined;
  readonly resolve: () => void;
  readonly reject: (reason: unknown) => void;
  readonly dispose: () => void;
  readonly #queue: WaitQueue;

  constructor(
    queue: WaitQueue,
    tokens: number,
    signal: AbortSignal | undefined,
    resolve: () => void,
    reject: (reason: unknown) => void,
  ) {
    this.#queue = queue;
    this.tokens = tokens;
    this.signal = signal;
    this.resolve = resolve;
    this.reject = reject;
    this.dispose =
      signal === undefined ? NOTHING : onAbort(signal, (reason) => this.#aborted(reason));
  }

  /** The signal aborted: leave the queue and reject with its reason. */
  #aborted(reason: unknown): void {
    if (!this.queued) return;
    const wasHead = this.#queue.head === this;
    this.#queue.remove(this);
    this.reject(reason);
    this.#queue.onAbort(this, wasHead);
  }
}

/** @internal The queue; `onAbort` lets the owner re-plan (the limiter re-arms its timer). */
export class WaitQueue {
  head: Waiter | undefined = undefined;
  tail: Waiter | undefined = undefined;
  length = 0;
  readonly onAbort: (waiter: Waiter, wasHead: boolean) => void;

  constructor(onAbort: (waiter: Waiter, wasHead: boolean) => void) {
    this.onAbort = onAbort;
  }

  /** Queues a caller; the promise settles when the owner grants it, or on abort. */
  wait(tokens: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const w = new Waiter(this, tokens, signal, resolve, reject);
      w.prev = this.tail;
      if (this.tail === undefined) this.head = w;
      else this.tail.next = w;
      this.tail = w;
      this.length++;
    });
  }

  /** Removes the head and resolves it. */
  grantHead(): void {
    const w = this.head!;
    this.remove(w);
    w.resolve();
  }

  remove(w: Waiter): void {
    if (!w.queued) return;
    w.queued = false;
    if (w.prev === undefined) this.head = w.next;
    else w.prev.next = w.next;
    if (w.next === undefined) this.tail = w.prev;
    else w.next.prev = w.prev;
    w.prev = w.next = undefined;
    this.length--;
    w.dispose();
  }
}
