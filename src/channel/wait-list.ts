/** @internal A node of a {@link WaitList}: the waiter object is its own list node. */
export interface Linked {
  prev: Linked | null;
  next: Linked | null;
  queued: boolean;
}

/**
 * @internal An intrusive FIFO doubly linked list. O(1) push, shift and removal, so a
 * waiter that aborts or times out is unlinked at once and never lingers in a queue.
 */
export class WaitList<W extends Linked> {
  head: W | null = null;
  tail: W | null = null;
  size = 0;

  push(w: W): void {
    w.prev = this.tail;
    w.next = null;
    if (this.tail === null) this.head = w;
    else this.tail.next = w;
    this.tail = w;
    w.queued = true;
    this.size++;
  }

  shift(): W | null {
    const w = this.head;
    if (w !== null) this.remove(w);
    return w;
  }

  remove(w: W): void {
    if (!w.queued) return;
    if (w.prev === null) this.head = w.next as W | null;
    else w.prev.next = w.next;
    if (w.next === null) this.tail = w.prev as W | null;
    else w.next.prev = w.prev;
    w.prev = w.next = null;
    w.queued = false;
    this.size--;
  }
}
