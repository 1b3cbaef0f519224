// Autoscaling: a pure decision from the last interval's waits and utilisation to new
// bounds, and the timer and utilisation samples that feed it.
import type { Clock, TimerHandle } from '../internal/clock.js';
import type { AutoscaleOptions } from './options.js';
import type { WaitSummary } from './stats.js';

/** New bounds and why. */
export interface ScaleStep {
  min: number;
  max: number;
  reason: string;
}

/**
 * One autoscaling step: grow when the p99 wait of the last interval missed the target,
 * shrink when utilisation stayed low (and waits were fine); null to stay.
 */
export function decideScale(
  a: Required<AutoscaleOptions>,
  bounds: { min: number; max: number },
  waits: WaitSummary,
  utilization: number,
): ScaleStep | null {
  const { max } = bounds;
  if (waits.samples > 0 && waits.p99 > a.targetWaitMs && max < a.max) {
    const to = Math.min(a.max, Math.max(max + 1, Math.ceil(max * a.upFactor)));
    return {
      max: to,
      min: Math.min(bounds.min, to),
      reason: `autoscale: p99 wait ${round(waits.p99)} ms > target ${a.targetWaitMs} ms`,
    };
  }
  if (utilization < a.scaleDownUtilization && waits.p99 <= a.targetWaitMs && max > a.min) {
    const to = Math.max(a.min, Math.min(max - 1, Math.floor(max * a.downFactor)));
    return {
      max: to,
      min: Math.min(bounds.min, to),
      reason: `autoscale: utilisation ${round(utilization * 100)}% < ${round(a.scaleDownUtilization * 100)}%`,
    };
  }
  return null;
}

const round = (n: number): number => Math.round(n * 10) / 10;

/** @internal What the autoscaler reads from and does to its pool. */
export interface AutoscalerHost {
  isOpen(): boolean;
  /** Leases out over the pool's capacity, now. */
  utilization(): number;
  bounds(): { min: number; max: number };
  /** Summary of the acquire waits since the last step. */
  takeWaits(): WaitSummary;
  resize(step: ScaleStep): void;
}

/** @internal Runs {@link decideScale} every `intervalMs` (a timer that lets the process exit). */
export class Autoscaler {
  readonly #a: Required<AutoscaleOptions>;
  readonly #clock: Clock;
  readonly #host: AutoscalerHost;
  #timer: TimerHandle;
  #sum = 0;
  #samples = 0;

  constructor(a: Required<AutoscaleOptions>, clock: Clock, host: AutoscalerHost) {
    this.#a = a;
    this.#clock = clock;
    this.#host = host;
    this.#arm();
  }

  /** Adds one utilisation sample (the reaper takes one per pass). */
  sample(): void {
    this.#sum += this.#host.utilization();
    this.#samples++;
  }

  stop(): void {
    this.#clock.clearTimeout(this.#timer);
  }

  #arm(): void {
    this.#timer = this.#clock.setTimeout(() => this.#step(), this.#a.intervalMs, true);
  }

  #step(): void {
    const host = this.#host;
    if (!host.isOpen()) return;
    this.sample();
    const waits = host.takeWaits();
    const utilization = this.#sum / this.#samples;
    this.#sum = this.#samples = 0;
    const step = decideScale(this.#a, host.bounds(), waits, utilization);
    if (step !== null) host.resize(step);
    this.#arm();
  }
}
