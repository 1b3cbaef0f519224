import type { Writable } from 'node:stream';
import { Readable } from 'node:stream';
import { Channel } from '../channel/channel.js';
import { realClock } from '../internal/clock.js';
import { checkFn, checkInt, checkKeys, checkMs, checkObject } from '../internal/options.js';
import { abortReason, checkSignal } from '../internal/signals.js';
import { BatchPull } from './batch.js';
import { BufferPull } from './buffer.js';
import { CatchPull } from './catch-error.js';
import { ConcurrentMapPull } from './concurrent-map.js';
import { FlatMapPull } from './flat-map.js';
import {
  dropOp,
  filterOp,
  fusedOpener,
  mapOp,
  type OpFactory,
  takeOp,
  takeWhileOp,
  tapOp,
} from './fused.js';
import {
  BATCH_KEYS,
  type BatchOptions,
  type Destination,
  MAP_KEYS,
  type MapOptions,
  PIPE_KEYS,
  type PipeOptions,
  RATE_LIMIT_KEYS,
  type RateLimitOptions,
  READABLE_KEYS,
  type Recovery,
  RUN_KEYS,
  type RunOptions,
  TIMEOUT_KEYS,
  type TimeoutOptions,
} from './options.js';
import {
  closeQuietly,
  DONE,
  isPending,
  isThenable,
  type Opener,
  type Pull,
  type Pulled,
  Run,
  type Step,
  Suspend,
} from './pull.js';
import { pipeToChannel, pipeToWritable, pipeToWritableStream } from './sinks.js';
import { isSource, kOpen, openSource, type Source } from './sources.js';
import { RateLimitPull, TimeoutPull } from './timing.js';

export type {
  BatchOptions,
  Destination,
  MapOptions,
  PipeOptions,
  RateLimitOptions,
  Recovery,
  RunOptions,
  TimeoutOptions,
};

const STOP: unique symbol = Symbol('stop');

/**
 * A lazy, pull-based pipeline. Operators return a new stream and run nothing; a terminal
 * (`toArray`, `reduce`, `forEach`, `first`, `count`, `pipeTo`, iteration, …) pulls items
 * through, one at a time, so a slow consumer slows the source. Each terminal runs the
 * pipeline afresh from its source. Stopping early (`take`, `first`, `break`, an abort, an
 * error downstream) closes every upstream source; an error upstream reaches the consumer
 * once. The consumer waits for a source's cleanup only when the source can run it now: a
 * source still busy with a pull (one that `map({ concurrency })`, `buffer` or `batch`
 * made ahead, which may be parked in an `await` for good) has its `return()` called, and
 * control comes back at once. A cleanup that fails goes to `onCleanupError` (see
 * {@link RunOptions}) and never changes what the terminal returns.
 *
 * Over a synchronous source, operators with synchronous callbacks run as one fused loop:
 * no promise per item and no microtask per operator.
 *
 * Make one with {@link stream}.
 */
export class Stream<T> implements AsyncIterable<T> {
  readonly #open: Opener<T>;
  // A stream that ends in fusable operators keeps their upstream and list, so that the
  // next fusable operator joins the same stage instead of adding one.
  readonly #base: Opener<unknown> | undefined;
  readonly #ops: readonly OpFactory[];

  /** @internal Use {@link stream}. */
  constructor(open: Opener<T>, base?: Opener<unknown>, ops: readonly OpFactory[] = []) {
    this.#open = open;
    this.#base = base;
    this.#ops = ops;
  }

  /** @internal */
  [kOpen](run: Run): Pull<T> {
    return this.#open(run);
  }

