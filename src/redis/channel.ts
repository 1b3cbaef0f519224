// RedisChannel: a bounded channel shared by a fleet of processes, over one Redis stream and
// its consumer group. Sending checks the capacity and appends in one script; a sender that
// finds the channel full waits for the wake-up that acknowledgements publish. Receiving is a
// blocking XREADGROUP on a connection of the channel's own, plus XAUTOCLAIM for what dead or
// stalled consumers left pending.

import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { TimerHandle } from '../internal/clock.js';
import { describe } from '../internal/errors.js';
import {
  checkFn,
  checkInt,
  checkKeys,
  checkMs,
  checkObject,
  optionKeys,
} from '../internal/options.js';
import { abortReason, checkSignal, onAbort } from '../internal/signals.js';
import { BulkheadFullError } from '../resilience/errors.js';
import { type Stream, stream } from '../stream/stream.js';
import {
  CHANNEL_ACK,
  CHANNEL_BURY,
  CHANNEL_COUNT,
  CHANNEL_LEAVE,
  CHANNEL_SEND,
  CHANNEL_GROUP as GROUP,
} from './channel-lua.js';
import { type DeadLetter, Reader } from './channel-reader.js';
import { RedisChannelFullError, RedisClosedError } from './errors.js';
import { RedisMessage } from './message.js';
import { type RedisBaseOptions, type ResolvedBase, resolveBase } from './options.js';
import { isUnavailable, Script, within } from './scripts.js';
import { Subscription } from './subscription.js';

const SEND = new Script(CHANNEL_SEND);
const ACK = new Script(CHANNEL_ACK);
const BURY = new Script(CHANNEL_BURY);
const LEAVE = new Script(CHANNEL_LEAVE);
const COUNT = new Script(CHANNEL_COUNT);

/**
 * Options of a {@link RedisChannel}. There is no `whenUnavailable`: a channel always fails
 * closed (a message cannot be sent to, or received from, a Redis that does not answer).
 */
export interface RedisChannelOptions<T> extends Omit<RedisBaseOptions, 'whenUnavailable'> {
  /**
   * Messages sent and not yet acknowledged (or dead-lettered) that the channel holds, across
   * the fleet; a `send` beyond it waits. An integer >= 1; every process must pass the same.
   * Required.
   */
  capacity: number;
  /**
   * A message delivered to a consumer and not acknowledged for this long (measured by the
   * server) is delivered again to another consumer, in ms. Consumers that are receiving
   * look for such messages (an idle one at least this often; a busy one every
   * `claimAfterMs` on its clock), so reclaiming needs one of them. @default 30_000
   */
  claimAfterMs?: number;
  /**
   * A message delivered this many times without an `ack` goes to the dead-letter stream
   * instead of a further delivery. An integer >= 1. @default 5
   */
  maxDeliveries?: number;
  /**
   * Messages one read takes from the server ahead of the receivers of this process (they
   * count as delivered: after a `close()`, those not handed out are reclaimed by other
   * consumers after `claimAfterMs`). An integer >= 1. @default 16
   */
  prefetch?: number;
  /** This process's name in the consumer group. @default `<hostname>-<pid>-<random>` */
  consumer?: string;
  /** Turns a value into the string stored in the stream. @default JSON.stringify */
  encode?: (value: T) => string;
  /**
   * Turns a stored string back into a value; a message it throws on is dead-lettered
   * (reason `decode: <message>`). @default JSON.parse
   */
  decode?: (text: string) => T;
  /**
   * Sends of this process that may wait for room at once; the next is refused with
   * `ERR_BULKHEAD_FULL`. @default 10_000
   */
  maxWaiting?: number;
}

/** Options of {@link RedisChannel.send}. */
export interface RedisSendOptions {
  /**
   * Aborts the wait for room. An abort that arrives while the script that appends is on the
   * wire takes effect when it answers: if it appended, the send resolves (it happened).
   */
  signal?: AbortSignal | undefined;
  /** Gives up with `ERR_REDIS_CHANNEL_FULL` after this many ms without room. @default Infinity */
  timeoutMs?: number | undefined;
}

