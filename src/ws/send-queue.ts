// The outgoing side of a connection: sends go straight into the socket while what is
// buffered (the socket's bufferedAmount plus this queue) is under the bound, queue here in
// order while the socket is away (connecting, reconnecting) or full, and wait, in order,
// when the queue itself is at the bound. Every socket write carries the same callback, so
// room that frees up in the socket is noticed without a timer or a closure per message.
import type { Clock, TimerHandle } from '../internal/clock.js';
import { abortReason, onAbort } from '../internal/signals.js';
import { WsError } from './errors.js';

/** What a connection accepts in `send()`. */
export type WsData = string | Buffer | ArrayBuffer | ArrayBufferView;

/** @internal The part of a `ws` socket the queue writes to. */
export interface Sink {
  readonly bufferedAmount: number;
  /** 1 while open; a closing socket takes no more messages (they wait for the next one). */
  readonly readyState: number;
  send(data: WsData, cb: (error?: Error) => void): void;
}

interface Waiter {
  data: WsData;
  size: number;
  resolve: () => void;
  reject: (error: unknown) => void;
  timer: TimerHandle;
  dispose: () => void;
}

const RESOLVED: Promise<void> = Promise.resolve();
const noop = (): void => {};

/** @internal Byte size of a message as it goes on the wire (without framing). */
export function byteSize(data: WsData): number {
  if (typeof data === 'string') return data.length < 64 ? utf8Small(data) : Buffer.byteLength(data);
  return data.byteLength;
}

// Short strings are the common case; counting them here avoids a call into C++.
function utf8Small(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) n += c >= 0x800 && (c < 0xd800 || c > 0xdfff) ? 2 : 1;
  }
  return n;
}

/** @internal */
export class SendQueue {
  readonly #max: number;
  readonly #clock: Clock;
  readonly #timeoutMs: number;
  #sink: Sink | undefined;
  // Accepted, in order, not yet in the socket.
  #items: WsData[] = [];
  #sizes: number[] = [];
  #head = 0;
  #bytes = 0;
  readonly #waiters: Waiter[] = [];
  #waitHead = 0;
  /** Messages handed to the socket. */
  written = 0;
  /** Messages accepted and then dropped because the connection closed before they went out. */
  dropped = 0;

  constructor(max: number, clock: Clock, timeoutMs: number) {
    this.#max = max;
    this.#clock = clock;
    this.#timeoutMs = timeoutMs;
  }

  /** Bytes held by weir (not yet in the socket). */
  get queuedBytes(): number {
    return this.#bytes;
  }

  /** Bytes waiting to go out: the socket's buffer and weir's queue. */
  get bufferedBytes(): number {
    const sink = this.#sink;
    return (sink?.readyState === 1 ? sink.bufferedAmount : 0) + this.#bytes;
  }

  /** Sends waiting for room. */
  get waiting(): number {
    return this.#waiters.length - this.#waitHead;
  }

  /** The socket is open (or gone: `undefined`); queued messages go out now. */
  attach(sink: Sink | undefined): void {
    this.#sink = sink;
    if (sink !== undefined) this.#pump();
  }

  /** Writes a frame ahead of the queue (a session's greeting after a reconnect). */
  writeFirst(data: WsData): void {
    this.#sink?.send(data, this.#written);
    this.written++;
  }

  /** Accepts `data` (returns a settled promise) or makes the caller wait for room. */
  send(data: WsData, signal: AbortSignal | undefined): Promise<void> {
    if (this.#waitHead === this.#waiters.length) {
      const sink = this.#sink;
      // The hot path: straight into the socket, without measuring the message.
      if (
        this.#bytes === 0 &&
        sink !== undefined &&
        sink.readyState === 1 &&
        sink.bufferedAmount < this.#max
      ) {
        sink.send(data, this.#written);
        this.written++;
        return RESOLVED;
      }
    }
    const size = byteSize(data);
    if (this.#waitHead === this.#waiters.length) {
      if (this.bufferedBytes < this.#max) {
        this.#push(data, size);
        return RESOLVED;
      }
    }
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    return new Promise<void>((resolve, reject) => {
      const w: Waiter = { data, size, resolve, reject, timer: undefined, dispose: noop };
      if (signal !== undefined) w.dispose = onAbort(signal, (reason) => this.#drop(w, reason));
      if (Number.isFinite(this.#timeoutMs)) {
        w.timer = this.#clock.setTimeout(
          () =>
            this.#drop(
              w,
              new WsError(
                'ERR_WS_SEND_TIMEOUT',
                `send() waited ${this.#timeoutMs} ms for room under maxBufferedBytes (${this.#max}); the peer is not reading, or the connection is down`,
              ),
            ),
          this.#timeoutMs,
        );
      }
      this.#waiters.push(w);
    });
  }

  /**
   * The connection closed: waiting sends fail with `error`; what was accepted is written
   * first if the socket is still open (`flush`), or dropped.
   */
  close(error: unknown, flush: boolean): void {
    if (flush && this.#sink !== undefined) this.#pump(true);
    this.dropped += this.#items.length - this.#head;
    this.#items = [];
    this.#sizes = [];
    this.#head = 0;
    this.#bytes = 0;
    const waiters = this.#waiters.splice(this.#waitHead);
    this.#waiters.length = 0;
    this.#waitHead = 0;
    for (const w of waiters) {
      this.#settle(w);
      w.reject(error);
    }
    this.#sink = undefined;
  }

  #push(data: WsData, size: number): void {
    this.#items.push(data);
    this.#sizes.push(size);
    this.#bytes += size;
  }

  readonly #written = (): void => {
    if (this.#bytes !== 0 || this.#waitHead !== this.#waiters.length) this.#pump();
  };

  /** Moves queued messages into the socket, then waiting ones into the queue, in order. */
  #pump(all = false): void {
    const sink = this.#sink?.readyState === 1 ? this.#sink : undefined;
    if (sink !== undefined) {
      while (this.#head < this.#items.length && (all || sink.bufferedAmount < this.#max)) {
        const data = this.#items[this.#head]!;
        this.#bytes -= this.#sizes[this.#head]!;
        this.#items[this.#head] = undefined as unknown as WsData;
        this.#head++;
        sink.send(data, this.#written);
        this.written++;
      }
      if (this.#head === this.#items.length) {
        this.#items = [];
        this.#sizes = [];
        this.#head = 0;
      } else if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
        this.#items = this.#items.slice(this.#head);
        this.#sizes = this.#sizes.slice(this.#head);
        this.#head = 0;
      }
    }
    if (all) return;
    while (this.#waitHead < this.#waiters.length && this.bufferedBytes < this.#max) {
      const w = this.#waiters[this.#waitHead]!;
      this.#waiters[this.#waitHead] = undefined as unknown as Waiter;
      this.#waitHead++;
      this.#settle(w);
      if (this.#bytes === 0 && sink !== undefined && sink.bufferedAmount < this.#max) {
        sink.send(w.data, this.#written);
        this.written++;
      } else {
        this.#push(w.data, w.size);
      }
      w.resolve();
    }
    if (this.#waitHead === this.#waiters.length) {
      this.#waiters.length = 0;
      this.#waitHead = 0;
    }
  }

  #settle(w: Waiter): void {
    w.dispose();
    this.#clock.clearTimeout(w.timer);
  }

  #drop(w: Waiter, reason: unknown): void {
    const i = this.#waiters.indexOf(w, this.#waitHead);
    if (i < 0) return;
    this.#waiters.splice(i, 1);
    this.#settle(w);
    w.reject(reason);
    // The waiter behind it may fit now.
    if (i === this.#waitHead) this.#pump();
  }
}
