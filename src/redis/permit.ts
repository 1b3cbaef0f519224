/**
 * One slot of a {@link RedisSemaphore}, held by a lease that this process renews until
 * `release()`. Releasing twice is a no-op. Pass `fencingToken` to the guarded resource,
 * which should refuse a token lower than one it has seen: after a lost lease (a long GC
 * pause), the old holder's writes then fail instead of interleaving with the new one's.
 * @example
 * await using permit = await semaphore.acquire({ signal });
 * await storage.write(data, { fence: permit.fencingToken, signal: permit.signal });
 */
export class RedisPermit implements AsyncDisposable {
  /**
   * Increases with every grant across the whole fleet (it is never reused, also after
   * Redis forgets the leases). `0` for a permit granted without Redis (`degraded`).
   */
  readonly fencingToken: number;
  /**
   * True when Redis was unreachable and the `whenUnavailable` policy let the caller
   * through ('fail-open' or the local fallback limit): the fleet-wide limit was not checked.
   */
  readonly degraded: boolean;
  /** Aborts, with `ERR_REDIS_LEASE_LOST`, when the lease could not be renewed in time. */
  readonly signal: AbortSignal;
  #release: (() => Promise<void>) | undefined;

  /** @internal Permits are made by {@link RedisSemaphore.acquire}. */
  constructor(
    fencingToken: number,
    degraded: boolean,
    signal: AbortSignal,
    release: () => Promise<void>,
  ) {
    this.fencingToken = fencingToken;
    this.degraded = degraded;
    this.signal = signal;
    this.#release = release;
  }

  /** True until `release()`. */
  get held(): boolean {
    return this.#release !== undefined;
  }

  /**
   * Gives the slot back; the oldest waiter in the fleet gets it at once. Idempotent.
   * Never rejects: if Redis cannot be reached the lease simply runs out after `leaseMs`.
   */
  release(): Promise<void> {
    const release = this.#release;
    if (release === undefined) return Promise.resolve();
    this.#release = undefined;
    return release();
  }

  /** Same as {@link release}, for `await using permit = await semaphore.acquire()`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.release();
  }
}
