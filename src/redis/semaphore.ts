import { randomUUID } from 'node:crypto';
import type { TimerHandle } from '../internal/clock.js';
import { describe } from '../internal/errors.js';
import { checkInt, checkKeys, checkMs, checkObject, optionKeys } from '../internal/options.js';
import { abortReason, checkSignal, onAbort } from '../internal/signals.js';
import { BulkheadFullError } from '../resilience/errors.js';
import { Semaphore } from '../resilience/semaphore.js';
import {
  RedisAcquireTimeoutError,
  RedisClosedError,
  RedisLeaseLostError,
  RedisUnavailableError,
} from './errors.js';
import { SEMAPHORE_ACQUIRE, SEMAPHORE_COUNT, SEMAPHORE_RELEASE, SEMAPHORE_RENEW } from './lua.js';
import { BASE_KEYS, type RedisBaseOptions, type ResolvedBase, resolveBase } from './options.js';
import { RedisPermit } from './permit.js';
import { isUnavailable, Script, within } from './scripts.js';
import { Subscription } from './subscription.js';

const ACQUIRE = new Script(SEMAPHORE_ACQUIRE);
const RELEASE = new Script(SEMAPHORE_RELEASE);
const RENEW = new Script(SEMAPHORE_RENEW);
const COUNT = new Script(SEMAPHORE_COUNT);

/** Options of a {@link RedisSemaphore}. */
export interface RedisSemaphoreOptions extends RedisBaseOptions {
  /** Slots in the whole fleet: an integer >= 1. Every process must pass the same. Required. */
  limit: number;
  /**
   * How long a lease lives without renewal, in ms. A holder that dies (even with
   * `kill -9`) gives its slot back within `leaseMs` plus one `renewEveryMs`. @default 10_000
   */
  leaseMs?: number;
  /**
   * How often a held lease (and a waiter's place in the queue) is renewed, in ms; below
   * `leaseMs`. @default leaseMs / 3
   */
  renewEveryMs?: number;
  /**
   * Callers of this process that may wait at once; the next is refused with
   * `ERR_BULKHEAD_FULL`. @default 10_000
   */
  maxWaiting?: number;
}

/** Options of {@link RedisSemaphore.acquire}. */
export interface RedisAcquireOptions {
  /** Aborts the wait; the caller leaves the queue in Redis too. */
  signal?: AbortSignal | undefined;
  /** Gives up with `ERR_REDIS_ACQUIRE_TIMEOUT` after this many ms. @default Infinity */
  timeoutMs?: number | undefined;
}

const SEMAPHORE_KEYS = optionKeys<RedisSemaphoreOptions>({
  ...BASE_KEYS,
  limit: 1,
  leaseMs: 1,
  renewEveryMs: 1,
  maxWaiting: 1,
});
const ACQUIRE_KEYS = optionKeys<RedisAcquireOptions>({ signal: 1, timeoutMs: 1 });

interface Waiter {
  readonly id: string;
  readonly signal: AbortSignal | undefined;
  settled: boolean;
  inFlight: boolean;
  again: boolean;
  timer: TimerHandle;
  deadline: TimerHandle;
  disposeAbort: () => void;
  resolve: (permit: RedisPermit) => void;
  reject: (error: unknown) => void;
}

interface Held {
  readonly id: string;
  readonly controller: AbortController;
  timer: TimerHandle;
  // Local time when the last renewal that succeeded was sent: the lease lasts leaseMs from
  // (at least) then.
  renewedAt: number;
  permit: RedisPermit | undefined;
}

const noop = (): void => {};

/**
 * A counting semaphore shared by every process that uses the same Redis and `key`: at most
 * `limit` permits are held across the fleet. Waiters are served first come first served
 * across processes: a freed slot is handed to the head of the queue inside the Lua script
 * that frees it, and the new holder is woken through pub/sub, so nobody polls. Leases
 * carry a TTL on the server's clock and are renewed while held, so a holder that dies
 * gives its slot back within `leaseMs` plus one renewal. Every grant carries a fencing
 * token that increases across the fleet.
 *
 * It is a `ConnectionPermits` for `createPgPool({ permits })` and
 * `createManagedPool(manager, { permits })`: a fleet of pools then shares one budget of
 * connections to one database.
 * @example
 * const semaphore = new RedisSemaphore({ redis: new Redis(), key: 'reports', limit: 5 });
 * await using permit = await semaphore.acquire({ signal, timeoutMs: 30_000 });
 * await buildReport({ fence: permit.fencingToken });
 */