/** Options of {@link RedisChannel.receive}. */
export interface RedisReceiveOptions {
  /** Aborts the wait; a message that arrives after it goes to the next receiver. */
  signal?: AbortSignal | undefined;
}

const CHANNEL_KEYS = optionKeys<RedisChannelOptions<unknown>>({
  redis: 1,
  key: 1,
  prefix: 1,
  connectTimeoutMs: 1,
  clock: 1,
  capacity: 1,
  claimAfterMs: 1,
  maxDeliveries: 1,
  prefetch: 1,
  consumer: 1,
  encode: 1,
  decode: 1,
  maxWaiting: 1,
});
const SEND_KEYS = optionKeys<RedisSendOptions>({ signal: 1, timeoutMs: 1 });
const RECEIVE_KEYS = optionKeys<RedisReceiveOptions>({ signal: 1 });

interface Sender {
  readonly payload: string;
  settled: boolean;
  inFlight: boolean;
  // Set by an abort, a timeout or close() that came while the script was on the wire.
  cancel: unknown;
  deadline: TimerHandle;
  disposeAbort: () => void;
  resolve: (id: string) => void;
  reject: (error: unknown) => void;
}

const noop = (): void => {};
const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });

/**
 * A bounded, at-least-once channel shared by every process that uses the same Redis and
 * `key`: a Redis stream with one consumer group. `send` appends unless `capacity` messages
 * are still unacknowledged, and otherwise waits (backpressure: nothing is trimmed) until an
 * `ack` makes room, woken by the server over pub/sub. Each message goes to one consumer and
 * stays pending until its `ack()`; one left pending for `claimAfterMs` (its consumer died
 * or stalled) is reclaimed by another consumer with XAUTOCLAIM, and one delivered
 * `maxDeliveries` times goes to a dead-letter stream instead.
 *
 * Receiving blocks in XREADGROUP on a connection of its own, duplicated from `redis` on the
 * first receive and closed by `close()`. The channel is a `weir/stream` source
 * (`messages()`, or `stream(channel)`: it is an async iterable of {@link RedisMessage}) and
 * a `pipeTo` target (`writable()`).
 * @example
 * const jobs = new RedisChannel<Job>({ redis, key: 'jobs', capacity: 1000 });
 * await jobs.send({ id: 42 }, { signal });          // waits while the fleet has 1000 unacked
 * for await (const m of jobs) {                     // in the worker processes
 *   await run(m.value);
 *   await m.ack();
 * }
 */
export class RedisChannel<T> implements AsyncIterable<RedisMessage<T>> {
  readonly #base: ResolvedBase;
  readonly #capacity: number;
  readonly #maxWaiting: number;
  readonly #encode: (value: T) => string;
  readonly #decode: (text: string) => T;
  readonly #keys: readonly [string, string];
  readonly #wake: string;
  readonly #reader: Reader;
  readonly #senders: Sender[] = [];
  #pumping = false;
  #again = false;
  #pump: Promise<void> = Promise.resolve();
  readonly #subscription: Subscription;
  #closed = false;
  #closing: Promise<void> | undefined;

