import { type Clock, realClock, type TimerHandle } from '../internal/clock.js';
import { checkKeys, checkMs, checkObject, optionKeys } from '../internal/options.js';
import { checkSignal, onAbort } from '../internal/signals.js';
import { Channel, kOnClose } from './channel.js';

/** Options of {@link after} and {@link ticker}. */
export interface TimerOptions {
  /** Aborting it stops the timer and closes the channel. */
  signal?: AbortSignal | undefined;
  /** Where time comes from. @default realClock */
  clock?: Clock | undefined;
}

const TIMER_KEYS = optionKeys<TimerOptions>({ signal: 1, clock: 1 });

/**
 * A receive-only channel that delivers the clock's time once, after `ms`, then closes
 * (Go's `time.After`). Closing it early (or aborting `signal`) cancels the timer.
 * @throws {TypeError|RangeError} when `ms` is not a duration >= 0.
 * @example const r = await select([recv(replies), recv(after(500))]);
 */
export function after(ms: number, options?: TimerOptions): Channel<number> {
  checkMs('ms', ms, 0, false);
  const { clock, signal } = timerOptions(options);
  const ch = new Channel<number>(1);
  if (signal?.aborted) {
    ch.close();
    return ch;
  }
  let timer: TimerHandle;
  const disposeAbort = onAbort(signal, () => ch[Symbol.dispose]());
  ch[kOnClose](() => {
    clock.clearTimeout(timer);
    disposeAbort();
  });
  timer = clock.setTimeout(() => {
    ch.trySend(clock.now());
    ch.close();
  }, ms);
  return ch;
}

/**
 * A receive-only channel that delivers the clock's time every `ms` (Go's `time.Ticker`).
 * It buffers one tick: ticks that a slow receiver misses are dropped, not queued. Stop it
 * with `close()` (or `signal`), which cancels the timer.
 * @throws {TypeError|RangeError} when `ms` is not a duration > 0.
 * @example
 * const tick = ticker(1000);
 * for await (const now of tick) if (report(now)) tick.close();
 */
export function ticker(ms: number, options?: TimerOptions): Channel<number> {
  checkMs('ms', ms, Number.MIN_VALUE, false);
  const { clock, signal } = timerOptions(options);
  const ch = new Channel<number>(1);
  if (signal?.aborted) {
    ch.close();
    return ch;
  }
  let timer: TimerHandle;
  const disposeAbort = onAbort(signal, () => ch[Symbol.dispose]());
  ch[kOnClose](() => {
    clock.clearTimeout(timer);
    disposeAbort();
  });
  // Ticks are due at start + k·ms, so a late timer does not shift every later tick.
  let due = clock.now() + ms;
  const tick = (): void => {
    const now = clock.now();
    ch.trySend(now);
    while (due <= now) due += ms;
    timer = clock.setTimeout(tick, due - now);
  };
  timer = clock.setTimeout(tick, ms);
  return ch;
}

function timerOptions(options: TimerOptions | undefined): {
  clock: Clock;
  signal: AbortSignal | undefined;
} {
  checkObject('options', options);
  checkKeys('after/ticker', options, TIMER_KEYS);
  return { clock: options?.clock ?? realClock, signal: checkSignal(options?.signal) };
}
