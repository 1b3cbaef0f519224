// The latency estimate of one upstream endpoint, after Finagle's peak-EWMA: a sample above
// the average replaces it at once (a spike is believed now), one below is blended in with a
// weight that grows with the time since the previous sample (a time constant, not a count,
// so a busy and a quiet endpoint forget at the same rate). Only the pool's clock is read.

/**
 * @internal A peak-sensitive, time-weighted moving average of latency in milliseconds.
 * `value` is the average as of the last sample; {@link PeakEwma.decayed} lets it fade
 * towards zero while no sample comes, which is what sends traffic back to an endpoint that
 * was passed over after a spike (the "sticks to one backend" failure of undici#4839).
 */
export class PeakEwma {
  /** The average at `stamp`, in ms; 0 before the first sample. */
  value = 0;
  /** When the last sample arrived, on the pool's clock. */
  stamp = 0;
  /** Samples taken since the last {@link PeakEwma.reset}. */
  samples = 0;
  readonly #tauMs: number;

  /** @param tauMs the time constant: the weight of the past falls by e every `tauMs`. */
  constructor(tauMs: number) {
    this.#tauMs = tauMs;
  }

  /** Adds a latency sample of `ms` taken at `now`. */
  observe(ms: number, now: number): void {
    const rtt = ms > 0 ? ms : 0;
    if (this.samples === 0 || rtt > this.value) {
      this.value = rtt;
    } else {
      const w = Math.exp(-Math.max(0, now - this.stamp) / this.#tauMs);
      this.value = this.value * w + rtt * (1 - w);
    }
    this.stamp = now;
    this.samples++;
  }

  /**
   * The average faded towards zero for the time since the last sample. Under steady
   * traffic the fade between samples is negligible; an endpoint left without traffic looks
   * cheaper and cheaper until it is tried again and measured afresh.
   */
  decayed(now: number): number {
    if (this.samples === 0) return 0;
    const idle = now - this.stamp;
    return idle <= 0 ? this.value : this.value * Math.exp(-idle / this.#tauMs);
  }

  /** Forgets every sample: the endpoint counts as unmeasured again. */
  reset(): void {
    this.value = 0;
    this.samples = 0;
  }
}

/**
 * @internal Finagle's load metric: the latency average times the requests in flight plus
 * one. An unmeasured endpoint costs nothing while idle (it is tried first, which measures
 * it) and a large penalty once it has a request in flight, so that one unmeasured endpoint
 * does not take a whole burst before its first answer.
 */
export function peakEwmaCost(latencyMs: number, measured: boolean, pending: number): number {
  if (!measured) return pending === 0 ? 0 : UNMEASURED_PENALTY_MS + pending;
  return latencyMs * (pending + 1);
}

/** What an unmeasured endpoint with a request in flight costs: a minute of latency. */
const UNMEASURED_PENALTY_MS = 60_000;
