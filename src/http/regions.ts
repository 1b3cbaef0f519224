// Which regions a balanced pool sends traffic to. A region's latency is the best latency
// average among its healthy endpoints; the preferred region gets all the traffic while it
// is healthy and not much slower than the best, and otherwise every healthy region that is
// not much slower than the best shares it. Two guards keep jitter from moving traffic back
// and forth: a band (a region leaves the set when `ratio` times slower, plus a margin,
// and joins only when within half that), and a hold (after a change made for latency, the
// next one for latency waits `holdMs`, unless a region in the set became far slower).
// Changes for health (a region lost or regained its last healthy endpoint) are immediate.
import type { Endpoint, Region } from './endpoint.js';

/** Why the regions in use changed. */
export type RegionChangeReason = 'latency' | 'health' | 'panic';

/** The `regionChange` event of a balanced pool. */
export interface RegionChange {
  /** The regions traffic now goes to. */
  regions: readonly string[];
  /** The regions it went to before. */
  previous: readonly string[];
  /**
   * `latency`: a region became much slower or faster than the others; `health`: a region
   * lost its last healthy endpoint or got one back; `panic`: no endpoint is healthy.
   */
  reason: RegionChangeReason;
}

/** @internal The settings the selector runs on. */
export interface RegionRules {
  ratio: number;
  marginMs: number;
  holdMs: number;
}

/** @internal Keeps the set of regions in use and changes it by the rules above. */
export class RegionSelector {
  readonly regions: readonly Region[];
  readonly #prefer: Region | undefined;
  readonly #rules: RegionRules;
  readonly #onChange: (change: RegionChange) => void;
  /** The endpoints of the regions in use, in region order; rebuilt on a change. */
  candidates: Endpoint[] = [];
  panic = false;
  changes = 0;
  #lastLatencyChange = Number.NEGATIVE_INFINITY;
  /** Reused by every decision: routing allocates nothing when the set stays. */
  readonly #target: Region[] = [];
  #first = true;

  constructor(
    regions: readonly Region[],
    prefer: Region | undefined,
    rules: RegionRules,
    onChange: (change: RegionChange) => void,
  ) {
    this.regions = regions;
    this.#prefer = prefer;
    this.#rules = rules;
    this.#onChange = onChange;
  }

  /** Recomputes health and latency of every region and applies the rules at `now`. */
  update(now: number): void {
    let best = Number.POSITIVE_INFINITY;
    let anyHealthy = false;
    for (const r of this.regions) {
      let healthy = false;
      let lat = Number.POSITIVE_INFINITY;
      for (const e of r.endpoints) {
        if (!e.health.healthy(now)) continue;
        healthy = true;
        if (e.latency.samples > 0 && e.latency.value < lat) lat = e.latency.value;
      }
      r.healthy = healthy;
      r.latencyMs = healthy && lat !== Number.POSITIVE_INFINITY ? lat : Number.NaN;
      if (healthy) anyHealthy = true;
      if (r.latencyMs < best) best = r.latencyMs;
    }
    if (!anyHealthy) {
      this.#apply(this.regions, 'panic', now);
      this.#remember();
      return;
    }
    const p = this.#prefer;
    const target = this.#target;
    target.length = 0;
    if (p?.healthy && this.#inBand(p, best)) target.push(p);
    else for (const r of this.regions) if (r.healthy && this.#inBand(r, best)) target.push(r);
    if (!this.#same(target)) {
      const reason = this.#reasonFor(target);
      if (
        reason === 'health' ||
        this.panic ||
        now - this.#lastLatencyChange >= this.#rules.holdMs ||
        this.#urgent(target, best)
      ) {
        this.#apply(target, reason, now);
      }
    }
    this.#remember();
  }

  /**
   * Whether `r` may carry traffic next to the best region. An unmeasured region may (it
   * is measured by being used); a region in use stays until `ratio` times slower plus the
   * margin; one out of use joins only within half that band.
   */
  #inBand(r: Region, best: number): boolean {
    const lat = r.latencyMs;
    if (Number.isNaN(lat) || best === Number.POSITIVE_INFINITY) return true;
    const { ratio, marginMs } = this.#rules;
    if (r.active && !this.panic) return lat <= best * ratio + marginMs;
    return lat <= best * (1 + (ratio - 1) / 2) + marginMs / 2;
  }

  /** A change is for health when a region entering or leaving changed its health or was never measured. */
  #reasonFor(target: readonly Region[]): RegionChangeReason {
    if (this.#first || this.panic) return 'health';
    for (const r of this.regions) {
      const entering = !r.active && target.includes(r);
      const leaving = r.active && !target.includes(r);
      if (!entering && !leaving) continue;
      if (r.healthy !== r.wasHealthy || Number.isNaN(r.latencyMs)) return 'health';
    }
    return 'latency';
  }

  /** A region in use became so much slower than the best that the hold does not apply. */
  #urgent(target: readonly Region[], best: number): boolean {
    const { ratio, marginMs } = this.#rules;
    const far = best * ratio * ratio + 2 * marginMs;
    for (const r of this.regions) {
      if (r.active && !target.includes(r) && r.latencyMs > far) return true;
    }
    return false;
  }

  #same(target: readonly Region[]): boolean {
    if (this.panic) return false;
    let n = 0;
    for (const r of this.regions) if (r.active) n++;
    if (n !== target.length) return false;
    for (const r of target) if (!r.active) return false;
    return true;
  }

  #apply(target: readonly Region[], reason: RegionChangeReason, now: number): void {
    const panic = reason === 'panic';
    if (panic && this.panic) return;
    const previous = this.regions.filter((r) => this.panic || r.active).map((r) => r.name);
    for (const r of this.regions) r.active = !panic && target.includes(r);
    this.panic = panic;
    const endpoints: Endpoint[] = [];
    for (const r of target) for (const e of r.endpoints) endpoints.push(e);
    this.candidates = endpoints;
    if (reason === 'latency') this.#lastLatencyChange = now;
    const first = this.#first;
    this.#first = false;
    // The first choice is where traffic starts, not a change.
    if (first && !panic) return;
    this.changes++;
    this.#onChange({ regions: target.map((r) => r.name), previous, reason });
  }

  #remember(): void {
    for (const r of this.regions) r.wasHealthy = r.healthy;
  }
}