  /**
   * Transforms each item with `fn(value, index, signal)`; a returned promise is awaited.
   * With `concurrency` > 1, up to that many calls run at once (and no more than that many
   * results wait to be taken); `signal` aborts when the pipeline stops early or fails.
   * @throws {TypeError|RangeError} at once for a bad `fn` or option.
   * @example stream(urls).map((u, _i, signal) => fetch(u, { signal }), { concurrency: 8 })
   */
  map<U>(
    fn: (value: T, index: number, signal: AbortSignal) => U | PromiseLike<U>,
    options?: MapOptions,
  ): Stream<Awaited<U>> {
    checkFn('fn', fn, true);
    checkObject('options', options);
    checkKeys('Stream.map', options, MAP_KEYS);
    const concurrency = checkInt('concurrency', options?.concurrency ?? 1, 1);
    const ordered = options?.ordered ?? true;
    if (typeof ordered !== 'boolean') throw new TypeError('Expected `ordered` to be a boolean');
    if (concurrency === 1)
      return this.#fuse(mapOp(fn as (v: unknown, i: number, s: AbortSignal) => unknown));
    const open = this.#open;
    return new Stream<Awaited<U>>(
      (run) =>
        new ConcurrentMapPull<T, Awaited<U>>(
          open(run),
          fn as (v: T, i: number, s: AbortSignal) => Awaited<U>,
          concurrency,
          ordered,
          run,
        ),
    );
  }

  /**
   * Keeps the items for which `fn(value, index)` is truthy (or resolves truthy).
   * @example stream(rows).filter((r) => r.active)
   */
  filter<S extends T>(fn: (value: T, index: number) => value is S): Stream<S>;
  filter(fn: (value: T, index: number) => unknown): Stream<T>;
  filter(fn: (value: T, index: number) => unknown): Stream<T> {
    checkFn('fn', fn, true);
    return this.#fuse(filterOp(fn as (v: unknown, i: number) => unknown));
  }

  /**
   * Replaces each item with the items of the source `fn(value, index)` returns (an
   * iterable, async iterable, stream, ReadableStream or channel), in order.
   * @example stream(dirs).flatMap((d) => readdir(d))
   */
  flatMap<U>(
    fn: (value: T, index: number) => Source<U> | PromiseLike<Source<U>>,
  ): Stream<Awaited<U>> {
    checkFn('fn', fn, true);
    const open = this.#open;
    return new Stream<Awaited<U>>(
      (run) => new FlatMapPull<T, Awaited<U>>(open(run), fn as (v: T, i: number) => unknown, run),
    );
  }

  /**
   * The first `count` items; then the upstream is closed without pulling more.
   * @throws {TypeError|RangeError} when `count` is not an integer >= 0.
   */
  take(count: number): Stream<T> {
    checkInt('count', count, 0);
    return this.#fuse(takeOp(count));
  }

  /**
   * Skips the first `count` items.
   * @throws {TypeError|RangeError} when `count` is not an integer >= 0.
   */
  drop(count: number): Stream<T> {
    checkInt('count', count, 0);
    return this.#fuse(dropOp(count));
  }

  /** Items while `fn(value, index)` is truthy; the first falsy one ends the stream. */
  takeWhile<S extends T>(fn: (value: T, index: number) => value is S): Stream<S>;
  takeWhile(fn: (value: T, index: number) => unknown): Stream<T>;
  takeWhile(fn: (value: T, index: number) => unknown): Stream<T> {
    checkFn('fn', fn, true);
    return this.#fuse(takeWhileOp(fn as (v: unknown, i: number) => unknown));
  }

  /** Calls `fn(value, index)` for each item (awaiting a returned promise) and passes it on. */
  tap(fn: (value: T, index: number) => unknown): Stream<T> {
    checkFn('fn', fn, true);
    return this.#fuse(tapOp(fn as (v: unknown, i: number) => unknown));
  }

  /**
   * Groups items into arrays of `size` (the last may be shorter). With `maxWaitMs`, a
   * partial batch is emitted that long after its first item arrived.
   * @throws {TypeError|RangeError} for a bad `size` or `maxWaitMs`.
   * @example stream(events).batch(100, { maxWaitMs: 50 }).forEach(insertMany)
   */
  batch(size: number, options?: BatchOptions): Stream<T[]> {
    checkInt('size', size, 1);
    checkObject('options', options);
    checkKeys('Stream.batch', options, BATCH_KEYS);
    const maxWaitMs =
      options?.maxWaitMs === undefined
        ? Number.POSITIVE_INFINITY
        : checkMs('maxWaitMs', options.maxWaitMs);
    const clock = options?.clock ?? realClock;
    return this.#then((up) => new BatchPull<T>(up, size, maxWaitMs, clock));
  }

