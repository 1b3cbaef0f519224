// Passive outlier detection for one upstream endpoint, after Envoy's: consecutive failures
// (connect errors, broken connections, timeouts, 5xx) mark it unhealthy; it is taken out
// of rotation for a time that grows with each ejection, while a cap keeps most endpoints
// in rotation and the only one always in. When the time is up it returns on probation:
// one failure sends it back out, `rise` successes make it healthy. Time is passed in, so
// nothing here runs a timer: expiries are noticed by the next request that looks.

/** Passive outlier detection of a balanced pool; see {@link BalancedHttpPoolOptions.outlier}. */
export interface OutlierOptions {
  /** Consecutive failures that mark an endpoint unhealthy (the "fall" threshold). @default 5 */
  consecutiveFailures?: number;
  /**
   * Consecutive successes that make an endpoint healthy again after it was marked
   * unhealthy (the "rise" threshold); until then one failure marks it unhealthy again,
   * for a longer time. @default 2
   */
  rise?: number;
  /** Time out of rotation after the first ejection; the n-th lasts n times this. @default 30_000 ms */
  baseEjectionMs?: number;
  /** Longest time out of rotation, however often the endpoint was ejected. @default 300_000 ms */
  maxEjectionMs?: number;
  /**
   * Most endpoints out of rotation at once, as a percentage of all of them (rounded down).
   * An unhealthy endpoint over the cap stays in rotation, marked unhealthy. The last
   * endpoint in rotation is never ejected, whatever the percentage. @default 50
   */
  maxEjectionPercent?: number;
}

/** @internal {@link OutlierOptions} after defaults and validation. */
export interface ResolvedOutlier {
  fall: number;
  rise: number;
  baseMs: number;
  maxMs: number;
  maxPercent: number;
}

/** The health of one endpoint as `stats()` reports it. */
export type EndpointState = 'healthy' | 'unhealthy' | 'ejected' | 'probation';

const HEALTHY = 0;
/** Marked unhealthy: out of rotation when `ejected`, else still in (the cap). */
const UNHEALTHY = 1;
/** Back after its time out: routed and counted healthy; one failure sends it out again. */
const PROBATION = 2;

/** What {@link Health.failure} decided, for the pool's `eject` event. */
export interface Verdict {
  /** Taken out of rotation (false: over the cap, or the only endpoint). */
  ejected: boolean;
  durationMs: number;
  ejections: number;
}

/** @internal The outlier state of one endpoint. */
export class Health {
  #state = HEALTHY;
  /** Failures in a row; successes in a row while unhealthy or on probation. */
  consecutive = 0;
  #rises = 0;
  ejected = false;
  /** When an unhealthy endpoint goes on probation, on the pool's clock. */
  until = 0;
  /** Ejections so far, less one for every `baseMs` spent healthy since. */
  ejections = 0;
  #healthySince = 0;

  /** Whether the endpoint counts as healthy at `now` (probation does). */
  healthy(now: number): boolean {
    return this.#state !== UNHEALTHY || now >= this.until;
  }

  state(now: number): EndpointState {
    if (this.#state === HEALTHY) return 'healthy';
    if (this.#state === PROBATION || now >= this.until) return 'probation';
    return this.ejected ? 'ejected' : 'unhealthy';
  }

  /**
   * Moves an unhealthy endpoint whose time is up onto probation. Returns true when it did,
   * so the caller forgets the endpoint's latency and measures it afresh.
   */
  lapse(now: number): boolean {
    if (this.#state !== UNHEALTHY || now < this.until) return false;
    this.#state = PROBATION;
    this.ejected = false;
    this.consecutive = 0;
    this.#rises = 0;
    return true;
  }

  /**
   * A success. Returns true when it made an unhealthy or probing endpoint healthy again
   * (after `rise` of them in a row).
   */
  success(now: number, o: ResolvedOutlier): boolean {
    this.consecutive = 0;
    if (this.#state === HEALTHY) return false;
    if (++this.#rises < o.rise) return false;
    this.#state = HEALTHY;
    this.ejected = false;
    this.until = 0;
    this.#rises = 0;
    this.#healthySince = now;
    return true;
  }

  /**
   * A failure. Returns the verdict when it marked the endpoint unhealthy (the `fall`
   * threshold reached, or any failure on probation), else undefined. `mayEject` says
   * whether the cap leaves room to take it out of rotation.
   */
  failure(now: number, o: ResolvedOutlier, mayEject: boolean): Verdict | undefined {
    this.#rises = 0;
    this.consecutive++;
    if (this.#state === UNHEALTHY) {
      // Already marked and kept in rotation by the cap: take it out once there is room.
      if (!this.ejected && mayEject && now < this.until) {
        this.ejected = true;
        return { ejected: true, durationMs: this.until - now, ejections: this.ejections };
      }
      return undefined;
    }
    if (this.#state === HEALTHY && this.consecutive < o.fall) return undefined;
    if (this.#state === HEALTHY && this.ejections > 0) {
      // Envoy's multiplier decays while the host stays healthy.
      const credit = Math.floor((now - this.#healthySince) / o.baseMs);
      this.ejections = Math.max(0, this.ejections - credit);
    }
    this.ejections++;
    const durationMs = Math.min(o.baseMs * this.ejections, o.maxMs);
    this.#state = UNHEALTHY;
    this.until = now + durationMs;
    this.ejected = mayEject;
    return { ejected: mayEject, durationMs, ejections: this.ejections };
  }
}
