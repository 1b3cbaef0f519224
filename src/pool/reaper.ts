// Housekeeping on a timer: idle resources above `min` time out, resources past their
// lifetime retire, idle ones are validated every `validateIntervalMs`.
import type { TimerHandle } from '../internal/clock.js';
import type { IdleSet } from './idle-set.js';
import type { ResolvedPoolOptions } from './options.js';
import { type DestroyReason, type Slot, UNSTAMPED } from './slot.js';

/** @internal What the reaper asks of its pool. */
export interface ReaperHost<T> {
  isOpen(): boolean;
  /** The pool's current lower bound. */
  min(): number;
  destroy(slot: Slot<T>, reason: DestroyReason, error?: unknown): void;
  /** Validates an idle resource taken out of the idle set; it returns when done. */
  validate(slot: Slot<T>): void;
  /** Called at the start of every pass (the autoscaler samples utilisation). */
  beforePass(): void;
  /** Called after every pass, to serve waiters and restore `min`. */
  pump(): void;
}

/** @internal The timer and the pass; it runs while the pool holds resources. */
export class Reaper<T> {
  readonly #o: ResolvedPoolOptions<T>;
  readonly #slots: ReadonlySet<Slot<T>>;
  readonly #idle: IdleSet<T>;
  readonly #host: ReaperHost<T>;
  #timer: TimerHandle;
  #pending = false;

  constructor(
    o: ResolvedPoolOptions<T>,
    slots: ReadonlySet<Slot<T>>,
    idle: IdleSet<T>,
    host: ReaperHost<T>,
  ) {
    this.#o = o;
    this.#slots = slots;
    this.#idle = idle;
    this.#host = host;
  }

  /** Makes sure a pass is scheduled. Housekeeping alone never keeps the process alive. */
  arm(): void {
    if (this.#pending || !this.#host.isOpen()) return;
    this.#pending = true;
    this.#timer = this.#o.clock.setTimeout(() => this.#pass(), this.#o.reapIntervalMs, true);
  }

  stop(): void {
    this.#o.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#pending = false;
  }

  #pass(): void {
    this.#pending = false;
    this.#timer = undefined;
    if (!this.#host.isOpen()) return;
    const o = this.#o;
    const host = this.#host;
    host.beforePass();
    const now = o.clock.now();
    for (const slot of this.#idle.snapshot()) {
      if (slot.idleSince === UNSTAMPED) slot.idleSince = now;
      if (slot.expiresAt <= now) host.destroy(slot, 'lifetime');
      else if (now - slot.idleSince >= o.idleTimeoutMs && this.#slots.size > host.min()) {
        host.destroy(slot, 'idle');
      } else if (
        o.validate !== undefined &&
        now - Math.max(slot.idleSince, slot.validatedAt) >= o.validateIntervalMs
      ) {
        this.#idle.leave(slot);
        host.validate(slot);
      }
    }
    // Leased resources past their lifetime take no new borrowers; they go when returned.
    for (const slot of this.#slots) {
      if (slot.leases > 0 && slot.retire === null && slot.expiresAt <= now)
        slot.retire = 'lifetime';
    }
    host.pump();
    if (this.#slots.size > 0) this.arm();
  }
}