  /**
   * Lets the upstream run ahead of the consumer by at most `size` items, so a slow
   * producer and a slow consumer overlap.
   * @throws {TypeError|RangeError} when `size` is not an integer >= 1.
   */
  buffer(size: number): Stream<T> {
    checkInt('size', size, 1);
    return this.#then((up) => new BufferPull<T>(up, size));
  }

  /**
   * Pulls at most `perSecond` items per second (a token bucket of `burst` tokens).
   * @throws {TypeError|RangeError} when `perSecond` is not > 0 or `burst` not an integer >= 1.
   */
  rateLimit(perSecond: number, options?: RateLimitOptions): Stream<T> {
    if (typeof perSecond !== 'number' || !(perSecond > 0) || !Number.isFinite(perSecond)) {
      throw new RangeError(
        `Expected \`perSecond\` to be a finite number > 0, got ${String(perSecond)}`,
      );
    }
    checkObject('options', options);
    checkKeys('Stream.rateLimit', options, RATE_LIMIT_KEYS);
    const burst = checkInt('burst', options?.burst ?? 1, 1);
    const clock = options?.clock ?? realClock;
    return this.#then((up) => new RateLimitPull<T>(up, perSecond, burst, clock));
  }

  /**
   * Fails with `ERR_STREAM_TIMEOUT` when the upstream takes longer than `ms` to produce an
   * item (each item has its own deadline), and closes the upstream.
   * @throws {TypeError|RangeError} when `ms` is not a duration > 0.
   */
  timeout(ms: number, options?: TimeoutOptions): Stream<T> {
    checkMs('ms', ms, Number.MIN_VALUE, false);
    checkObject('options', options);
    checkKeys('Stream.timeout', options, TIMEOUT_KEYS);
    const clock = options?.clock ?? realClock;
    return this.#then((up) => new TimeoutPull<T>(up, ms, clock));
  }

  /**
   * Handles an upstream error: `fn(error)` returns a source to continue with, or nothing
   * to end the stream there. An error `fn` throws goes on downstream.
   * @example stream(fetchPages()).catchError((e) => (isRetryable(e) ? fetchPages() : undefined))
   */
  catchError<U = never>(fn: (error: unknown) => Recovery<U>): Stream<T | Awaited<U>> {
    checkFn('fn', fn, true);
    const open = this.#open as Opener<T | Awaited<U>>;
    return new Stream<T | Awaited<U>>((run) => new CatchPull(open(run), fn, run));
  }

