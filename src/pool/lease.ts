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
  readonly slot: unknown;
  /** @internal leak-detection timer and acquirer's stack. */
  leakTimer: unknown;

  /** @internal Leases are made by the pool. */
  constructor(owner: LeaseOwner<T>, value: T, slot: unknown) {
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
