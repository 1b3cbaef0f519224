import { type Linked, LinkedList } from '../internal/linked-list.js';
import { checkInt, checkKeys, checkObject, optionKeys } from '../internal/options.js';
import { abortReason, checkSignal, onAbort } from '../internal/signals.js';
import { later, settle, spend, yielding } from './coop.js';
import { ChannelClosedError } from './errors.js';

/** Options of a call that may wait. */
export interface WaitOptions {
  /** Aborting it rejects the wait with `signal.reason` and leaves nothing queued. */
  signal?: AbortSignal | undefined;
}

const WAIT_KEYS = optionKeys<WaitOptions>({ signal: 1 });

/**
 * What a receive yields: `{ done: false, value }` for a value (which may itself be
 * `undefined`), `{ done: true, value: undefined }` once the channel is closed and drained.
 * It is an `IteratorResult`, so a channel's iterator hands it on unchanged.
 */
export type Received<T> = IteratorResult<T, undefined>;

const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });
const RESOLVED: Promise<void> = Promise.resolve();

/** @internal Implemented by `select` to be told which of its registrations fired. */
export interface Selector {
  fire(w: Waiter<unknown>, result: Received<unknown> | undefined): void;
  fail(w: Waiter<unknown>, error: unknown): void;
}

/** @internal A queued sender or receiver; `sel` is set when it belongs to a `select`. */
export interface Waiter<T> extends Linked<Waiter<T>> {
  value: T | undefined;
  resolve: (result: never) => void;
  reject: (error: unknown) => void;
  dispose: () => void;
  sel: Selector | null;
  index: number;
}

const noop = (): void => {};

// A received value as an iterator result made by an array iterator, which V8 gives its
// iterator-result shape: resolving a waiting receive's promise with it skips the lookup of
// a `then` property (a miss through the prototype chain, about a tenth of a message's
// cost) that any other object costs, since that shape is known to have none.
function result<T>(value: T): Received<T> {
  return [value].values().next() as Received<T>;
}

/** @internal Symbols through which `select` and the helpers reach a channel's internals. */
export const kReadyToReceive: unique symbol = Symbol('weir.channel.readyToReceive');
export const kReadyToSend: unique symbol = Symbol('weir.channel.readyToSend');
export const kTake: unique symbol = Symbol('weir.channel.take');
export const kPut: unique symbol = Symbol('weir.channel.put');
export const kRegister: unique symbol = Symbol('weir.channel.register');
export const kUnregister: unique symbol = Symbol('weir.channel.unregister');
export const kOnClose: unique symbol = Symbol('weir.channel.onClose');

/**
 * A bounded channel with Go's semantics. Capacity 0 is a rendezvous: a send completes
 * only when a receiver takes the value. Capacity n buffers up to n values; a send waits
 * while the buffer is full. Values come out in FIFO order, and waiting senders and
 * receivers are served first come, first served.
 *
 * `close()` lets receivers drain what is buffered; after that every receive yields
 * `{ done: true }`. A send on a closed channel, or one waiting when it closes, fails with
 * `ERR_CHANNEL_CLOSED`.
 *
 * A channel is an async iterable: `for await` ends once it is closed and drained, and
 * breaking out of the loop does not close it.
 *
 * Operations that complete at once resume their callers on microtasks, which would let
 * tasks exchanging values flat out hold the event loop (timers, I/O) for as long as they
 * run. So channels share a budget of time: once operations have run for about 1 ms
 * without the event loop turning, the results of operations (and the wakes of waiting
 * peers) are delivered after one turn of it, as with `setImmediate`. Every value still
 * arrives, in order; only when its receiver resumes changes. `trySend`/`tryReceive` never
 * wait, so a loop of them alone cannot be interrupted.
 *
 * @throws {TypeError|RangeError} when `capacity` is not an integer >= 0.
 * @example
 * const ch = new Channel<number>(16);
 * (async () => { for (let i = 0; i < 3; i++) await ch.send(i); ch.close(); })();
 * for await (const n of ch) console.log(n); // 0 1 2
 */
export class Channel<T> implements AsyncIterable<T>, Disposable {
  readonly #capacity: number;
  // Ring buffer that grows up to capacity, so a large capacity costs nothing until used.
  #buf: (T | undefined)[];
  #head = 0;
  #len = 0;
  readonly #receivers = new LinkedList<Waiter<T>>();
  // The oldest waiting receiver when it has no signal and none other waits: its promise's
  // resolve alone, so that the common wait (one consumer) allocates no waiter and queues
  // nothing. It always precedes the receivers in the list, so FIFO order holds. Typed as
  // `Waiter.resolve` is, so that it does not change how `Channel<T>` varies in `T`.
  #receiver: ((result: never) => void) | null = null;
  readonly #senders = new LinkedList<Waiter<T>>();
  #closed = false;
  #onClose: (() => void) | undefined = undefined;

  /**
   * @param capacity how many values the channel buffers. @default 0 (rendezvous)
   */
  constructor(capacity = 0) {
    this.#capacity = checkInt('capacity', capacity, 0);
    this.#buf = new Array(Math.min(capacity, 16));
  }

