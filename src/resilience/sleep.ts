import type { Clock } from '../internal/clock.js';
import { abortReason, onAbort } from '../internal/signals.js';

/**
 * @internal Waits `ms` on `clock`; an abort rejects at once with the signal's reason and
 * clears the timer, so nothing is left behind.
 */
export function sleep(clock: Clock, ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (signal?.aborted) return Promise.reject(abortReason(signal));
  return new Promise<void>((resolve, reject) => {
    const timer = clock.setTimeout(() => {
      dispose();
      resolve();
    }, ms);
    const dispose = onAbort(signal, (reason) => {
      clock.clearTimeout(timer);
      reject(reason);
    });
  });
}
