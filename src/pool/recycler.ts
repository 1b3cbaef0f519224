// What becomes of a resource when its borrower, its reset or its validation lets go of
// it: retired, reweighed, reset, handed to the next waiter, or back to the idle set.
import type { Hooks } from './hooks.js';
import { type IdleSet, unusable } from './idle-set.js';
import type { ResolvedPoolOptions } from './options.js';
import type { DestroyReason, Slot } from './slot.js';
import type { Waiter, WaiterQueue } from './waiters.js';
import type { WeightBudget } from './weight.js';

/** @internal What the recycler asks of its pool. */
export interface RecyclerHost<T> {
  isOpen(): boolean;
  destroy(slot: Slot<T>, reason: DestroyReason, error?: unknown): void;
  /** Leases `slot` to `w`, which leaves the queue. */
  grant(w: Waiter<T>, slot: Slot<T>): void;
  pump(): void;
  /** A lease, reset or validation ended after shutdown began. */
  letGo(): void;
  validationFailed(slot: Slot<T>, error: unknown): void;
}

/** @internal Puts resources back into service, or out of it. */
export class Recycler<T> {
  readonly #o: ResolvedPoolOptions<T>;
  readonly #waiters: WaiterQueue<T>;
  readonly #idle: IdleSet<T>;
  readonly #hooks: Hooks<T>;
  readonly #budget: WeightBudget<T> | undefined;
  readonly #host: RecyclerHost<T>;
  // Resources may be shared (fixed or per-resource lease limit).
  readonly #shared: boolean;
  // No return hook, weight, `usable` or lifetime: a return needs no check but the counts.
  readonly #plain: boolean;
  readonly #maxUses: number;

  constructor(
    o: ResolvedPoolOptions<T>,
    parts: {
      waiters: WaiterQueue<T>;
      idle: IdleSet<T>;
      hooks: Hooks<T>;
      budget: WeightBudget<T> | undefined;
    },
    host: RecyclerHost<T>,
  ) {
    this.#o = o;
    this.#waiters = parts.waiters;
    this.#idle = parts.idle;
    this.#hooks = parts.hooks;
    this.#budget = parts.budget;
    this.#host = host;
    this.#shared = o.maxLeasesPerResource > 1 || o.leaseLimit !== undefined;
    this.#plain =
      o.reset === undefined &&
      o.weigh === undefined &&
      o.usable === undefined &&
      o.maxLifetimeMs === Number.POSITIVE_INFINITY;
    this.#maxUses = o.maxUses;
  }

  /** Validates `slot` on behalf of `w`, which waits for it (skipped by others meanwhile). */
  check(slot: Slot<T>, w: Waiter<T>): void {
    this.#waiters.hold(w, slot);
    this.#hooks.validate(slot, w);
  }

  /**
   * A borrower returned a lease of live `slot` to the open pool (the lease is already
   * counted back); `oversized` when more resources are open than `max` (it was lowered).
   */
  returned(slot: Slot<T>, broken: boolean, oversized: boolean): void {
    // The common return in few instructions, so that V8 inlines it into the release: a
    // plain pool, a resource that stays, nobody waiting. It ends as `available` would.
    if (
      this.#plain &&
      !broken &&
      !oversized &&
      slot.retire === null &&
      slot.uses < this.#maxUses &&
      this.#waiters.size === 0
    ) {
      if (slot.leases === 0) this.#idle.add(slot);
      return;
    }
    this.#recycle(slot, broken, oversized);
  }

  /** {@link returned} with every check: retiring, weight, `reset`, `usable`, a waiter. */
  #recycle(slot: Slot<T>, broken: boolean, oversized: boolean): void {
    const host = this.#host;
    if (slot.retire === null) {
      if (broken) slot.retire = 'broken';
      else if (slot.uses >= this.#maxUses) slot.retire = 'uses';
      else if (oversized) slot.retire = 'resize';
      else if (
        slot.expiresAt !== Number.POSITIVE_INFINITY &&
        slot.expiresAt <= this.#o.clock.now()
      ) {
        slot.retire = 'lifetime';
      }
    }
    if (slot.retire !== null) {
      if (slot.leases === 0) {
        host.destroy(slot, slot.retire);
        host.pump();
      }
      return;
    }
    if (this.#budget !== undefined && !this.#budget.reweigh(slot)) {
      host.pump();
      return;
    }
    if (slot.leases === 0 && this.#o.reset !== undefined) {
      this.#hooks.reset(slot);
      return;
    }
    this.available(slot);
  }

  /**
   * A resource with room goes straight to the oldest waiter, else back to the idle set;
   * one that is not `usable` goes instead (at once, or when its other leases come back).
   */
  available(slot: Slot<T>): void {
    const usable = this.#o.usable;
    if (usable !== undefined && !usable(slot.value)) {
      if (slot.leases === 0) {
        this.#host.destroy(slot, 'broken', unusable());
        this.#host.pump();
      } else slot.retire = 'broken';
      return;
    }
    const w = this.#waiters.first();
    // A limit lowered by setLeaseLimit may leave a shared resource over its limit for now.
    if (w !== null && slot.leases < slot.maxLeases) {
      this.#host.grant(w, slot);
      if (this.#shared) this.fillShared(slot);
      return;
    }
    if (slot.leases === 0) this.#idle.add(slot);
  }

  /** Gives a shared resource's remaining room to waiters. */
  fillShared(slot: Slot<T>): void {
    for (let w = this.#waiters.first(); w !== null && slot.leases < slot.maxLeases; ) {
      if (slot.leases === 0) this.#idle.leave(slot);
      this.#host.grant(w, slot);
      w = this.#waiters.first();
    }
  }

  /** `reset` of `slot` finished (`failed` with `error`). */
  afterReset(slot: Slot<T>, failed: boolean, error: unknown): void {
    const host = this.#host;
    if (failed) {
      host.destroy(slot, 'reset', error);
      if (host.isOpen()) host.pump();
      else host.letGo();
      return;
    }
    if (this.#shutDown(slot, true)) return;
    if (slot.retire !== null) {
      host.destroy(slot, slot.retire);
      host.pump();
      return;
    }
    this.available(slot);
  }

  /** `validate` of `slot` on behalf of `w` finished: `ok`, or failed with `error`. */
  afterValidate(slot: Slot<T>, w: Waiter<T>, ok: boolean, error: unknown): void {
    const host = this.#host;
    this.#waiters.letGo(w, slot);
    if (this.#shutDown(slot, true)) return;
    const usable = this.#o.usable;
    if (!ok || slot.retire !== null || (usable !== undefined && !usable(slot.value))) {
      host.validationFailed(slot, error);
      host.destroy(slot, 'validation', error);
    } else {
      slot.validatedAt = this.#o.clock.now();
      // The waiter may have given up meanwhile; then the resource serves the next one.
      if (w.queued) host.grant(w, slot);
      else this.available(slot);
    }
    host.pump();
  }

  /**
   * Deals with `slot` if it is gone or the pool is shutting down (destroyed then when
   * `unused`); returns false if the pool is open and `slot` lives.
   */
  #shutDown(slot: Slot<T>, unused: boolean): boolean {
    const host = this.#host;
    if (!slot.destroyed && host.isOpen()) return false;
    if (!slot.destroyed && unused) host.destroy(slot, 'drain');
    host.letGo();
    return true;
  }
}
