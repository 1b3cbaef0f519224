// One multiplexed logical stream, the same on both halves: ordered messages each way, a
// window of credit per direction (in messages) so that a slow reader stalls only its own
// stream, and, when `reliable`, sequence numbers kept until acknowledged and replayed after
// a reconnection, duplicates dropped by the receiver.
import { abortReason, onAbort } from '../internal/signals.js';
import { type Stream, stream } from '../stream/stream.js';
import { WsError } from './errors.js';
import { encodeAck, encodeData, encodeOpen, encodeReset, MAX_U32 } from './frame.js';
import type { WsMessage } from './inbox.js';
import type { WsData } from './send-queue.js';

/** @internal What a stream needs from its session. */
export interface StreamHost {
  /** Sends a DATA frame; waits while the connection is over its byte bound. */
  transmit(frame: Buffer, reliable: boolean, signal: AbortSignal | undefined): Promise<void>;
  /** Sends a control frame (ACK, RESET, OPEN) without waiting; dropped while down. */
  control(frame: Buffer): void;
  /** The stream is finished both ways (or reset): forget it. */
  remove(stream: WsStream): void;
}

/**
 * A snapshot returned by {@link WsStream.stats}.
 * @example
 * const { unacked, credit } = stream.stats();
 */
export interface WsStreamStats {
  /** Messages written and not yet acknowledged by the peer (kept for replay when `reliable`). */
  unacked: number;
  /** Messages that may still be written before the peer's window is full. */
  credit: number;
  /** Messages received and not read yet. */
  buffered: number;
  /** Duplicates (replays of what had arrived) dropped. */
  duplicates: number;
  sent: number;
  received: number;
}

interface Waiter {
  resolve: () => void;
  reject: (e: unknown) => void;
  dispose: () => void;
}

interface Reader {
  resolve: (r: IteratorResult<WsMessage, undefined>) => void;
  reject: (e: unknown) => void;
  dispose: () => void;
}

const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });
const noop = (): void => {};

/**
 * A logical stream multiplexed with others over one WebSocket connection, made by
 * `WsPool.openStream` on the client and handed to `onStream` by `acceptWsStreams` on the
 * server. Write with `write()` (waits for credit) and `end()`; read with `for await` or
 * `messages()`; `reset()` aborts both directions.
 */
export class WsStream implements AsyncIterable<WsMessage>, AsyncDisposable {
  /** The stream's id on its connection (chosen by the client). */
  readonly id: number;
  /** Whether messages are kept until acknowledged and replayed after a reconnection. */
  readonly reliable: boolean;
  /** Messages either side may have unread before the writer waits. */
  readonly window: number;
  /** The label given at open (a topic, a method name), '' if none. */
  readonly label: string;
  readonly #host: StreamHost;
  readonly #ackEvery: number;
  // Sending.
  #nextSeq = 1;
  #peerReceived = 0;
  #peerConsumed = 0;
  #unacked: Buffer[] = [];
  #unackedHead = 0;
  #waiters: Waiter[] = [];
  #finSeq = 0;
  // Credit handed to waiters whose write has not run yet (it runs a microtask later).
  #reserved = 0;
  // Receiving.
  #received = 0;
  #consumed = 0;
  #ackedReceived = 0;
  #ackedConsumed = 0;
  #items: WsMessage[] = [];
  #seqs: number[] = [];
  #head = 0;
  #readers: Reader[] = [];
  #remoteFin = 0;
  #duplicates = 0;
  #error: unknown;
  #removed = false;

  /** @internal */
  constructor(host: StreamHost, id: number, reliable: boolean, window: number, label: string) {
    this.#host = host;
    this.id = id;
    this.reliable = reliable;
    this.window = window;
    this.label = label;
    this.#ackEvery = Math.max(1, Math.floor(window / 4));
  }

  /** True once reset, or once both sides ended and everything was acknowledged. */
  get closed(): boolean {
    return this.#removed;
  }

