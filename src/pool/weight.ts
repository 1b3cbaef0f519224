// The weight budget (`weigh` and `maxWeight`): what resources weigh together, whether
// one more fits, and which idle ones make room.
import type { IdleSet, IdleSetHost } from './idle-set.js';
import type { Slot } from './slot.js';

/** @internal The summed weight of a pool's resources against its budget. */
export class WeightBudget<T> {
  /** Summed weight of open resources. */
  total = 0;
  readonly #max: number;
  readonly #weigh: (resource: T) => number;
  readonly #slots: ReadonlySet<Slot<T>>;
  readonly #idle: IdleSet<T>;
  readonly #host: IdleSetHost<T>;

  /** `slots` and `idle` are the pool's. */
  constructor(
    weigh: (resource: T) => number,
    max: number,
    slots: ReadonlySet<Slot<T>>,
    idle: IdleSet<T>,
    host: IdleSetHost<T>,
  ) {
    this.#weigh = weigh;
    this.#max = max;
    this.#slots = slots;
    this.#idle = idle;
    this.#host = host;
  }

  /**
   * Re-reads the weight of `slot` (on create and on every return), then evicts idle
   * resources, oldest first, while the total is over budget. Returns false if weighing
   * threw or gave no weight: the resource is then destroyed.
   */
  reweigh(slot: Slot<T>): boolean {
    let w: number;
    try {
      w = this.#weigh(slot.value);
      if (typeof w !== 'number' || !(w >= 0))
        throw new RangeError(`weigh() returned ${String(w)}, expected a number >= 0`);
    } catch (error) {
      this.#host.destroy(slot, 'broken', error);
      return false;
    }
    this.total += w - slot.weight;
    slot.weight = w;
    while (this.total > this.#max && this.#idle.length > 0) {
      this.#host.destroy(this.#idle.oldest()!, 'weight');
    }
    return true;
  }

  /** `slot` leaves the pool. */
  remove(slot: Slot<T>): void {
    this.total -= slot.weight;
  }

  /**
   * Whether one more create fits beside `creating` ones, each expected to weigh what the
   * average resource does; evicts idle resources, oldest first, to make room.
   */
  fits(creating: number): boolean {
    for (;;) {
      const n = this.#slots.size;
      const expected = n === 0 ? 0 : this.total / n;
      if (this.total + expected * (creating + 1) <= this.#max) return true;
      const oldest = this.#idle.oldest();
      if (oldest === undefined) return false;
      this.#host.destroy(oldest, 'weight');
    }
  }

  /** How many more creates fit beside `creating` ones, judged as {@link fits} does, without evicting. */
  room(creating: number): number {
    if (this.total === 0) return Number.POSITIVE_INFINITY;
    return Math.floor((this.#max - this.total) / (this.total / this.#slots.size)) - creating;
  }
}