export class RedisSemaphore {
  readonly #base: ResolvedBase;
  readonly #limit: number;
  readonly #leaseMs: number;
  readonly #renewEveryMs: number;
  readonly #maxWaiting: number;
  readonly #keys: readonly string[];
  readonly #channel: string;
  readonly #waiters = new Map<string, Waiter>();
  readonly #held = new Set<Held>();
  #local: Semaphore | undefined;
  readonly #subscription: Subscription;
  #closed = false;

  /** @throws {TypeError|RangeError} for bad options, naming the option. */
  constructor(options: RedisSemaphoreOptions) {
    if (options === undefined) {
      throw new TypeError('Expected `options` to be an object with `redis`, `key` and `limit`');
    }
    checkObject('options', options);
    checkKeys('RedisSemaphore', options, SEMAPHORE_KEYS);
    this.#base = resolveBase(options);
    this.#limit = checkInt('limit', options.limit, 1);
    this.#leaseMs = checkInt('leaseMs', options.leaseMs ?? 10_000, 10);
    const renew = options.renewEveryMs ?? Math.floor(this.#leaseMs / 3);
    this.#renewEveryMs = checkMs('renewEveryMs', renew, 1, false);
    if (this.#renewEveryMs >= this.#leaseMs) {
      throw new RangeError(
        `Expected \`renewEveryMs\` to be below \`leaseMs\` (${this.#leaseMs}), got ${describe(renew)}`,
      );
    }
    this.#maxWaiting = checkInt('maxWaiting', options.maxWaiting ?? 10_000, 0, true);
    const { prefix, key } = this.#base;
    const base = `${prefix}sem:{${key}}:`;
    this.#keys = ['holders', 'tokens', 'queue', 'alive', 'seq'].map((k) => base + k);
    this.#channel = `${base}wake`;
    this.#subscription = new Subscription(
      this.#base,
      this.#channel,
      `semaphore "${key}"`,
      this.#onMessage,
    );
    const w = this.#base.whenUnavailable;
    if (typeof w === 'number') this.#local = new Semaphore(w, { name: `${key} (local fallback)` });
  }

  /** Slots in the whole fleet. */
  get limit(): number {
    return this.#limit;
  }

  /** Permits this process holds now. */
  get held(): number {
    return this.#held.size;
  }

  /** Callers of this process waiting now. */
  get waiting(): number {
    return this.#waiters.size;
  }

