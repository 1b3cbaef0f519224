// The sources `stream()` accepts (iterables, async iterables, web ReadableStreams,
// channels), each opened as a Pull of the stream protocol. Like pull.ts a shared internal:
// weir/json opens its inputs through `openSource`/`isSource`; the public part is `Source`.
import { Channel } from '../channel/channel.js';
import { describe } from '../internal/errors.js';
import { DONE, isThenable, noop, type Pull, type Run, type Step } from './pull.js';

/** Anything `stream()` accepts. */
export type Source<T> =
  | Iterable<T | PromiseLike<T>>
  | AsyncIterable<T>
  | ReadableStream<T>
  | Channel<T>;

/** @internal How a Stream exposes its opener to `stream()` and other stages. */
export const kOpen: unique symbol = Symbol('weir.stream.open');

// Every source's return() hands a failure of its cleanup to the run and never throws or
// rejects itself, so a stage may call it without waiting (see BufferPull) and lose nothing.

// Sync iterators: each next() is a plain call. A promise among the values is awaited, as
// `for await` over a sync iterable does.
class IteratorPull<T> implements Pull<T> {
  readonly #it: Iterator<unknown>;
  readonly #run: Run;
  constructor(it: Iterator<unknown>, run: Run) {
    this.#it = it;
    this.#run = run;
  }
  next(): Step<T> | Promise<Step<T>> {
    const r = this.#it.next();
    if (r.done !== true && isThenable(r.value)) {
      return Promise.resolve(r.value).then((value) => ({ done: false, value: value as T }));
    }
    return r as Step<T>;
  }
  return(): void {
    try {
      this.#it.return?.();
    } catch (error) {
      this.#run.cleanupFailed(error);
    }
  }
}

// Arrays skip the iterator protocol altogether: a plain index walk.
class ArrayPull<T> implements Pull<T> {
  readonly #a: readonly unknown[];
  #i = 0;
  // Reused: every consumer reads a step's value before it pulls again (see Pull).
  readonly #step: IteratorYieldResult<T> = { done: false, value: undefined as T };
  constructor(a: readonly unknown[]) {
    this.#a = a;
  }
  next(): Step<T> | Promise<Step<T>> {
    if (this.#i >= this.#a.length) return DONE;
    const value = this.#a[this.#i++];
    if (isThenable(value)) {
      return Promise.resolve(value).then((v) => ({ done: false, value: v as T }));
    }
    this.#step.value = value as T;
    return this.#step;
  }
  return(): void {
    this.#i = this.#a.length;
  }
}

// An async generator parked in an `await` queues a return() behind its pending next(), so
// the promise of return() may never settle: stages that keep a pull of their own pending
// do not wait for it (see ConcurrentMapPull.return).
class AsyncIteratorPull<T> implements Pull<T> {
  readonly #it: AsyncIterator<T>;
  readonly #run: Run;
  constructor(it: AsyncIterator<T>, run: Run) {
    this.#it = it;
    this.#run = run;
  }
  next(): Promise<Step<T>> {
    // Stages test for native promises only, so a foreign thenable is adopted here once.
    const r = this.#it.next();
    return (r instanceof Promise ? r : Promise.resolve(r)) as Promise<Step<T>>;
  }
  return(): Promise<void> | undefined {
    let r: unknown;
    try {
      r = this.#it.return?.();
    } catch (error) {
      this.#run.cleanupFailed(error);
      return;
    }
    if (!isThenable(r)) return;
    return Promise.resolve(r).then(noop, (error: unknown) => this.#run.cleanupFailed(error));
  }
}

class ReaderPull<T> implements Pull<T> {
  readonly #reader: ReadableStreamDefaultReader<T>;
  readonly #run: Run;
  #done = false;
  constructor(rs: ReadableStream<T>, run: Run) {
    this.#reader = rs.getReader();
    this.#run = run;
  }
  next(): Promise<Step<T>> {
    return this.#reader.read().then(
      (r) => {
        if (r.done) this.#finish();
        return r as Step<T>;
      },
      (error: unknown) => {
        this.#finish();
        throw error;
      },
    );
  }
  #finish(): void {
    if (this.#done) return;
    this.#done = true;
    this.#reader.releaseLock();
  }
  async return(): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    try {
      await this.#reader.cancel();
    } catch (error) {
      this.#run.cleanupFailed(error);
    } finally {
      this.#reader.releaseLock();
    }
  }
}

// A channel yields synchronously what is buffered or offered by a waiting sender, and
// waits (cancellably, on the run's signal) only when it is empty. Stopping early does not
// close the channel, as breaking out of a `for await` over it does not.
class ChannelPull<T> implements Pull<T> {
  readonly #ch: Channel<T>;
  readonly #opts: { signal: AbortSignal };
  constructor(ch: Channel<T>, run: Run) {
    this.#ch = ch;
    this.#opts = { signal: run.signal };
  }
  next(): Step<T> | Promise<Step<T>> {
    return this.#ch.tryReceive() ?? this.#ch.receive(this.#opts);
  }
  return(): void {}
}

/** @internal Opens a stage that reads `source`. */
export function openSource<T>(source: unknown, run: Run): Pull<T> {
  if (typeof source === 'object' && source !== null) {
    if (kOpen in source) return (source as { [kOpen]: (run: Run) => Pull<T> })[kOpen](run);
    if (Array.isArray(source)) return new ArrayPull<T>(source);
    if (source instanceof Channel) return new ChannelPull<T>(source as Channel<T>, run);
    if (typeof (source as ReadableStream).getReader === 'function' && !isNodeReadable(source)) {
      return new ReaderPull<T>(source as ReadableStream<T>, run);
    }
    if (Symbol.asyncIterator in source) {
      return new AsyncIteratorPull<T>((source as AsyncIterable<T>)[Symbol.asyncIterator](), run);
    }
  }
  if (
    (typeof source === 'object' && source !== null && Symbol.iterator in source) ||
    typeof source === 'string'
  ) {
    return new IteratorPull<T>((source as Iterable<unknown>)[Symbol.iterator](), run);
  }
  throw new TypeError(
    `Expected a stream source (an iterable, async iterable, Node Readable, ReadableStream or Channel), got ${describe(source)}`,
  );
}

/** @internal Whether `stream()` can read `source`. */
export function isSource(source: unknown): boolean {
  if (typeof source === 'string') return true;
  if (typeof source !== 'object' || source === null) return false;
  return (
    kOpen in source ||
    source instanceof Channel ||
    typeof (source as ReadableStream).getReader === 'function' ||
    Symbol.asyncIterator in source ||
    Symbol.iterator in source
  );
}

function isNodeReadable(source: object): boolean {
  return (
    typeof (source as { pipe?: unknown }).pipe === 'function' && Symbol.asyncIterator in source
  );
}
