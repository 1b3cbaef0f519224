// A FIFO of waiters for the semaphore and the rate limiter, on the shared intrusive list
// (internal/linked-list.ts), so that an aborted waiter leaves from the middle in O(1); a
// waiter with a signal registers one wait on it (see internal/signals.ts), removed when it
// leaves the queue.
import { type Linked, LinkedList } from '../internal/linked-list.js';
import { onAbort } from '../internal/signals.js';

const NOTHING = (): void => {};

/** @internal One queued caller. */
export class Waiter implements Linked<Waiter> {
  prev: Waiter | null = null;
  next: Waiter | null = null;
  queued = false;
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
export class WaitQueue extends LinkedList<Waiter> {
  readonly onAbort: (waiter: Waiter, wasHead: boolean) => void;

  constructor(onAbort: (waiter: Waiter, wasHead: boolean) => void) {
    super();
    this.onAbort = onAbort;
  }

  /** Queues a caller; the promise settles when the owner grants it, or on abort. */
  wait(tokens: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.push(new Waiter(this, tokens, signal, resolve, reject));
    });
  }

  /** Removes the head and resolves it. */
  grantHead(): void {
    const w = this.head!;
    this.remove(w);
    w.resolve();
  }

  /** Unlinks `w` and drops its abort wait; does nothing when it is not queued. */
  override remove(w: Waiter): void {
    if (!w.queued) return;
    super.remove(w);
    w.dispose();
  }
}
