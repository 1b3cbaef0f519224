// The memory budget of a wasm pool: the summed linear memory of its instances, counted as
// last measured, plus a reservation for each instantiation under way. An instantiation
// that would not fit waits for room (idle instances are evicted first, least recently used
// first); it never allocates past the budget. Plugged into the managed pool as its
// connection tracker, so waiting for room is not counted against the connect timeout or
// the breaker.
import { abortReason, onAbort } from '../internal/signals.js';
import type { ConnectionTracker } from '../managed/managed-pool.js';
import type { Tracked } from './instance.js';

/** Payload of the `memoryPressure` event. */
export interface MemoryPressureEvent {
  /** Bytes counted against the budget (instances as last measured, plus reservations). */
  usedBytes: number;
  /** `maxTotalMemoryMb` in bytes. */
  limitBytes: number;
  /** `usedBytes / limitBytes`. */
  ratio: number;
}

interface RoomWaiter {
  resolve: () => void;
  dispose: () => void;
}

/** The share of the budget at which `memoryPressure` fires. */
export const PRESSURE_RATIO = 0.8;

const EVICTED = 'closed while idle: the pool needs its memory for another instance';

/** @internal */
export class MemoryBudget<C extends Tracked> implements ConnectionTracker<C> {
  readonly limit: number;
  #used = 0;
  #pending = 0;
  #peak = 0;
  // The initial memory of an instance, as the largest fresh one measured so far; unknown
  // (undefined) until the first instance exists, and then only one instantiation may run.
  #expected: number | undefined;
  readonly #idle = new Set<C>();
  readonly #leased = new Set<C>();
  readonly #waiters: RoomWaiter[] = [];
  #pressured = false;
  #evictPending = false;
  readonly #onPressure: (e: MemoryPressureEvent) => void;
  /** Set once the pool exists: eviction retires idle instances through it. */
  pool: { retire(connection: C, reason: unknown): boolean } | undefined;

  constructor(limit: number, onPressure: (e: MemoryPressureEvent) => void) {
    this.limit = limit;
    this.#onPressure = onPressure;
  }

  /** Bytes counted now: instances as last measured, plus reservations. */
  get used(): number {
    return this.#used + this.#reserved();
  }

  /** Bytes of the open instances, as last measured. */
  get total(): number {
    return this.#used;
  }

  /** Largest {@link MemoryBudget.total} so far. */
  get peak(): number {
    return this.#peak;
  }

  /** Bytes of the instances that are leased, as last measured. */
  get inUse(): number {
    let n = 0;
    for (const c of this.#leased) n += c.counted;
    return n;
  }

  /** Bytes of the idle instances. */
  get idleBytes(): number {
    let n = 0;
    for (const c of this.#idle) n += c.counted;
    return n;
  }

  /** Instantiations waiting for room. */
  get waiting(): number {
    return this.#waiters.length;
  }

  // ---- the tracker (called by the managed pool) -----------------------------------

  take(signal: AbortSignal): Promise<void> | undefined {
    if (this.#waiters.length === 0 && this.#fits()) {
      this.#pending++;
      this.#changed();
      return undefined;
    }
    if (signal.aborted) return Promise.reject(abortReason(signal));
    return new Promise<void>((resolve, reject) => {
      const w: RoomWaiter = { resolve, dispose: noop };
      w.dispose = onAbort(signal, (reason) => {
        const i = this.#waiters.indexOf(w);
        if (i >= 0) this.#waiters.splice(i, 1);
        reject(reason);
      });
      this.#waiters.push(w);
      this.#scheduleEviction();
    });
  }

  give(): void {
    this.#pending--;
    this.#wake();
  }

  idle(c: C): void {
    if (!c.admitted) {
      c.admitted = true;
      this.#pending--;
      this.#wake();
    }
    this.#leased.delete(c);
    this.#idle.delete(c);
    this.#idle.add(c);
    if (this.#waiters.length > 0) this.#scheduleEviction();
  }

  leased(c: C): void {
    this.#idle.delete(c);
    this.#leased.add(c);
  }

  closed(c: C): void {
    this.#idle.delete(c);
    this.#leased.delete(c);
  }

  surplus(): boolean {
    return false;
  }

  // ---- the manager's side ---------------------------------------------------------

  /** A new instance exists (its connect succeeded): count its memory. */
  opened(c: C): void {
    c.counted = c.memoryBytes;
    this.#used += c.counted;
    if (this.#expected === undefined || c.memoryBytes > this.#expected) {
      this.#expected = c.memoryBytes;
    }
    this.#changed();
  }

  /** An instance was measured again (after a use, after a reset). */
  update(c: C): void {
    const shrank = c.memoryBytes < c.counted;
    this.#used += c.memoryBytes - c.counted;
    c.counted = c.memoryBytes;
    this.#changed();
    if (shrank) this.#wake();
  }

  /** An instance closed: its memory is free (once the garbage collector drops it). */
  release(c: C): void {
    this.#used -= c.counted;
    c.counted = 0;
    this.#idle.delete(c);
    this.#leased.delete(c);
    this.#changed();
    this.#wake();
  }

  /**
   * Evicts idle instances other than `keep`, least recently used first, until the budget
   * holds. Returns whether it holds.
   */
  trim(keep?: C): boolean {
    for (const c of this.#idle) {
      if (this.#used <= this.limit) break;
      if (c === keep) continue;
      this.#idle.delete(c);
      this.pool?.retire(c, EVICTED);
    }
    return this.#used <= this.limit;
  }

  // ---- inside -----------------------------------------------------------------------

  #reserved(): number {
    return this.#pending * (this.#expected ?? 0);
  }

  #fits(): boolean {
    if (this.limit === Number.POSITIVE_INFINITY) return true;
    if (this.#expected === undefined) return this.#pending === 0;
    // With nothing open and nothing under way, nothing could ever make room: let one try.
    if (this.#used === 0 && this.#pending === 0) return true;
    return this.#used + this.#reserved() + this.#expected <= this.limit;
  }

  #wake(): void {
    while (this.#waiters.length > 0 && this.#fits()) {
      const w = this.#waiters.shift()!;
      w.dispose();
      this.#pending++;
      w.resolve();
    }
    this.#changed();
  }

  // Deferred to the next turn of the event loop: an instance reported idle on its way back
  // may be about to go straight to a waiter (its lease is reported a promise job later),
  // and only then is the idle set the set of instances nobody is about to use. This is a
  // deferral, not a wait, so it does not go through the pool's clock.
  #scheduleEviction(): void {
    if (this.#evictPending) return;
    this.#evictPending = true;
    setImmediate(() => {
      this.#evictPending = false;
      this.#evictFor();
    });
  }

  // An instantiation waits: idle instances give their memory to it, oldest first.
  #evictFor(): void {
    for (const c of this.#idle) {
      if (this.#waiters.length === 0 || this.#fits()) break;
      this.#idle.delete(c);
      // Idle, it closes now: release() runs inside and wakes the waiter.
      this.pool?.retire(c, EVICTED);
    }
  }

  #changed(): void {
    if (this.#used > this.#peak) this.#peak = this.#used;
    const used = this.used;
    if (this.limit === Number.POSITIVE_INFINITY) return;
    const ratio = used / this.limit;
    if (ratio >= PRESSURE_RATIO) {
      if (!this.#pressured) {
        this.#pressured = true;
        this.#onPressure({ usedBytes: used, limitBytes: this.limit, ratio });
      }
    } else {
      this.#pressured = false;
    }
  }
}

const noop = (): void => {};