  /** How many values the channel can buffer. */
  get capacity(): number {
    return this.#capacity;
  }

  /** How many values are buffered now. */
  get length(): number {
    return this.#len;
  }

  /** Senders waiting for room (or, at capacity 0, for a receiver) now. */
  get blockedSenders(): number {
    return this.#senders.size;
  }

  /** Receivers waiting for a value now. */
  get blockedReceivers(): number {
    return this.#receivers.size + (this.#receiver === null ? 0 : 1);
  }

  /** Whether `close()` was called (buffered values may still be waiting to be received). */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Sends `value`, waiting until a receiver takes it (capacity 0) or there is room in the
   * buffer.
   * @throws rejects with `ERR_CHANNEL_CLOSED` if the channel is closed or closes while the
   * send waits (the value is then not delivered); with `signal.reason` on abort.
   * @example await ch.send(42, { signal: AbortSignal.timeout(1000) });
   */
  send(value: T, options?: WaitOptions): Promise<void> {
    const signal = options === undefined ? undefined : waitSignal(options);
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    if (this.#closed) return Promise.reject(sendOnClosed());
    if (this[kPut](value)) return yielding ? later(undefined) : RESOLVED;
    return new Promise<void>((resolve, reject) => {
      const w = waiter<T>(value, resolve, reject);
      this.#senders.push(w);
      if (signal !== undefined) {
        w.dispose = onAbort(signal, (reason) => {
          this.#senders.remove(w);
          reject(reason);
        });
      }
    });
  }

  /**
   * Sends `value` if that can be done without waiting.
   * @returns true if a receiver or the buffer took the value, false otherwise.
   * @throws {ChannelClosedError} `ERR_CHANNEL_CLOSED` if the channel is closed.
   */
  trySend(value: T): boolean {
    if (this.#closed) throw sendOnClosed();
    return this[kPut](value);
  }

  /**
   * Receives the next value, waiting for one if none is buffered.
   * @returns `{ done: false, value }`, or `{ done: true, value: undefined }` once the
   * channel is closed and drained.
   * @throws rejects with `signal.reason` on abort (no value is taken).
   * @example
   * const r = await ch.receive();
   * if (!r.done) use(r.value);
   */
  receive(options?: WaitOptions): Promise<Received<T>> {
    const signal = options === undefined ? undefined : waitSignal(options);
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    const r = this[kTake]();
    if (r !== undefined) return yielding ? later(r) : Promise.resolve(r);
    if (signal === undefined && this.#receiver === null && this.#receivers.size === 0) {
      return new Promise<Received<T>>((resolve) => {
        this.#receiver = resolve;
      });
    }
    return new Promise<Received<T>>((resolve, reject) => {
      const w = waiter<T>(undefined, resolve, reject);
      this.#receivers.push(w);
      if (signal !== undefined) {
        w.dispose = onAbort(signal, (reason) => {
          this.#receivers.remove(w);
          reject(reason);
        });
      }
    });
  }

  /**
   * Receives a value if one is ready, without waiting.
   * @returns `{ done: false, value }`, `{ done: true }` when closed and drained, or
   * `undefined` when nothing is ready yet.
   */
  tryReceive(): Received<T> | undefined {
    return this[kTake]();
  }

  /**
   * Closes the channel: buffered values can still be received, then receivers get
   * `{ done: true }`. Waiting senders fail with `ERR_CHANNEL_CLOSED`.
   * @throws {ChannelClosedError} `ERR_CHANNEL_CLOSED` if the channel is already closed, as
   * in Go. Use `[Symbol.dispose]()` for an idempotent close.
   */
  close(): void {
    if (this.#closed) {
      throw new ChannelClosedError(
        'Cannot close a channel that is already closed; only the sending side should close it, once',
      );
    }
    this.#closed = true;
    for (let s = this.#senders.shift(); s !== null; s = this.#senders.shift()) {
      const error = new ChannelClosedError(
        'The channel was closed while this send waited; the value was not delivered',
      );
      if (s.sel === null) {
        s.dispose();
        s.reject(error);
      } else s.sel.fail(s as Waiter<unknown>, error);
    }
    // Receivers only wait on an empty buffer, so they all learn the channel is done.
    const first = this.#receiver;
    if (first !== null) {
      this.#receiver = null;
      settle(first as (r: Received<T>) => void, DONE);
    }
    for (let r = this.#receivers.shift(); r !== null; r = this.#receivers.shift()) {
      wake(r, DONE);
    }
    const hook = this.#onClose;
    this.#onClose = undefined;
    hook?.();
  }

  /** Closes the channel unless it is already closed. */
  [Symbol.dispose](): void {
    if (!this.#closed) this.close();
  }

  /**
   * An async iterator over received values, ending when the channel is closed and
   * drained. Ending the loop early (`break`) does not close the channel.
   * @throws the iterator's `next()` rejects with `signal.reason` on abort.
   */
  values(options?: WaitOptions): AsyncIterableIterator<T> {
    const signal = options === undefined ? undefined : waitSignal(options);
    const opts = signal === undefined ? undefined : { signal };
    let finished = false;
    const it: AsyncIterableIterator<T> = {
      next: () => (finished ? Promise.resolve(DONE) : this.receive(opts)),
      return: () => {
        finished = true;
        return Promise.resolve(DONE);
      },
      [Symbol.asyncIterator]: () => it,
    };
    return it;
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return this.values();
  }

  /** @internal Whether a receive would complete now (a value, a sender, or closed). */
  [kReadyToReceive](): boolean {
    return this.#len > 0 || this.#senders.size > 0 || this.#closed;
  }

  /** @internal Whether a send would complete (or fail, if closed) now. */
  [kReadyToSend](): boolean {
    return (
      this.#closed ||
      this.#receiver !== null ||
      this.#receivers.size > 0 ||
      this.#len < this.#capacity
    );
  }

  /** @internal Takes a value without waiting; undefined when none is ready and still open. */
  [kTake](): Received<T> | undefined {
    if (this.#len > 0) {
      spend();
      const buf = this.#buf;
      const value = buf[this.#head] as T;
      buf[this.#head] = undefined;
      this.#head = this.#head + 1 === buf.length ? 0 : this.#head + 1;
      this.#len--;
      // A sender waiting on a full buffer moves its value in, keeping FIFO order.
      const s = this.#senders.shift();
      if (s !== null) {
        this.#append(s.value as T);
        wake(s, undefined);
      }
      return { done: false, value };
    }
    const s = this.#senders.shift();
    if (s !== null) {
      spend();
      const value = s.value as T;
      if (s.sel === null) {
        s.dispose();
        resumeAfter(s.resolve as () => void);
      } else s.sel.fire(s as Waiter<unknown>, undefined);
      return { done: false, value };
    }
    if (!this.#closed) return undefined;
    spend();
    return DONE;
  }

  /** @internal Hands `value` to a waiting receiver or the buffer; false if it must wait. */
  [kPut](value: T): boolean {
    const first = this.#receiver;
    if (first !== null) {
      this.#receiver = null;
      spend();
      settle(first as (r: Received<T>) => void, result(value));
      return true;
    }
    const r = this.#receivers.shift();
    if (r !== null) {
      spend();
      wake(r, result(value));
      return true;
    }
    if (this.#len < this.#capacity) {
      spend();
      this.#append(value);
      return true;
    }
    return false;
  }

  /** @internal Queues a select's waiter. */
  [kRegister](w: Waiter<T>, sending: boolean): void {
    (sending ? this.#senders : this.#receivers).push(w);
  }

  /** @internal Removes a select's waiter. */
  [kUnregister](w: Waiter<T>, sending: boolean): void {
    (sending ? this.#senders : this.#receivers).remove(w);
  }

  /** @internal Sets a hook run once when the channel closes (helpers stop their pumps). */
  [kOnClose](hook: () => void): void {
    this.#onClose = hook;
  }

  /** @internal Waiting senders and receivers, for tests that check nothing is left behind. */
  get waiting(): { senders: number; receivers: number } {
    return { senders: this.#senders.size, receivers: this.blockedReceivers };
  }

  #append(value: T): void {
    let buf = this.#buf;
    if (this.#len === buf.length) {
      const grown = new Array<T | undefined>(
        Math.min(this.#capacity, Math.max(16, buf.length * 2)),
      );
      for (let i = 0; i < this.#len; i++) grown[i] = buf[(this.#head + i) % buf.length];
      this.#buf = buf = grown;
      this.#head = 0;
    }
    const tail = this.#head + this.#len;
    buf[tail >= buf.length ? tail - buf.length : tail] = value;
    this.#len++;
  }
}

/** @internal */
function waiter<T>(
  value: T | undefined,
  resolve: (result: never) => void,
  reject: (error: unknown) => void,
): Waiter<T> {
  return {
    prev: null,
    next: null,
    queued: false,
    value,
    resolve,
    reject,
    dispose: noop,
    sel: null,
    index: 0,
  };
}

function wake<T>(w: Waiter<T>, result: Received<T> | undefined): void {
  if (w.sel === null) {
    w.dispose();
    settle(w.resolve as (r: Received<T> | undefined) => void, result);
  } else w.sel.fire(w as Waiter<unknown>, result as Received<unknown> | undefined);
}

// A receiver that takes from a waiting sender resumes first, as a Go receiver goes on
// running while the sender it woke waits to be scheduled. Resolving the sender one
// microtask later (after the receive's own result) does that, and it matters for more
// than order: in an exchange, the side that resumes first is the one that waits next, and
// a waiting receiver costs less than a waiting sender, since a send to it then completes at
// once without allocating its promise.
function resumeAfter(resolve: () => void): void {
  if (yielding) settle(resolve, undefined);
  else queueMicrotask(resolve);
}

function sendOnClosed(): ChannelClosedError {
  return new ChannelClosedError(
    'Cannot send on a closed channel; stop the producer before closing',
  );
}

function waitSignal(options: WaitOptions): AbortSignal | undefined {
  checkObject('options', options);
  checkKeys('Channel.send/receive/values', options, WAIT_KEYS);
  return checkSignal(options.signal);
}

/** @internal */
export { DONE as doneResult, noop, waiter };