  /** Collects every item into an array. */
  async toArray(options?: RunOptions): Promise<T[]> {
    const out: T[] = [];
    await this.#drive(options, () => (v) => {
      out.push(v);
    });
    return out;
  }

  /**
   * Folds the items with `fn(accumulator, value, index)` (a returned promise is awaited).
   * @example const total = await stream(orders).map((o) => o.amount).reduce((a, b) => a + b, 0);
   */
  async reduce<A>(
    fn: (accumulator: A, value: T, index: number) => A | PromiseLike<A>,
    initial: A,
    options?: RunOptions,
  ): Promise<A> {
    checkFn('fn', fn, true);
    let acc = initial;
    let i = 0;
    await this.#drive(options, () => (v) => {
      const r = fn(acc, v, i++);
      if (isThenable(r)) {
        return Promise.resolve(r).then((a) => {
          acc = a;
        });
      }
      acc = r;
    });
    return acc;
  }

  /** Calls `fn(value, index)` for each item, awaiting a returned promise before the next. */
  async forEach(fn: (value: T, index: number) => unknown, options?: RunOptions): Promise<void> {
    checkFn('fn', fn, true);
    let i = 0;
    await this.#drive(options, () => (v) => {
      const r = fn(v, i++);
      if (isThenable(r)) return Promise.resolve(r).then(() => undefined);
    });
  }

  /** The first item (then the upstream is closed), or `undefined` for an empty stream. */
  async first(options?: RunOptions): Promise<T | undefined> {
    let out: T | undefined;
    await this.#drive(options, () => (v) => {
      out = v;
      return STOP;
    });
    return out;
  }

  /** Counts the items. */
  async count(options?: RunOptions): Promise<number> {
    let n = 0;
    await this.#drive(options, () => () => {
      n++;
    });
    return n;
  }

  /**
   * Writes every item to `destination`, waiting whenever it pushes back: a channel's
   * `send`, a Writable's `'drain'`, a WritableStream writer's `ready`. See
   * {@link PipeOptions.close} for what happens to the destination at the end.
   * @throws rejects with the first error of the stream or the destination; with
   * `ERR_CHANNEL_CLOSED` if a destination channel is closed under it.
   * @example await stream(rows).map(toCsvLine).pipeTo(createWriteStream('out.csv'));
   */
  async pipeTo(destination: Destination<T>, options?: PipeOptions): Promise<void> {
    checkObject('options', options);
    checkKeys('Stream.pipeTo', options, PIPE_KEYS);
    const close = options?.close ?? true;
    const drive = (each: (run: Run) => (v: T) => unknown) =>
      this.#drive(
        options && { signal: options.signal, onCleanupError: options.onCleanupError },
        each,
      );
    if (destination instanceof Channel) return pipeToChannel(drive, destination, close);
    if (typeof (destination as WritableStream).getWriter === 'function') {
      return pipeToWritableStream(drive, destination as WritableStream<T>, close);
    }
    if (typeof (destination as Writable).write === 'function') {
      return pipeToWritable(drive, destination as Writable, close);
    }
    throw new TypeError(
      'Expected `destination` to be a Channel, a Node Writable or a WritableStream',
    );
  }

  /**
   * A Node `Readable` (object mode) that pulls from this stream as it is read; destroying
   * it closes the pipeline.
   */
  toReadable(options?: RunOptions & { highWaterMark?: number | undefined }): Readable {
    checkObject('options', options);
    checkKeys('Stream.toReadable', options, READABLE_KEYS);
    const run = { signal: options?.signal, onCleanupError: options?.onCleanupError };
    return Readable.from(this.values(run), {
      objectMode: true,
      highWaterMark: options?.highWaterMark ?? 1,
    });
  }

  /**
   * A WHATWG `ReadableStream` that pulls from this stream only when read; cancelling it
   * closes the pipeline.
   */
  toReadableStream(options?: RunOptions): ReadableStream<T> {
    const it = this.values(options);
    return new ReadableStream<T>(
      {
        async pull(controller) {
          const r = await it.next();
          if (r.done === true) controller.close();
          else controller.enqueue(r.value);
        },
        async cancel() {
          await it.return?.();
        },
      },
      { highWaterMark: 0 },
    );
  }

  /**
   * An async iterator over the items. `break` (its `return()`) closes the pipeline, and
   * resolves at once if a `next()` is still waiting on it.
   * @throws `next()` rejects with `signal.reason` on abort, or the pipeline's error (once);
   * `TypeError` at once for a bad option.
   */
  values(options?: RunOptions): AsyncIterableIterator<T> {
    checkObject('options', options);
    checkKeys('Stream.values', options, RUN_KEYS);
    const signal = checkSignal(options?.signal);
    const onCleanupError = cleanupHook(options);
    let run: Run | undefined;
    let pull: Pull<T> | undefined;
    let finished = false;
    let busy: Promise<unknown> | undefined;
    // A next() is waiting on the pipeline: return() must not wait on a source parked in it.
    let waiting = false;
    const end = (): void => {
      finished = true;
      run?.dispose();
    };
    const step = async (): Promise<IteratorResult<T>> => {
      if (finished) return DONE;
      if (pull === undefined || run === undefined) {
        if (signal?.aborted) {
          finished = true;
          throw abortReason(signal);
        }
        run = new Run(signal, onCleanupError);
        pull = this.#open(run);
      }
      let r: Step<T>;
      try {
        let p = pull.next();
        waiting = true;
        while (p instanceof Suspend) p = p.resume(await run.wait(p.wait));
        r = isPending(p) ? await run.wait(p) : p;
        waiting = false;
      } catch (error) {
        waiting = false;
        const aborted = signal?.aborted === true;
        run.abort(error);
        end();
        if (aborted) void closeQuietly(pull);
        throw error;
      }
      if (r.done === true) {
        end();
        return DONE;
      }
      return { done: false, value: r.value };
    };
    const it: AsyncIterableIterator<T> = {
      // Overlapping next() calls are queued: a stage never sees two pulls at once.
      next: () => {
        const p: Promise<IteratorResult<T>> = busy === undefined ? step() : busy.then(step, step);
        busy = p;
        return p;
      },
      return: async () => {
        if (!finished && pull !== undefined && run !== undefined) {
          finished = true;
          run.abort(stoppedEarly());
          if (waiting) void closeQuietly(pull);
          else await closeQuietly(pull);
          run.dispose();
        }
        finished = true;
        return DONE;
      },
      [Symbol.asyncIterator]: () => it,
    };
    return it;
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return this.values();
  }

  #fuse<U>(op: OpFactory): Stream<U> {
    const base = this.#base ?? (this.#open as Opener<unknown>);
    const ops = this.#base === undefined ? [op] : [...this.#ops, op];
    return new Stream<U>(fusedOpener<U>(base, ops), base, ops);
  }

  #then<U>(make: (up: Pull<T>, run: Run) => Pull<U>): Stream<U> {
    const open = this.#open;
    return new Stream<U>((run) => make(open(run), run));
  }

  // The loop every terminal shares. Over a synchronous pipeline it never awaits until
  // the end; it awaits only what a stage or the callback returns as a promise.
  async #drive(
    options: RunOptions | undefined,
    makeEach: (run: Run) => (value: T) => unknown,
  ): Promise<void> {
    checkObject('options', options);
    checkKeys('Stream.toArray/reduce/forEach/first/count', options, RUN_KEYS);
    const signal = checkSignal(options?.signal);
    const onCleanupError = cleanupHook(options);
    if (signal?.aborted) throw abortReason(signal);
    const run = new Run(signal, onCleanupError);
    const each = makeEach(run);
    const pull = this.#open(run);
    let pulling = false;
    try {
      for (;;) {
        pulling = true;
        let p: Pulled<T> = pull.next();
        while (p instanceof Suspend) p = p.resume(await run.wait(p.wait));
        const r = isPending(p) ? await run.wait(p) : p;
        pulling = false;
        if (r.done === true) return;
        let c = each(r.value);
        if (c !== undefined && isThenable(c)) c = await run.wait(c);
        if (c === STOP) {
          run.abort(stoppedEarly());
          await closeQuietly(pull);
          return;
        }
        if (signal?.aborted) throw abortReason(signal);
      }
    } catch (error) {
      const aborted = signal?.aborted === true;
      run.abort(error);
      // A failed pull needs no closing; an abort may interrupt a pending pull, which is
      // closed without waiting, since it may never settle.
      if (aborted) void closeQuietly(pull);
      else if (!pulling) await closeQuietly(pull);
      throw error;
    } finally {
      run.dispose();
    }
  }
}