  /**
   * Asks Redis how many permits are held and how many callers wait across the fleet
   * (after dropping the leases of dead holders).
   * @throws {RedisUnavailableError} `ERR_REDIS_UNAVAILABLE` when Redis does not answer.
   */
  async count(): Promise<{ held: number; waiting: number }> {
    const r = (await this.#run(COUNT, '', 'a count')) as [number, number];
    return { held: Number(r[0]), waiting: Number(r[1]) };
  }

  /**
   * Takes a permit if a slot is free now and nobody waits; never queues.
   * @returns the permit, or `undefined` when none was free.
   * @throws {RedisUnavailableError} `ERR_REDIS_UNAVAILABLE` when Redis does not answer
   * and the policy is 'fail-closed'.
   */
  async tryAcquire(): Promise<RedisPermit | undefined> {
    this.#checkOpen();
    const id = randomUUID();
    const sentAt = this.#base.clock.now();
    let reply: [number, number];
    try {
      reply = (await this.#run(ACQUIRE, id, 'an acquire', '0')) as [number, number];
    } catch (error) {
      if (!isUnavailable(error)) throw error;
      return this.#degraded(error, undefined, true);
    }
    if (Number(reply[0]) !== 1) return undefined;
    return this.#grant(id, Number(reply[1]), sentAt);
  }

  /**
   * Waits for a permit, first come first served across the fleet.
   * @throws {RedisAcquireTimeoutError} `ERR_REDIS_ACQUIRE_TIMEOUT` after `timeoutMs`.
   * @throws {RedisUnavailableError} `ERR_REDIS_UNAVAILABLE` when Redis does not answer
   * within `connectTimeoutMs` and the policy is 'fail-closed' (with 'fail-open' or a
   * local limit, a `degraded` permit is returned instead).
   * @throws {BulkheadFullError} `ERR_BULKHEAD_FULL` when `maxWaiting` callers wait here.
   * @throws {RedisClosedError} `ERR_REDIS_CLOSED` after `close()`.
   * @throws the signal's reason when it aborts; the caller then leaves the queue.
   */
  async acquire(options?: RedisAcquireOptions): Promise<RedisPermit> {
    checkObject('options', options);
    checkKeys('RedisSemaphore.acquire', options, ACQUIRE_KEYS);
    const signal = checkSignal(options?.signal);
    const timeoutMs = checkMs('timeoutMs', options?.timeoutMs ?? Number.POSITIVE_INFINITY);
    if (signal?.aborted) throw abortReason(signal);
    this.#checkOpen();
    if (this.#waiters.size >= this.#maxWaiting) {
      throw new BulkheadFullError(
        `RedisSemaphore "${this.#base.key}" refused the call: ${this.#waiters.size} callers of this process already wait (maxWaiting ${this.#maxWaiting})`,
        this.#limit,
        this.#waiters.size,
      );
    }
    const id = randomUUID();
    const sentAt = this.#base.clock.now();
    let reply: [number, number];
    try {
      reply = (await this.#run(ACQUIRE, id, 'an acquire', '1')) as [number, number];
    } catch (error) {
      if (!isUnavailable(error)) throw error;
      this.#forget(id);
      return this.#degraded(error, signal, false);
    }
    if (Number(reply[0]) === 1) {
      const permit = this.#grant(id, Number(reply[1]), sentAt);
      if (signal?.aborted) {
        await permit.release();
        throw abortReason(signal);
      }
      return permit;
    }
    if (signal?.aborted || this.#closed) {
      this.#forget(id);
      if (signal?.aborted) throw abortReason(signal);
      this.#checkOpen();
    }
    return this.#wait(id, signal, timeoutMs);
  }

  /**
   * Rejects every waiter of this process with `ERR_REDIS_CLOSED`, releases the permits it
   * still holds and stops listening for hand-overs. Idempotent. The Redis client stays
   * open (it is the caller's).
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const w of [...this.#waiters.values()]) {
      this.#fail(w, new RedisClosedError(`RedisSemaphore "${this.#base.key}" was closed`));
    }
    await Promise.all([...this.#held].map((h) => h.permit?.release()));
    await this.#subscription.close();
  }

  /** Same as {@link close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #checkOpen(): void {
    if (this.#closed) {
      throw new RedisClosedError(`RedisSemaphore "${this.#base.key}" is closed`);
    }
  }

  #run(script: Script, id: string, what: string, ...extra: string[]): Promise<unknown> {
    const { redis, clock, connectTimeoutMs } = this.#base;
    return within(
      clock,
      connectTimeoutMs,
      `${what} on semaphore "${this.#base.key}"`,
      script.run(redis, this.#keys, [id, this.#limit, this.#leaseMs, this.#channel, ...extra]),
    );
  }

  /** Takes `id` out of the queue (or gives back what it was handed), best effort. */
  #forget(id: string): void {
    this.#run(RELEASE, id, 'a release').catch(noop);
  }

  #wait(id: string, signal: AbortSignal | undefined, timeoutMs: number): Promise<RedisPermit> {
    return new Promise<RedisPermit>((resolve, reject) => {
      const w: Waiter = {
        id,
        signal,
        settled: false,
        inFlight: false,
        again: false,
        timer: undefined,
        deadline: undefined,
        disposeAbort: noop,
        resolve,
        reject,
      };
      this.#waiters.set(id, w);
      w.disposeAbort = onAbort(signal, (reason) => this.#fail(w, reason));
      if (Number.isFinite(timeoutMs)) {
        w.deadline = this.#base.clock.setTimeout(
          () =>
            this.#fail(
              w,
              new RedisAcquireTimeoutError(
                `RedisSemaphore "${this.#base.key}": no permit within ${timeoutMs} ms (limit ${this.#limit}); raise timeoutMs or the limit, or find holders that keep permits too long`,
              ),
            ),
          timeoutMs,
        );
      }
      // Grants made before the subscription was up were not heard: check once it is.
      this.#subscription.ready().then(
        () => this.#check(w),
        (error: unknown) => this.#waitFailed(w, error),
      );
    });
  }

  readonly #onMessage = (message: string): void => {
    const space = message.indexOf(' ');
    const w = this.#waiters.get(message.slice(0, space));
    if (w === undefined) return;
    this.#settleGranted(w, Number(message.slice(space + 1)), this.#base.clock.now());
  };

  /** Asks Redis again: refreshes the waiter's heartbeat and takes a slot handed over. */
  #check(w: Waiter): void {
    if (w.settled) return;
    if (w.inFlight) {
      w.again = true;
      return;
    }
    w.inFlight = true;
    w.again = false;
    const sentAt = this.#base.clock.now();
    this.#run(ACQUIRE, w.id, 'an acquire', '1').then(
      (reply) => {
        w.inFlight = false;
        if (w.settled) return;
        const [granted, value] = reply as [number, number];
        if (Number(granted) === 1) {
          this.#settleGranted(w, Number(value), sentAt);
          return;
        }
        if (w.again) {
          this.#check(w);
          return;
        }
        // A dead holder's lease runs out at `wake`: look again then, since nobody else
        // may run a script that hands its slot over. Otherwise only the heartbeat.
        const wake = Number(value);
        const delay = wake >= 0 ? Math.min(wake + 1, this.#renewEveryMs) : this.#renewEveryMs;
        this.#base.clock.clearTimeout(w.timer);
        w.timer = this.#base.clock.setTimeout(() => {
          w.timer = undefined;
          this.#check(w);
        }, delay);
      },
      (error: unknown) => {
        w.inFlight = false;
        this.#waitFailed(w, error);
      },
    );
  }

  #settleGranted(w: Waiter, token: number, sentAt: number): void {
    if (w.settled) return;
    this.#settle(w);
    w.resolve(this.#grant(w.id, token, sentAt));
  }

  #settle(w: Waiter): void {
    w.settled = true;
    this.#waiters.delete(w.id);
    w.disposeAbort();
    this.#base.clock.clearTimeout(w.timer);
    this.#base.clock.clearTimeout(w.deadline);
  }

  #fail(w: Waiter, reason: unknown): void {
    if (w.settled) return;
    this.#settle(w);
    // Scripts on one connection run in order, so this runs after any acquire in flight:
    // a slot handed over in the meantime is given back.
    this.#forget(w.id);
    w.reject(reason);
  }

  #waitFailed(w: Waiter, error: unknown): void {
    if (w.settled) return;
    if (!isUnavailable(error) || this.#base.whenUnavailable === 'fail-closed') {
      this.#fail(w, error);
      return;
    }
    this.#settle(w);
    this.#forget(w.id);
    this.#degraded(error, w.signal, false).then(w.resolve, w.reject);
  }

  /** The answer of the `whenUnavailable` policy while Redis is unreachable. */
  async #degraded(
    error: unknown,
    signal: AbortSignal | undefined,
    tryOnly: boolean,
  ): Promise<RedisPermit> {
    const policy = this.#base.whenUnavailable;
    if (policy === 'fail-closed') throw error;
    const never = new AbortController().signal;
    if (policy === 'fail-open') return new RedisPermit(0, true, never, () => Promise.resolve());
    const local = this.#local!;
    const permit = tryOnly ? local.tryAcquire() : await local.acquire({ signal });
    if (permit === undefined) {
      throw new RedisUnavailableError(
        `Redis is unreachable and the local fallback limit (${policy}) of semaphore "${this.#base.key}" is reached`,
        { cause: error },
      );
    }
    return new RedisPermit(0, true, never, () => {
      permit.release();
      return Promise.resolve();
    });
  }

  #grant(id: string, token: number, sentAt: number): RedisPermit {
    const h: Held = {
      id,
      controller: new AbortController(),
      timer: undefined,
      renewedAt: sentAt,
      permit: undefined,
    };
    this.#held.add(h);
    const permit = new RedisPermit(token, false, h.controller.signal, () => this.#release(h));
    h.permit = permit;
    this.#armRenewal(h);
    return permit;
  }

  #armRenewal(h: Held): void {
    // Unref'd: a held permit alone should not keep the process alive.
    h.timer = this.#base.clock.setTimeout(() => this.#renew(h), this.#renewEveryMs, true);
  }

  #renew(h: Held): void {
    h.timer = undefined;
    if (!this.#held.has(h)) return;
    const sentAt = this.#base.clock.now();
    this.#run(RENEW, h.id, 'a lease renewal').then(
      (ok) => {
        if (!this.#held.has(h)) return;
        if (Number(ok) === 1) {
          h.renewedAt = sentAt;
          this.#armRenewal(h);
        } else {
          this.#lost(h, undefined);
        }
      },
      (error: unknown) => {
        if (!this.#held.has(h)) return;
        // Keep trying while the lease may still be alive on the server.
        if (this.#base.clock.now() - h.renewedAt >= this.#leaseMs) this.#lost(h, error);
        else this.#armRenewal(h);
      },
    );
  }

  #lost(h: Held, cause: unknown): void {
    h.controller.abort(
      new RedisLeaseLostError(
        `The lease on semaphore "${this.#base.key}" ran out before it was renewed (leaseMs ${this.#leaseMs}); another process may hold the slot now`,
        cause === undefined ? undefined : { cause },
      ),
    );
    this.#held.delete(h);
    this.#base.clock.clearTimeout(h.timer);
  }

  async #release(h: Held): Promise<void> {
    const wasHeld = this.#held.delete(h);
    this.#base.clock.clearTimeout(h.timer);
    if (!wasHeld) return;
    try {
      await this.#run(RELEASE, h.id, 'a release');
    } catch {
      // The lease runs out by itself within leaseMs.
    }
  }
}
