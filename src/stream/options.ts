// The options of the stream operators and terminals: their types and key lists.
import type { Writable } from 'node:stream';
import type { Channel } from '../channel/channel.js';
import type { Clock } from '../internal/clock.js';
import { optionKeys } from '../internal/options.js';
import type { Source } from './sources.js';

/** Options of every terminal and of the iterator. */
export interface RunOptions {
  /**
   * Aborting it stops the pipeline: the terminal rejects with `signal.reason`, every
   * upstream source is closed and in-flight `map` calls see their signal abort.
   */
  signal?: AbortSignal | undefined;
  /**
   * Called with the error of a source's cleanup (its iterator's `return()`, a
   * ReadableStream's `cancel()`) that failed after the pipeline stopped early. The
   * terminal's own outcome (its result, the consumer's error, the abort reason) never
   * changes for it: a source parked in an `await` runs its cleanup only once that
   * settles, long after the terminal returned.
   * @default none: the error becomes an unhandled promise rejection
   * (`process.on('unhandledRejection')`), as would any failure nobody awaits.
   */
  onCleanupError?: ((error: unknown) => void) | undefined;
}

/** Options of {@link Stream.map}. */
export interface MapOptions {
  /** How many calls may run at once. @default 1 */
  concurrency?: number | undefined;
  /**
   * With concurrency > 1: `true` emits results in input order, `false` as they complete.
   * @default true
   */
  ordered?: boolean | undefined;
}

/** Options of {@link Stream.batch}. */
export interface BatchOptions {
  /** Emit a partial batch this many ms after its first item arrived. @default Infinity */
  maxWaitMs?: number | undefined;
  /** Clock for `maxWaitMs`. @default realClock */
  clock?: Clock | undefined;
}

/** Options of {@link Stream.rateLimit}. */
export interface RateLimitOptions {
  /** How many items may pass at once after a quiet spell. @default 1 */
  burst?: number | undefined;
  /** @default realClock */
  clock?: Clock | undefined;
}

/** Options of {@link Stream.timeout}. */
export interface TimeoutOptions {
  /** @default realClock */
  clock?: Clock | undefined;
}

/** Options of {@link Stream.pipeTo}. */
export interface PipeOptions extends RunOptions {
  /**
   * Close the destination when the stream ends (`close()` a channel, `end()` a Writable,
   * `close()` a WritableStream). On an error a Writable is destroyed and a WritableStream
   * aborted with it; a channel is left open, so receivers do not mistake a failure for the
   * end.
   * @default true
   */
  close?: boolean | undefined;
}

/** A destination of {@link Stream.pipeTo}. */
export type Destination<T> = Channel<T> | Writable | WritableStream<T>;

/** What a {@link Stream.catchError} handler returns: a source to continue with, or nothing. */
export type Recovery<U> =
  | Source<U>
  | undefined
  // biome-ignore lint/suspicious/noConfusingVoidType: lets `() => {}` end the stream
  | void
  | PromiseLike<Source<U> | undefined>;

export const RUN_KEYS = optionKeys<RunOptions>({ signal: 1, onCleanupError: 1 });
export const MAP_KEYS = optionKeys<MapOptions>({ concurrency: 1, ordered: 1 });
export const BATCH_KEYS = optionKeys<BatchOptions>({ maxWaitMs: 1, clock: 1 });
export const RATE_LIMIT_KEYS = optionKeys<RateLimitOptions>({ burst: 1, clock: 1 });
export const TIMEOUT_KEYS = optionKeys<TimeoutOptions>({ clock: 1 });
export const PIPE_KEYS = optionKeys<PipeOptions>({ signal: 1, onCleanupError: 1, close: 1 });
export const READABLE_KEYS = optionKeys<RunOptions & { highWaterMark?: number | undefined }>({
  highWaterMark: 1,
  signal: 1,
  onCleanupError: 1,
});