  /**
   * Writes one message (a string as text, bytes as binary). Waits while the peer has
   * `window` messages of this stream unread, and while the connection is over its byte
   * bound; other streams are not held up by it.
   * @throws `ERR_WS_STREAM_RESET` once the stream is reset or its connection closed,
   *   `ERR_WS_CLOSED` after `end()`, or the signal's reason.
   * @example
   * await stream.write(JSON.stringify({ op: 'subscribe' }));
   */
  write(data: WsData, options?: { signal?: AbortSignal }): Promise<void> {
    const signal = options?.signal;
    if (this.#error !== undefined) return Promise.reject(this.#error);
    if (this.#finSeq !== 0) {
      return Promise.reject(new WsError('ERR_WS_CLOSED', 'write() after end() on this stream'));
    }
    if (this.#waiters.length === 0 && this.#hasCredit()) return this.#send(data, signal);
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    return new Promise<void>((resolve, reject) => {
      const w: Waiter = { resolve, reject, dispose: noop };
      w.dispose = onAbort(signal, (reason) => {
        const i = this.#waiters.indexOf(w);
        if (i >= 0) this.#waiters.splice(i, 1);
        reject(reason);
      });
      this.#waiters.push(w);
    }).then(() => {
      this.#reserved--;
      return this.#send(data, signal);
    });
  }

  /** Ends this side: the peer reads what was written, then the end. Idempotent. */
  end(): Promise<void> {
    if (this.#error !== undefined) return Promise.reject(this.#error);
    if (this.#finSeq !== 0) return Promise.resolve();
    // After writes still waiting for credit, so that the end comes after them.
    if (this.#waiters.length > 0) {
      return new Promise<void>((resolve, reject) => {
        this.#waiters.push({ resolve, reject, dispose: noop });
      }).then(() => {
        this.#reserved--;
        return this.#fin();
      });
    }
    return this.#fin();
  }

  /**
   * Aborts the stream both ways: the peer's reads and writes fail with
   * `ERR_WS_STREAM_RESET` and `reason`; so do this side's.
   */
  reset(reason = 'reset'): void {
    if (this.#removed) return;
    this.#host.control(encodeReset(this.id, reason));
    this.fail(new WsError('ERR_WS_STREAM_RESET', `The stream was reset by this side: ${reason}`));
  }

  /** The received messages as a `weir/stream`. */
  messages(): Stream<WsMessage> {
    return stream(this as AsyncIterable<WsMessage>);
  }

  [Symbol.asyncIterator](): AsyncIterator<WsMessage> {
    return {
      next: () => this.#next(),
      return: () => {
        const readers = this.#readers;
        this.#readers = [];
        for (const r of readers) r.resolve(DONE);
        return Promise.resolve(DONE);
      },
    };
  }

  /** A cheap snapshot of the stream. */
  stats(): WsStreamStats {
    return {
      unacked: this.#nextSeq - 1 - this.#peerReceived,
      credit: Math.max(0, this.window - (this.#nextSeq - 1 - this.#peerConsumed)),
      buffered: this.#items.length - this.#head,
      duplicates: this.#duplicates,
      sent: this.#nextSeq - 1,
      received: this.#received,
    };
  }

  /** Ends this side (if not yet) and resolves; for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#error === undefined) await this.end().catch(noop);
  }

  // ---- from the session -----------------------------------------------------------

  /** @internal The OPEN frame, sent at open and again after every reconnection. */
  openFrame(): Buffer {
    return encodeOpen(this.id, this.reliable, this.window, this.label);
  }

  /** @internal After a reconnection: tell the peer where this side is, replay what it lacks. */
  resume(): void {
    this.#ack(true);
    if (!this.reliable) return;
    for (let i = this.#unackedHead; i < this.#unacked.length; i++) {
      void this.#host.transmit(this.#unacked[i]!, true, undefined).catch(noop);
    }
  }

  /** @internal A DATA frame for this stream. */
  data(seq: number, fin: boolean, payload: WsMessage): void {
    if (this.#removed) return;
    if (seq <= this.#received) {
      // A replay of what arrived: the peer lacks the acknowledgement.
      this.#duplicates++;
      this.#ack(true);
      return;
    }
    // A gap: in reliable mode what is missing comes again in order, so this is dropped
    // (it was queued behind frames the dead socket lost); unreliable streams skip it.
    if (seq !== this.#received + 1 && this.reliable) return;
    if (!fin && this.#items.length - this.#head >= this.window) {
      this.#host.control(encodeReset(this.id, 'protocol: data beyond the window'));
      this.fail(new WsError('ERR_WS_PROTOCOL', 'The peer wrote beyond the stream window: reset'));
      return;
    }
    this.#received = seq;
    if (fin) {
      this.#remoteFin = seq;
      this.#drainReaders();
      this.#ack(true);
      this.#maybeDone();
      return;
    }
    const reader = this.#readers.shift();
    if (reader !== undefined) {
      reader.dispose();
      this.#consumed = seq;
      reader.resolve({ done: false, value: payload });
    } else {
      this.#items.push(payload);
      this.#seqs.push(seq);
    }
    this.#ack(false);
  }

  /** @internal An ACK from the peer. */
  acked(received: number, consumed: number): void {
    if (this.#removed) return;
    if (received > this.#peerReceived) {
      const drop = Math.min(received, this.#nextSeq - 1) - this.#peerReceived;
      this.#peerReceived += drop;
      if (this.reliable) this.#dropUnacked(drop);
    }
    if (consumed > this.#peerConsumed) this.#peerConsumed = Math.min(consumed, this.#nextSeq - 1);
    while (this.#waiters.length > 0 && this.#hasCredit()) {
      const w = this.#waiters.shift()!;
      w.dispose();
      this.#reserved++;
      w.resolve();
    }
    this.#maybeDone();
  }

  /** @internal Fails everything pending on the stream and forgets it. */
  fail(error: unknown): void {
    if (this.#removed) return;
    this.#error = error;
    this.#removed = true;
    this.#unacked = [];
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) {
      w.dispose();
      w.reject(error);
    }
    this.#drainReaders();
    this.#host.remove(this);
  }

  // ---- internals ------------------------------------------------------------------

  #hasCredit(): boolean {
    return this.#nextSeq - 1 + this.#reserved - this.#peerConsumed < this.window;
  }

  #send(data: WsData, signal: AbortSignal | undefined): Promise<void> {
    if (this.#error !== undefined) return Promise.reject(this.#error);
    const seq = this.#nextSeq++;
    if (seq === MAX_U32) {
      this.reset('sequence numbers exhausted');
      return Promise.reject(this.#error);
    }
    const frame = encodeData(this.id, seq, data);
    if (this.reliable) this.#unacked.push(frame);
    return this.#host.transmit(frame, this.reliable, signal);
  }

  #fin(): Promise<void> {
    if (this.#error !== undefined) return Promise.reject(this.#error);
    if (this.#finSeq !== 0) return Promise.resolve();
    const seq = this.#nextSeq++;
    this.#finSeq = seq;
    const frame = encodeData(this.id, seq, undefined);
    if (this.reliable) this.#unacked.push(frame);
    const sent = this.#host.transmit(frame, this.reliable, undefined);
    this.#maybeDone();
    return sent;
  }

  #dropUnacked(n: number): void {
    this.#unackedHead += n;
    if (this.#unackedHead >= this.#unacked.length) {
      this.#unacked = [];
      this.#unackedHead = 0;
    } else if (this.#unackedHead > 256 && this.#unackedHead * 2 > this.#unacked.length) {
      this.#unacked = this.#unacked.slice(this.#unackedHead);
      this.#unackedHead = 0;
    }
  }

  #next(): Promise<IteratorResult<WsMessage, undefined>> {
    if (this.#head < this.#items.length) {
      const value = this.#items[this.#head]!;
      this.#consumed = this.#seqs[this.#head]!;
      this.#items[this.#head] = undefined as unknown as WsMessage;
      this.#head++;
      if (this.#head === this.#items.length) {
        this.#items = [];
        this.#seqs = [];
        this.#head = 0;
      }
      this.#ack(false);
      return Promise.resolve({ done: false, value });
    }
    if (this.#remoteFin !== 0) {
      if (this.#consumed < this.#remoteFin) {
        this.#consumed = this.#remoteFin;
        this.#ack(true);
      }
      return Promise.resolve(DONE);
    }
    if (this.#error !== undefined) return Promise.reject(this.#error);
    return new Promise((resolve, reject) => {
      this.#readers.push({ resolve, reject, dispose: noop });
    });
  }

  /** Readers waiting when the stream ends or fails. */
  #drainReaders(): void {
    if (this.#head < this.#items.length) return;
    const readers = this.#readers;
    this.#readers = [];
    for (const r of readers) {
      if (this.#remoteFin !== 0) {
        this.#consumed = this.#remoteFin;
        r.resolve(DONE);
      } else r.reject(this.#error);
    }
  }

  /** Acknowledges what arrived and what was read, every quarter window (or now). */
  #ack(now: boolean): void {
    if (
      now ||
      this.#received - this.#ackedReceived >= this.#ackEvery ||
      this.#consumed - this.#ackedConsumed >= this.#ackEvery
    ) {
      this.#ackedReceived = this.#received;
      this.#ackedConsumed = this.#consumed;
      this.#host.control(encodeAck(this.id, this.#received, this.#consumed));
    }
  }

  /** Both sides ended and the peer has everything: the stream is done. */
  #maybeDone(): void {
    if (
      this.#finSeq !== 0 &&
      this.#peerReceived >= this.#finSeq &&
      this.#remoteFin !== 0 &&
      !this.#removed
    ) {
      this.#removed = true;
      this.#host.remove(this);
    }
  }
}
