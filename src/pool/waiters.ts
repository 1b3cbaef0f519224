/** @internal A caller queued in `acquire`, linked into {@link WaiterQueue}. */
export interface Waiter<T> {
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
  priority: number;
  startedAt: number;
  deadline: number;
  prev: Waiter<T> | null;
  next: Waiter<T> | null;
  queued: boolean;
  /** A resource being validated for this waiter; the waiter is skipped while set. */
  holding: unknown;
  /** The create call this waiter caused, failed together with it. */
  job: unknown;
  disposeAbort: () => void;
  /** The acquirer's stack, kept only for leak detection. */
  stack: string | undefined;
}

/** @internal A waiter not yet in any queue. */
export function newWaiter<T>(
  resolve: (value: T) => void,
  reject: (error: unknown) => void,
  priority: number,
  startedAt: number,
  deadline: number,
  stack: string | undefined,
): Waiter<T> {
  return {
    resolve,
    reject,
    priority,
    startedAt,
    deadline,
    prev: null,
    next: null,
    queued: false,
    holding: null,
    job: null,
    disposeAbort: noop,
    stack,
  };
}

const noop = (): void => {};

/**
 * @internal An intrusive doubly linked list ordered by priority (higher first), FIFO
 * among equals. O(1) append for equal priorities and O(1) removal on abort or timeout,
 * so cancelled waiters never linger.
 */
export class WaiterQueue<T> {
  head: Waiter<T> | null = null;
  tail: Waiter<T> | null = null;
  size = 0;

  push(w: Waiter<T>): void {
    let after = this.tail;
    while (after !== null && after.priority < w.priority) after = after.prev;
    w.prev = after;
    w.next = after === null ? this.head : after.next;
    if (w.next === null) this.tail = w;
    else w.next.prev = w;
    if (after === null) this.head = w;
    else after.next = w;
    w.queued = true;
    this.size++;
  }

  remove(w: Waiter<T>): void {
    if (!w.queued) return;
    if (w.prev === null) this.head = w.next;
    else w.prev.next = w.next;
    if (w.next === null) this.tail = w.prev;
    else w.next.prev = w.prev;
    w.prev = w.next = null;
    w.queued = false;
    this.size--;
  }

  /** First waiter not busy with a validation, or null. */
  first(): Waiter<T> | null {
    let w = this.head;
    while (w !== null && w.holding !== null) w = w.next;
    return w;
  }
}
