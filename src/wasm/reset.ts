// How an instance is cleaned between borrowers, and how `'auto'` picks: restoring a
// snapshot costs about linear time in the memory's size, instantiating costs what the
// module costs (23 µs for a small module, 10.5 ms for one with 3,000 exports). Both are
// measured as the pool runs, so the choice follows the module and the machine.

/**
 * How an instance is cleaned when its lease comes back:
 * - `'reinstantiate'`: a new instance of the compiled module (fresh memory, globals,
 *   tables); the only way to give back memory that grew.
 * - `'snapshot'`: the linear memories and the exported mutable globals are put back as
 *   they were right after instantiation. Globals the module does not export, and tables,
 *   are not restored: use `'reinstantiate'` for a module that keeps state there. An
 *   instance whose memory grew is reinstantiated instead (memory never shrinks).
 * - `'none'`: nothing; state carries over from one borrower to the next.
 * - `'auto'`: `'snapshot'` while restoring the memory is expected to cost less than
 *   instantiating, else `'reinstantiate'`.
 */
export type ResetStrategy = 'reinstantiate' | 'snapshot' | 'none' | 'auto';

/** @internal The strategies, for option checks. */
export const RESET_STRATEGIES: readonly ResetStrategy[] = [
  'reinstantiate',
  'snapshot',
  'none',
  'auto',
];

const MIB = 1_048_576;
// Measured on Node 20: 28 µs to restore 1 MiB (1.6 ms for 16 MiB, out of cache); the first
// guess until restores are timed.
const RESTORE_MS_PER_MIB = 0.028;
// Measured on Node 20: 82 µs to instantiate a module with 1 MiB of memory.
const INSTANTIATE_MS = 0.082;
const WEIGHT = 0.2;

/** @internal Running estimates of the two costs, in milliseconds. */
export class ResetCosts {
  /** Estimated time of one instantiation. */
  instantiateMs = INSTANTIATE_MS;
  /** Estimated time to restore one MiB of memory. */
  restoreMsPerMiB = RESTORE_MS_PER_MIB;
  #instantiations = 0;
  #restores = 0;

  /** Folds in one measured instantiation. */
  instantiated(ms: number): void {
    this.instantiateMs = this.#instantiations++ === 0 ? ms : fold(this.instantiateMs, ms);
  }

  /** Folds in one measured restore of `bytes`. */
  restored(ms: number, bytes: number): void {
    if (bytes < MIB / 16) return; // too small to time meaningfully
    const perMiB = (ms * MIB) / bytes;
    this.restoreMsPerMiB = this.#restores++ === 0 ? perMiB : fold(this.restoreMsPerMiB, perMiB);
  }

  /** The cheaper way to reset an instance whose memories hold `bytes`. */
  choose(bytes: number): 'snapshot' | 'reinstantiate' {
    return chooseReset(bytes, this.instantiateMs, this.restoreMsPerMiB);
  }
}

/**
 * @internal `'snapshot'` when restoring `bytes` at `restoreMsPerMiB` is expected to take
 * less than one instantiation, else `'reinstantiate'`.
 */
export function chooseReset(
  bytes: number,
  instantiateMs: number,
  restoreMsPerMiB: number,
): 'snapshot' | 'reinstantiate' {
  return (bytes / MIB) * restoreMsPerMiB < instantiateMs ? 'snapshot' : 'reinstantiate';
}

function fold(previous: number, sample: number): number {
  return previous + WEIGHT * (sample - previous);
}
