// A histogram's running totals for one set of attributes: counts per bucket, sum and count.
// Observing is a short linear search over a dozen boundaries and three stores.

/** Attribute values of a point: a small fixed set, never a per-request value. */
export type Attributes = Readonly<Record<string, string | number>>;

/** One point of a counter, up-down counter or gauge. */
export interface MetricPoint {
  attributes: Attributes;
  value: number;
}

/** @internal Collected points by metric name. */
export type Points = Map<string, MetricPoint[]>;

/** One histogram point: bucket counts (not cumulative; one more than the boundaries), sum and count. */
export interface HistogramPoint {
  attributes: Attributes;
  boundaries: readonly number[];
  /** `counts[i]` observations fell in `(boundaries[i-1], boundaries[i]]`; the last one above every boundary. */
  counts: readonly number[];
  sum: number;
  count: number;
}

/** @internal The totals behind one {@link HistogramPoint}. */
export class HistogramCell {
  readonly attributes: Attributes;
  readonly #boundaries: readonly number[];
  readonly #counts: Float64Array;
  #sum = 0;
  #count = 0;

  constructor(attributes: Attributes, boundaries: readonly number[]) {
    this.attributes = attributes;
    this.#boundaries = boundaries;
    this.#counts = new Float64Array(boundaries.length + 1);
  }

  observe(value: number): void {
    const b = this.#boundaries;
    let i = 0;
    while (i < b.length && value > b[i]!) i++;
    this.#counts[i]!++;
    this.#sum += value;
    this.#count++;
  }

  point(): HistogramPoint {
    return {
      attributes: this.attributes,
      boundaries: this.#boundaries,
      counts: Array.from(this.#counts),
      sum: this.#sum,
      count: this.#count,
    };
  }
}
