// Where a borrower finds a free resource: the idle list (lent LIFO or FIFO) and, for
// shared resources, the busiest one that still has room.
import type { Clock } from '../internal/clock.js';
import { BrokenResourceError } from '../internal/errors.js';
import type { ResolvedPoolOptions } from './options.js';
import { type DestroyReason, type Slot, UNSTAMPED } from './slot.js';

/** @internal What the idle set (and the weight budget) ask of their pool. */
export interface IdleSetHost<T> {
  /** Takes `slot` out of the pool and destroys it (one found past its lifetime or broken). */
  destroy(slot: Slot<T>, reason: DestroyReason, error?: unknown): void;
}

/** @internal The pool's idle resources, oldest first. */
export class IdleSet<T> {
  // LIFO lends from the end, FIFO from the front; eviction always takes the front.
  readonly #list: Slot<T>[] = [];
  readonly #o: ResolvedPoolOptions<T>;
  readonly #fifo: boolean;
  readonly #clock: Clock;
  readonly #onIdle: ((resource: T, idle: boolean) => void) | undefined;
  readonly #usable: ((resource: T) => boolean) | undefined;
  // Resources may be shared (fixed or per-resource lease limit): look for room first.
  readonly #shared: boolean;
  // Neither validation nor a lifetime: an idle resource is lent without reading the clock.
  readonly #plain: boolean;
  /**
   * The resources that may take more than one borrower, searched for shared room. Only
   * those: a pool of 10,000 HTTP/1.1 connections (one lease each) would otherwise walk all
   * of them on every acquire.
   */
  readonly #sharable = new Set<Slot<T>>();
  // Nothing at all to ask before lending or on putting back (plain, not shared, neither
  // `usable` nor `onIdle`): the next idle resource is the answer.
  readonly #bare: boolean;
  // Only validation needs to know since when a resource is idle.
  readonly #stamp: boolean;
  readonly #host: IdleSetHost<T>;

  constructor(o: ResolvedPoolOptions<T>, host: IdleSetHost<T>) {
    this.#o = o;
    this.#fifo = o.fifo;
    this.#clock = o.clock;
    this.#onIdle = o.onIdle;
    this.#usable = o.usable;
    this.#shared = o.maxLeasesPerResource > 1 || o.leaseLimit !== undefined;
    this.#plain = o.validate === undefined && o.maxLifetimeMs === Number.POSITIVE_INFINITY;
    this.#bare = this.#plain && !this.#shared && o.usable === undefined && o.onIdle === undefined;
    this.#stamp = o.validate !== undefined;
    this.#host = host;
  }

  get length(): number {
    return this.#list.length;
  }

  /** Notes whether `slot` may be shared, as it joins the pool or its lease limit changes. */
  track(slot: Slot<T>): void {
    if (!this.#shared) return;
    if (slot.maxLeases > 1) this.#sharable.add(slot);
    else this.#sharable.delete(slot);
  }

  /** Forgets `slot` as it leaves the pool. */
  untrack(slot: Slot<T>): void {
    this.#sharable.delete(slot);
  }

  /** Puts `slot` in the set. */
  add(slot: Slot<T>): void {
    // Reading the clock costs a fraction of a hot release; without `validate` the idle
    // time only matters to the reaper, which stamps the slot on its next pass instead.
    slot.idleSince = this.#stamp ? this.#clock.now() : UNSTAMPED;
    this.#list.push(slot);
    if (this.#onIdle !== undefined) this.#notify(slot, true);
  }

  /**
   * A resource that can be lent right now without validation (a shared one with room, or
   * the next idle one), or null: none is idle, or the next one needs validation first.
   */
  takeReady(): Slot<T> | null {
    // Small enough for V8 to inline where the pool lends: a bare set only pops.
    const list = this.#list;
    if (this.#bare) return list.length === 0 ? null : (this.#fifo ? list.shift() : list.pop())!;
    return this.#takeChecked();
  }

  /** {@link takeReady} with the checks: shared room, lifetime, validation, `usable`, `onIdle`. */
  #takeChecked(): Slot<T> | null {
    if (this.#shared) {
      const shared = this.#busiestShared();
      if (shared !== null) return shared;
    }
    const list = this.#list;
    // The length first: reading past the end (list[-1] of an empty list) is slow in V8.
    while (list.length > 0) {
      const slot = (this.#fifo ? list[0] : list[list.length - 1])!;
      if (!this.#plain) {
        const now = this.#clock.now();
        if (slot.expiresAt <= now) {
          this.#host.destroy(slot, 'lifetime');
          continue;
        }
        if (this.#needsValidation(slot, now)) return null;
      }
      if (this.#usable !== undefined && !this.#usable(slot.value)) {
        this.#host.destroy(slot, 'broken', unusable());
        continue;
      }
      if (this.#fifo) list.shift();
      else list.pop();
      if (this.#onIdle !== undefined) this.#notify(slot, false);
      return slot;
    }
    return null;
  }

  #needsValidation(slot: Slot<T>, now: number): boolean {
    return (
      this.#o.validate !== undefined &&
      slot.leases === 0 &&
      now - Math.max(slot.idleSince, slot.validatedAt) > this.#o.validateAfterIdleMs
    );
  }

  /** Takes the next idle resource out of the set, to use it (to validate it, say). */
  take(): Slot<T> | undefined {
    if (this.#list.length === 0) return undefined;
    const slot = (this.#fifo ? this.#list.shift() : this.#list.pop())!;
    if (this.#onIdle !== undefined) this.#notify(slot, false);
    return slot;
  }

  /** The longest idle resource (evicted first). */
  oldest(): Slot<T> | undefined {
    return this.#list[0];
  }

  /** Takes `slot` out of the set to use it. */
  leave(slot: Slot<T>): void {
    this.remove(slot);
    if (this.#onIdle !== undefined) this.#notify(slot, false);
  }

  /** Takes `slot` out of the set to destroy it (not told to `onIdle`). */
  remove(slot: Slot<T>): void {
    const i = this.#list.indexOf(slot);
    if (i >= 0) this.#list.splice(i, 1);
  }

  /** A copy, oldest first, to walk while destroying. */
  snapshot(): Slot<T>[] {
    return [...this.#list];
  }

  /**
   * The shared resource with the most leases that still has room (so idle ones can retire);
   * one that is not `usable` takes no new borrowers and goes when its leases come back.
   */
  #busiestShared(): Slot<T> | null {
    // Bounded: each turn retires one of finitely many slots.
    for (;;) {
      let best: Slot<T> | null = null;
      for (const slot of this.#sharable) {
        if (slot.leases > 0 && slot.hasRoom && (best === null || slot.leases > best.leases)) {
          best = slot;
        }
      }
      if (best === null || this.#usable === undefined || this.#usable(best.value)) return best;
      best.retire = 'broken';
    }
  }

  #notify(slot: Slot<T>, idle: boolean): void {
    try {
      this.#onIdle!(slot.value, idle);
    } catch (error) {
      // As with a throwing event listener: reported, without leaving the pool half-updated.
      queueMicrotask(() => {
        throw error;
      });
    }
  }
}

/** @internal The cause of a destroy for a resource that `usable` turned down. */
export function unusable(): BrokenResourceError {
  return new BrokenResourceError('`usable` turned the resource down as it was about to be lent');
}
