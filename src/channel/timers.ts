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
  return timerChannel(options, (ch, clock, t) => {
    t.timer = clock.setTimeout(() => {
      ch.trySend(clock.now());
      ch.close();
    }, ms);
  });
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
  return timerChannel(options, (ch, clock, t) => {
    // Ticks are due at start + k·ms, so a late timer does not shift every later tick.
    let due = clock.now() + ms;
    const tick = (): void => {
      const now = clock.now();
      ch.trySend(now);
      while (due <= now) due += ms;
      t.timer = clock.setTimeout(tick, due - now);
    };
    t.timer = clock.setTimeout(tick, ms);
  });
}

// The channel of `after` and `ticker`: one slot, closed at once for an aborted signal.
// Closing it (or an abort) clears the timer that `start` keeps in `t.timer` and drops the
// wait on the signal.
function timerChannel(
  options: TimerOptions | undefined,
  start: (ch: Channel<number>, clock: Clock, t: { timer: TimerHandle }) => void,
): Channel<number> {
  const { clock, signal } = timerOptions(options);
  const ch = new Channel<number>(1);
  if (signal?.aborted) {
    ch.close();
    return ch;
  }
  const t: { timer: TimerHandle } = { timer: undefined };
  const disposeAbort = onAbort(signal, () => ch[Symbol.dispose]());
  ch[kOnClose](() => {
    clock.clearTimeout(t.timer);
    disposeAbort();
  });
  start(ch, clock, t);
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
