// One upstream endpoint of a balanced pool: its origin and region, the two latency
// averages the routing reads, the requests in flight through the balancer, its outlier
// state and its figures.

import type { Origin } from './origin.js';
import { Health } from './outlier.js';
import { PeakEwma } from './peak-ewma.js';

/** What a failure counts as in an endpoint's cost: never cheaper than a slow answer. */
const FAILURE_PENALTY_MS = 1_000;

/** @internal One endpoint and what is known about it. */
export class Endpoint {
  readonly origin: Origin;
  readonly region: Region;
  /** Latency of successful answers (to the response headers): what regions are compared by. */
  readonly latency: PeakEwma;
  /**
   * The same with every failure counted as a slow answer: what endpoints are picked by,
   * so that an endpoint that fails fast does not look fast.
   */
  readonly load: PeakEwma;
  readonly health = new Health();
  /** Requests sent through the balancer and not yet finished. */
  pending = 0;
  requests = 0;
  failures = 0;

  constructor(origin: Origin, region: Region, tauMs: number) {
    this.origin = origin;
    this.region = region;
    this.latency = new PeakEwma(tauMs);
    this.load = new PeakEwma(tauMs);
  }

  /** A response's headers arrived `ms` after the request was handed to the pool. */
  answered(ms: number, now: number): void {
    this.latency.observe(ms, now);
    this.load.observe(ms, now);
  }

  /** A failure `ms` after the request was handed to the pool. */
  failed(ms: number, now: number): void {
    this.failures++;
    const l = this.load;
    this.load.observe(Math.max(ms, l.samples === 0 ? 0 : l.value * 2, FAILURE_PENALTY_MS), now);
  }

  /** Forgets both averages, for an endpoint coming back from unhealthy. */
  forget(): void {
    this.latency.reset();
    this.load.reset();
  }
}

/** @internal One region: a name and its endpoints, in the order given. */
export class Region {
  readonly name: string;
  readonly endpoints: Endpoint[] = [];
  /** Whether it had a healthy endpoint at the previous routing decision. */
  wasHealthy = true;
  /** Set by the region selector at each decision. */
  healthy = true;
  /** The lowest latency average among its healthy measured endpoints; NaN when none. */
  latencyMs = Number.NaN;
  /** In the set of regions traffic goes to. */
  active = false;

  constructor(name: string) {
    this.name = name;
  }
}
