import { Channel } from '../channel/channel.js';
import { describe } from '../internal/errors.js';
import { DONE, isThenable, type Pull, type Run, type Step } from './pull.js';

/** Anything `stream()` accepts. */
export type Source<T> =
  | Iterable<T | PromiseLike<T>>
  | AsyncIterable<T>
  | ReadableStream<T>
  | Channel<T>;

/** @internal How a Stream exposes its opener to `stream()` and other stages. */
export const kOpen: unique symbol = Symbol('weir.stream.open');

// Sync iterators: each next() is a plain call. A promise among the values is awaited, as
// `for await` over a sync iterable does.
class IteratorPull<T> implements Pull<T> {
  readonly #it: Iterator<unknown>;
  constructor(it: Iterator<unknown>) {
    this.#it = it;
  }
  next(): Step<T> | Promise<Step<T>> {
    const r = this.#it.next();
    if (r.done !== true && isThenable(r.value)) {
      return Promise.resolve(r.value).then((value) => ({ done: false, value: value as T }));
    }
    return r as Step<T>;
  }
  return(): void {
    this.#it.return?.();
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

class AsyncIteratorPull<T> implements Pull<T> {
  readonly #it: AsyncIterator<T>;
  constructor(it: AsyncIterator<T>) {
    this.#it = it;
  }
  next(): Promise<Step<T>> {
    // Stages test for native promises only, so a foreign thenable is adopted here once.
    const r = this.#it.next();
    return (r instanceof Promise ? r : Promise.resolve(r)) as Promise<Step<T>>;
  }
  return(): Promise<void> | undefined {
    const r = this.#it.return?.();
    return r === undefined ? undefined : Promise.resolve(r).then(() => undefined);
  }
}

class ReaderPull<T> implements Pull<T> {
  readonly #reader: ReadableStreamDefaultReader<T>;
  #done = false;
  constructor(rs: ReadableStream<T>) {
    this.#reader = rs.getReader();
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
      return new ReaderPull<T>(source as ReadableStream<T>);
    }
    if (Symbol.asyncIterator in source) {
      return new AsyncIteratorPull<T>((source as AsyncIterable<T>)[Symbol.asyncIterator]());
    }
  }
  if (
    (typeof source === 'object' && source !== null && Symbol.iterator in source) ||
    typeof source === 'string'
  ) {
    return new IteratorPull<T>((source as Iterable<unknown>)[Symbol.iterator]());
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
