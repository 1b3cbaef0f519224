// A borrowed resource as its borrower sees it, and the leak watch on it.
import type { Clock, TimerHandle } from '../internal/clock.js';
import type { Slot } from './slot.js';

/** @internal What a lease needs from its pool; symbol-keyed so it stays off the public surface. */
export const kReturn = Symbol('weir.pool.return');

/** What a lease needs from its pool (nothing a user calls). */
export interface LeaseOwner<T> {
  /** @internal */
  [kReturn](lease: Lease<T>, destroyReason: unknown, destroy: boolean): void;
}

/**
 * A borrowed resource. Give it back exactly once with {@link Lease.release} (or
 * {@link Lease.destroy} if it is broken); later calls are no-ops, never a double return.
 * @example
 * await using lease = await pool.acquire();
 * await lease.value.query('SELECT 1');
 */
export class Lease<T> {
  /** The borrowed resource. Do not use it after the lease is released. */
  readonly value: T;
  #owner: LeaseOwner<T> | null;
  /** @internal the pool's record of the resource. */
  readonly slot: Slot<T>;
  /** @internal the leak-detection timer, while it runs. */
  leakTimer: TimerHandle;

  /** @internal Leases are made by the pool. */
  constructor(owner: LeaseOwner<T>, value: T, slot: Slot<T>) {
    this.#owner = owner;
    this.value = value;
    this.slot = slot;
  }

  /** True once the lease was released or destroyed. */
  get released(): boolean {
    return this.#owner === null;
  }

  /** Returns the resource to the pool. Idempotent. */
  release(): void {
    const owner = this.#owner;
    if (owner === null) return;
    this.#owner = null;
    owner[kReturn](this, undefined, false);
  }

  /**
   * Returns the resource as broken: the pool destroys it instead of reusing it
   * (once no other borrower shares it). Idempotent; a no-op after `release()`.
   */
  destroy(reason?: unknown): void {
    const owner = this.#owner;
    if (owner === null) return;
    this.#owner = null;
    owner[kReturn](this, reason, true);
  }

  /** Same as {@link Lease.release}, for `using`. */
  [Symbol.dispose](): void {
    this.release();
  }

  /** Same as {@link Lease.release}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    this.release();
    return Promise.resolve();
  }
}

/** @internal A public method of the pool, where a leak report's stack starts. */
export type Entry = (...args: never[]) => unknown;

/**
 * @internal The stack of whoever called `entry` (the pool's own frames left out), for
 * leak reports.
 */
export function callerStack(entry: Entry): string {
  const site = { name: 'Error', message: 'Lease acquired here', stack: '' };
  Error.captureStackTrace(site, entry);
  return site.stack;
}

/**
 * @internal Calls `report` with the acquirer's `stack` if `lease` is still out after `ms` (a timer that does not keep
 * the process alive); the owner clears `lease.leakTimer` when the lease returns.
 */
export function watchLeak<T>(
  lease: Lease<T>,
  stack: string,
  clock: Clock,
  ms: number,
  report: (lease: Lease<T>, heldMs: number, stack: string) => void,
): void {
  const acquiredAt = clock.now();
  lease.leakTimer = clock.setTimeout(
    () => {
      lease.leakTimer = undefined;
      report(lease, clock.now() - acquiredAt, stack);
    },
    ms,
    true,
  );
}