  /** @throws {TypeError|RangeError} for bad options, naming the option. */
  constructor(options: RedisChannelOptions<T>) {
    if (options === undefined) {
      throw new TypeError('Expected `options` to be an object with `redis`, `key` and `capacity`');
    }
    checkObject('options', options);
    checkKeys('RedisChannel', options, CHANNEL_KEYS);
    this.#base = resolveBase(options);
    this.#capacity = checkInt('capacity', options.capacity, 1);
    const claimAfterMs = checkMs('claimAfterMs', options.claimAfterMs ?? 30_000, 1, false);
    const maxDeliveries = checkInt('maxDeliveries', options.maxDeliveries ?? 5, 1);
    const prefetch = checkInt('prefetch', options.prefetch ?? 16, 1);
    this.#maxWaiting = checkInt('maxWaiting', options.maxWaiting ?? 10_000, 0, true);
    const consumer = options.consumer ?? `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
    if (typeof consumer !== 'string' || consumer === '') {
      throw new TypeError(
        `Expected \`consumer\` to be a non-empty string, got ${describe(consumer)}`,
      );
    }
    this.#encode = checkFn<(value: T) => string>('encode', options.encode, false) ?? JSON.stringify;
    this.#decode =
      checkFn<(text: string) => T>('decode', options.decode, false) ??
      (JSON.parse as (text: string) => T);
    const { prefix, key } = this.#base;
    const base = `${prefix}chan:{${key}}:`;
    this.#keys = [`${base}stream`, `${base}dead`];
    this.#wake = `${base}wake`;
    this.#subscription = new Subscription(this.#base, this.#wake, `channel "${key}"`, this.#onWake);
    this.#reader = new Reader({
      base: this.#base,
      keys: this.#keys,
      consumer,
      claimAfterMs,
      maxDeliveries,
      prefetch,
      settleArgs: () => [GROUP, this.#capacity, this.#wake],
      decode: this.#decode,
      message: (id, value, deliveries) =>
        new RedisMessage<T>(id, value as T, deliveries, (how, reason) =>
          this.#settleMessage(id, how, reason),
        ),
      bury: (id, reason) => {
        this.#settleMessage(id, 'bury', reason).catch(noop);
      },
    });
  }

  /** The most messages not yet acknowledged that the channel holds across the fleet. */
  get capacity(): number {
    return this.#capacity;
  }

  /** This process's name in the consumer group. */
  get consumer(): string {
    return this.#reader.consumer;
  }

  /** Sends of this process waiting for room now. */
  get waitingSends(): number {
    return this.#senders.length;
  }

  /**
   * Appends `value` if the channel has room now; never waits.
   * @returns true if it was sent, false if the channel was full.
   * @throws {RedisUnavailableError} `ERR_REDIS_UNAVAILABLE` when Redis does not answer
   * within `connectTimeoutMs`. @throws {RedisClosedError} `ERR_REDIS_CLOSED` after `close()`.
   */
  async trySend(value: T): Promise<boolean> {
    this.#checkOpen();
    return (await this.#append(this.#encoded(value))) !== undefined;
  }

  /**
   * Appends `value`, waiting while the fleet holds `capacity` unacknowledged messages.
   * Sends of this process that wait are served in order.
   * @returns the entry id.
   * @throws {RedisChannelFullError} `ERR_REDIS_CHANNEL_FULL` after `timeoutMs` without room.
   * @throws {RedisUnavailableError} `ERR_REDIS_UNAVAILABLE` when Redis does not answer
   * within `connectTimeoutMs`; the client may still deliver the command once Redis is back
   * (ioredis replays its offline queue), so a send retried after it may arrive twice, as
   * at-least-once delivery allows. @throws {BulkheadFullError} `ERR_BULKHEAD_FULL` when
   * `maxWaiting` sends wait here. @throws {RedisClosedError} `ERR_REDIS_CLOSED` after
   * `close()`, or when it closes during the wait. @throws the signal's reason on abort.
   */
  async send(value: T, options?: RedisSendOptions): Promise<string> {
    checkObject('options', options);
    checkKeys('RedisChannel.send', options, SEND_KEYS);
    const signal = checkSignal(options?.signal);
    const timeoutMs = checkMs('timeoutMs', options?.timeoutMs ?? Number.POSITIVE_INFINITY);
    if (signal?.aborted) throw abortReason(signal);
    this.#checkOpen();
    const payload = this.#encoded(value);
    if (this.#senders.length === 0) {
      const id = await this.#append(payload);
      if (id !== undefined) return id;
      if (signal?.aborted) throw abortReason(signal);
      this.#checkOpen();
    }
    if (this.#senders.length >= this.#maxWaiting) {
      throw new BulkheadFullError(
        `RedisChannel "${this.#base.key}" refused the send: ${this.#senders.length} sends of this process already wait for room (maxWaiting ${this.#maxWaiting})`,
        this.#capacity,
        this.#senders.length,
      );
    }
    return new Promise<string>((resolve, reject) => {
      const s: Sender = {
        payload,
        settled: false,
        inFlight: false,
        cancel: undefined,
        deadline: undefined,
        disposeAbort: noop,
        resolve,
        reject,
      };
      this.#senders.push(s);
      s.disposeAbort = onAbort(signal, (reason) => this.#cancel(s, reason));
      if (Number.isFinite(timeoutMs)) {
        s.deadline = this.#base.clock.setTimeout(
          () =>
            this.#cancel(
              s,
              new RedisChannelFullError(
                `RedisChannel "${this.#base.key}": no room within ${timeoutMs} ms (capacity ${this.#capacity} messages not yet acknowledged); add consumers, ack faster or raise capacity`,
                this.#capacity,
              ),
            ),
          timeoutMs,
        );
      }
      // Room made before the subscription was up was not heard of: try once it is.
      this.#subscription.ready().then(
        () => this.#wakeSenders(),
        (error: unknown) => this.#failSenders(error),
      );
    });
  }

  /**
   * Waits for the next message for this process.
   * @throws {RedisUnavailableError} `ERR_REDIS_UNAVAILABLE` when Redis does not answer
   * within `connectTimeoutMs` (a blocked read: `claimAfterMs` plus `connectTimeoutMs`).
   * @throws {RedisClosedError} `ERR_REDIS_CLOSED` after `close()`, or when it closes during
   * the wait. @throws the signal's reason on abort.
   */
  receive(options?: RedisReceiveOptions): Promise<RedisMessage<T>> {
    checkObject('options', options);
    checkKeys('RedisChannel.receive', options, RECEIVE_KEYS);
    const signal = checkSignal(options?.signal);
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    if (this.#closed) {
      return Promise.reject(new RedisClosedError(`RedisChannel "${this.#base.key}" is closed`));
    }
    return this.#reader.receive(signal) as Promise<RedisMessage<T>>;
  }

  /**
   * The messages for this process, until `close()` (or a `break`, which leaves the wait).
   * Each must still be acknowledged.
   */
  [Symbol.asyncIterator](): AsyncIterator<RedisMessage<T>> {
    const ac = new AbortController();
    let finished = false;
    return {
      next: async () => {
        if (finished) return DONE;
        try {
          return { done: false, value: await this.receive({ signal: ac.signal }) };
        } catch (error) {
          if (ac.signal.aborted || error instanceof RedisClosedError) {
            finished = true;
            return DONE;
          }
          throw error;
        }
      },
      return: () => {
        finished = true;
        ac.abort();
        return Promise.resolve(DONE);
      },
    };
  }

  /** The messages for this process as a `weir/stream`; stopping it leaves the wait. */
  messages(): Stream<RedisMessage<T>> {
    return stream(this as AsyncIterable<RedisMessage<T>>);
  }

  /**
   * A `WritableStream` onto `send()`, for `stream(source).pipeTo(channel.writable())`: each
   * write waits for room as `send()` does, and an abort of the pipe leaves the wait. Closing
   * or aborting it leaves the channel open.
   */
  writable(): WritableStream<T> {
    let signal: AbortSignal | undefined;
    return new WritableStream<T>(
      {
        start: (controller) => {
          // Aborts as soon as the pipe aborts, while a write still waits for room (the DOM
          // typings here lack the property Node has).
          signal = (controller as { signal?: AbortSignal }).signal;
        },
        write: async (value) => {
          await this.send(value, { signal });
        },
      },
      { highWaterMark: 1 },
    );
  }

  /**
   * Counts, across the fleet: `length` messages not yet acknowledged (what `capacity`
   * bounds), `pending` of them delivered and awaiting an ack, `deadLetters` in the
   * dead-letter stream.
   * @throws {RedisUnavailableError} `ERR_REDIS_UNAVAILABLE` when Redis does not answer.
   */
  async count(): Promise<{ length: number; pending: number; deadLetters: number }> {
    const r = (await this.#run(COUNT, 'a count', [GROUP])) as number[];
    return { length: Number(r[0]), pending: Number(r[1]), deadLetters: Number(r[2]) };
  }

  /**
   * Reads up to `count` entries of the dead-letter stream, oldest first (they stay there:
   * delete them with XDEL, or the stream's key, when dealt with).
   * @throws {RedisUnavailableError} `ERR_REDIS_UNAVAILABLE` when Redis does not answer.
   */
  deadLetters(count = 100): Promise<DeadLetter<T>[]> {
    checkInt('count', count, 1);
    return this.#reader.deadLetters(count) as Promise<DeadLetter<T>[]>;
  }

  /**
   * Rejects the waits of this process with `ERR_REDIS_CLOSED` (an iterator just ends),
   * closes the connection of the blocking reads and stops listening for room. Messages
   * received and not acknowledged stay pending (an `ack` still works); those prefetched and
   * not handed out are reclaimed by other consumers after `claimAfterMs`. Idempotent. The
   * Redis client itself stays open (it is the caller's).
   */
  close(): Promise<void> {
    if (this.#closing === undefined) this.#closing = this.#close();
    return this.#closing;
  }

  /** Same as {@link close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #close(): Promise<void> {
    this.#closed = true;
    const closed = new RedisClosedError(`RedisChannel "${this.#base.key}" was closed`);
    for (const s of [...this.#senders]) this.#cancel(s, closed);
    const used = await this.#reader.close(closed);
    await this.#pump;
    await this.#subscription.close();
    if (used) {
      await this.#run(LEAVE, 'a leave', [GROUP, this.#reader.consumer], 1).catch(noop);
    }
  }

  #checkOpen(): void {
    if (this.#closed) throw new RedisClosedError(`RedisChannel "${this.#base.key}" is closed`);
  }

  #encoded(value: T): string {
    const text = this.#encode(value);
    if (typeof text !== 'string') {
      throw new TypeError(
        `Expected \`encode\` of RedisChannel "${this.#base.key}" to return a string, got ${describe(text)}`,
      );
    }
    return text;
  }

  #run(
    script: Script,
    what: string,
    args: readonly (string | number)[],
    keys = 2,
  ): Promise<unknown> {
    const { redis, clock, connectTimeoutMs } = this.#base;
    return within(
      clock,
      connectTimeoutMs,
      `${what} on channel "${this.#base.key}"`,
      script.run(redis, this.#keys.slice(0, keys), args),
    );
  }

  async #append(payload: string): Promise<string | undefined> {
    const id = await this.#run(SEND, 'a send', [this.#capacity, payload], 1);
    return id === null || id === undefined ? undefined : String(id);
  }

  async #settleMessage(id: string, how: 'ack' | 'bury', reason: string): Promise<boolean> {
    const args = [GROUP, this.#capacity, this.#wake, id];
    const r =
      how === 'ack'
        ? await this.#run(ACK, 'an ack', args)
        : await this.#run(BURY, 'a dead-letter', [...args, reason]);
    return Number(r) === 1;
  }

  readonly #onWake = (): void => this.#wakeSenders();

  #wakeSenders(): void {
    if (this.#senders.length === 0) return;
    if (this.#pumping) {
      this.#again = true;
      return;
    }
    this.#pump = this.#pumpSends();
  }

  /** Tries the waiting sends in order until one finds the channel full again. */
  async #pumpSends(): Promise<void> {
    this.#pumping = true;
    try {
      do {
        this.#again = false;
        while (this.#senders.length > 0) {
          const s = this.#senders[0]!;
          s.inFlight = true;
          let id: string | undefined;
          try {
            id = await this.#append(s.payload);
          } catch (error) {
            s.inFlight = false;
            if (isUnavailable(error)) this.#failSenders(error);
            else this.#finish(s).reject(error);
            continue;
          }
          s.inFlight = false;
          if (id !== undefined) this.#finish(s).resolve(id);
          else if (s.cancel !== undefined) this.#finish(s).reject(s.cancel);
          else break;
        }
      } while (this.#again && this.#senders.length > 0);
    } finally {
      this.#pumping = false;
    }
  }

  #finish(s: Sender): Sender {
    s.settled = true;
    const i = this.#senders.indexOf(s);
    if (i >= 0) this.#senders.splice(i, 1);
    s.disposeAbort();
    this.#base.clock.clearTimeout(s.deadline);
    return s;
  }

  #cancel(s: Sender, reason: unknown): void {
    if (s.settled) return;
    // The script on the wire may append: its answer decides (see RedisSendOptions.signal).
    if (s.inFlight) s.cancel ??= reason;
    else this.#finish(s).reject(reason);
  }

  #failSenders(error: unknown): void {
    for (const s of [...this.#senders]) this.#cancel(s, error);
  }
}
