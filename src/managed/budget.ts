// The connection budget a keyed pool shares among its keys: every connect of every key's
// pool takes room first, and room is moved to where it is wanted: an idle connection of
// one key is closed to serve a connect that waits in another, and a key that holds more
// than its fair share closes connections as they come back while another key waits.
import type { Clock, TimerHandle } from '../internal/clock.js';
import { abortReason, onAbort } from '../internal/signals.js';
import type { ConnectionTracker } from './managed-pool.js';

/** @internal One key's share of the budget. */
export interface Member<C> {
  /** Connections of this key holding room (open, or connecting after taking room). */
  used: number;
  /** Connects of this key waiting for room. */
  waiting: number;
  /** The key's pool, set once it is built; eviction retires connections through it. */
  pool: { retire(connection: C, reason: unknown): boolean } | undefined;
}

interface RoomWaiter<C> {
  member: Member<C>;
  resolve: () => void;
  dispose: () => void;
}

const EVICTED = 'closed while idle: another key of the keyed pool needs its room in the budget';

/** @internal The budget of connections across the keys of a keyed pool. */
export class Budget<C> {
  readonly limit: number;
  #used = 0;
  // Rare (only under pressure) and short: an array is simpler than a linked list here.
  readonly #waiters: RoomWaiter<C>[] = [];
  // Idle connections of every key, least recently idle first (a Map keeps insertion order).
  readonly #idle = new Map<C, Member<C>>();
  // Retired to make room but not closed yet (it was busy): room that is on its way.
  readonly #evicting = new Set<C>();
  readonly #members = new Set<Member<C>>();
  readonly #clock: Clock;
  #timer: TimerHandle;
  #pending = false;
  #closed = false;

  constructor(limit: number, clock: Clock) {
    this.limit = limit;
    this.#clock = clock;
  }

  /** Connections holding room. */
  get used(): number {
    return this.#used;
  }

  /** Connects waiting for room. */
  get waiting(): number {
    return this.#waiters.length;
  }

  /** A member's tracker, for its pool to call. */
  tracker(member: Member<C>): ConnectionTracker<C> {
    return {
      take: (signal) => this.#take(member, signal),
      give: () => this.#give(member),
      idle: (c) => {
        this.#idle.delete(c);
        this.#idle.set(c, member);
        if (this.#waiters.length > 0) this.#schedule();
      },
      leased: (c) => {
        this.#idle.delete(c);
      },
      closed: (c) => {
        this.#idle.delete(c);
        this.#evicting.delete(c);
        this.#give(member);
      },
      surplus: () => this.#surplus(member),
    };
  }

  /** Counts `member` in the fair share from now on. */
  join(member: Member<C>): void {
    this.#members.add(member);
  }

  /** Stops counting `member` (its key was evicted); its connections still give room back. */
  leave(member: Member<C>): void {
    this.#members.delete(member);
  }

  /** Stops the deferred rebalance for good (the keyed pool closed). */
  close(): void {
    this.#closed = true;
    this.#clock.clearTimeout(this.#timer);
    this.#pending = false;
  }

  #take(member: Member<C>, signal: AbortSignal): Promise<void> | undefined {
    if (this.#used < this.limit) {
      this.#used++;
      member.used++;
      return undefined;
    }
    if (signal.aborted) return Promise.reject(abortReason(signal));
    return new Promise<void>((resolve, reject) => {
      const w: RoomWaiter<C> = { member, resolve, dispose: noop };
      w.dispose = onAbort(signal, (reason) => {
        const i = this.#waiters.indexOf(w);
        if (i >= 0) this.#waiters.splice(i, 1);
        member.waiting--;
        reject(reason);
      });
      this.#waiters.push(w);
      member.waiting++;
      this.#schedule();
    });
  }

  #give(member: Member<C>): void {
    member.used--;
    this.#used--;
    while (this.#used < this.limit && this.#waiters.length > 0) {
      const w = this.#waiters.shift()!;
      w.dispose();
      w.member.waiting--;
      w.member.used++;
      this.#used++;
      w.resolve();
    }
  }

  /**
   * On return: whether `member` should close the connection for a waiting connect of
   * another key, because it holds more than its fair share of the budget.
   */
  #surplus(member: Member<C>): boolean {
    if (this.#waiters.length === 0) return false;
    let active = 0;
    for (const m of this.#members) if (m.used > 0 || m.waiting > 0) active++;
    const share = Math.max(1, Math.floor(this.limit / Math.max(1, active)));
    return member.used > share && this.#frontOtherThan(member);
  }

  /**
   * Moves the oldest waiter of another member to the front, so that the room `member`
   * frees goes there and not to a connect of `member` itself. False if there is none.
   */
  #frontOtherThan(member: Member<C>): boolean {
    const i = this.#waiters.findIndex((w) => w.member !== member);
    if (i < 0) return false;
    if (i > 0) this.#waiters.unshift(...this.#waiters.splice(i, 1));
    return true;
  }

  // Deferred to a timer: by then every lease handed out in the meantime has been reported,
  // so the idle list holds only connections nobody is about to use.
  #schedule(): void {
    if (this.#pending || this.#closed) return;
    this.#pending = true;
    this.#timer = this.#clock.setTimeout(() => this.#rebalance(), 0, true);
  }

  /** Closes idle connections, least recently used first, for connects waiting for room. */
  #rebalance(): void {
    this.#pending = false;
    this.#timer = undefined;
    for (const [c, member] of this.#idle) {
      if (this.#waiters.length <= this.#evicting.size) return;
      if (!this.#frontOtherThan(member)) continue;
      this.#idle.delete(c);
      this.#evicting.add(c);
      // Idle, it is closed now and its room goes to the front waiter in this call.
      if (member.pool?.retire(c, EVICTED) !== true) this.#evicting.delete(c);
    }
  }
}

const noop = (): void => {};
