// The pool's record of one resource: its leases, age, idle time and whether a hook holds it.

/** Why a resource was destroyed, as reported by the `destroy` event. */
export type DestroyReason =
  | 'idle'
  | 'lifetime'
  | 'uses'
  | 'broken'
  | 'validation'
  | 'reset'
  | 'resize'
  | 'drain'
  | 'weight'
  | 'late';

/** What a hook in progress does with a slot: nothing, validating it, or resetting it. */
export type HookState = typeof FREE | typeof VALIDATING | typeof RESETTING;
export const FREE = 0;
export const VALIDATING = 1;
export const RESETTING = 2;

/** An idle time not read yet: the reaper stamps it on its next pass (see {@link IdleSet}). */
export const UNSTAMPED = Number.NEGATIVE_INFINITY;

/** @internal One resource of a pool. */
export class Slot<T> {
  readonly value: T;
  /** Borrowers it serves now. */
  leases = 0;
  /** Borrowers it may serve at once. */
  maxLeases: number;
  uses = 0;
  readonly expiresAt: number;
  idleSince: number;
  validatedAt: number;
  weight = 0;
  /** A reset or validation holds it: neither idle nor leased. */
  busy: HookState = FREE;
  /** Takes no new leases; destroyed when the last one returns. */
  retire: DestroyReason | null = null;
  destroyed = false;

  constructor(value: T, maxLeases: number, now: number, expiresAt: number) {
    this.value = value;
    this.maxLeases = maxLeases;
    this.expiresAt = expiresAt;
    this.idleSince = now;
    this.validatedAt = now;
  }

  /** Can take one more borrower beside those it has (a shared resource with room). */
  get hasRoom(): boolean {
    return this.leases < this.maxLeases && this.busy === FREE && this.retire === null;
  }
}
