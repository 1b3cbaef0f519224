// The one intrusive doubly linked list behind every waiter queue (pool acquire, channel
// send/receive, semaphore and rate limiter): the waiter object is its own node, so queueing
// allocates nothing and a waiter that aborts or times out leaves from the middle in O(1).

/** @internal What a node of a {@link LinkedList} carries: its links and whether it is queued. */
export interface Linked<N> {
  prev: N | null;
  next: N | null;
  queued: boolean;
}

/**
 * @internal An intrusive doubly linked list of nodes `N`. Owners that need an order other
 * than FIFO (the pool's priorities) place a node with {@link insertAfter}. A node is in at
 * most one list at a time; `remove` of a node that is not queued does nothing.
 */
export class LinkedList<N extends Linked<N>> {
  head: N | null = null;
  tail: N | null = null;
  size = 0;

  /** Appends `n` at the tail. */
  push(n: N): void {
    n.prev = this.tail;
    n.next = null;
    if (this.tail === null) this.head = n;
    else this.tail.next = n;
    this.tail = n;
    n.queued = true;
    this.size++;
  }

  /** Links `n` in after `after`, or at the head when `after` is null. */
  insertAfter(after: N | null, n: N): void {
    n.prev = after;
    n.next = after === null ? this.head : after.next;
    if (n.next === null) this.tail = n;
    else n.next.prev = n;
    if (after === null) this.head = n;
    else after.next = n;
    n.queued = true;
    this.size++;
  }

  /** Unlinks and returns the head, or null when empty. */
  shift(): N | null {
    const n = this.head;
    if (n !== null) this.remove(n);
    return n;
  }

  /** Unlinks `n`; does nothing when it is not queued. */
  remove(n: N): void {
    if (!n.queued) return;
    if (n.prev === null) this.head = n.next;
    else n.prev.next = n.next;
    if (n.next === null) this.tail = n.prev;
    else n.next.prev = n.prev;
    n.prev = n.next = null;
    n.queued = false;
    this.size--;
  }
}