function cleanupHook(options: RunOptions | undefined): ((error: unknown) => void) | undefined {
  return checkFn<(error: unknown) => void>('onCleanupError', options?.onCleanupError, false);
}

function stoppedEarly(): DOMException {
  return new DOMException('The stream was stopped early', 'AbortError');
}

/**
 * Wraps a source in a lazy {@link Stream}: an iterable (arrays fastest), an async
 * iterable (async generators, Node `Readable`s), a WHATWG `ReadableStream`, a
 * {@link Channel}, or another stream. Nothing is read until a terminal pulls.
 * @throws {TypeError} at once when `source` is none of those.
 * @example
 * const total = await stream([1, 2, 3]).map((n) => n * 2).reduce((a, b) => a + b, 0); // 12
 */
export function stream<T>(source: Stream<T>): Stream<T>;
export function stream<T>(source: Channel<T>): Stream<T>;
export function stream<T>(source: ReadableStream<T>): Stream<T>;
export function stream<T>(source: AsyncIterable<T>): Stream<T>;
export function stream<T>(source: Iterable<T>): Stream<Awaited<T>>;
export function stream<T>(source: Source<T>): Stream<T>;
export function stream<T>(source: Source<T>): Stream<T> {
  if (source instanceof Stream) return source;
  if (!isSource(source)) openSource(source, undefined as never);
  return new Stream<T>((run) => openSource<T>(source, run));
}
