// Received messages waiting to be read: a FIFO bounded in bytes. Crossing the bound asks
// the connection to stop reading from the socket; reading back under half of it resumes.
// It lives as long as the connection, across reconnections, so nothing the socket delivers
// between two reads (or in the same tick as `open`) is lost.
import { abortReason, onAbort } from '../internal/signals.js';

/** A received message: text as a string, binary as a Buffer. */
export type WsMessage = string | Buffer;

interface Reader {
  owner: object | undefined;
  resolve: (r: IteratorResult<WsMessage, undefined>) => void;
  reject: (e: unknown) => void;
  dispose: () => void;
}

const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });
const noop = (): void => {};

/** @internal */
export class Inbox {
  readonly #max: number;
  readonly #onFull: () => void;
  readonly #onRoom: () => void;
  #items: WsMessage[] = [];
  #sizes: number[] = [];
  #head = 0;
  #bytes = 0;
  #full = false;
  #readers: Reader[] = [];
  #ended = false;
  #error: unknown;

  constructor(max: number, onFull: () => void, onRoom: () => void) {
    this.#max = max;
    this.#onFull = onFull;
    this.#onRoom = onRoom;
  }

  /** Bytes of messages waiting to be read. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Whether reading from the socket is paused by this bound. */
  get full(): boolean {
    return this.#full;
  }

  push(message: WsMessage, size: number): void {
    if (this.#ended) return;
    const reader = this.#readers.shift();
    if (reader !== undefined) {
      reader.dispose();
      reader.resolve({ done: false, value: message });
      return;
    }
    this.#items.push(message);
    this.#sizes.push(size);
    this.#bytes += size;
    if (!this.#full && this.#bytes >= this.#max) {
      this.#full = true;
      this.#onFull();
    }
  }

  /** No more messages: readers get what is buffered, then `done` (or `error`). */
  end(error?: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#error = error;
    if (this.#head < this.#items.length) return;
    this.#failReaders();
  }

  /** A buffered message without a promise, or undefined when none is buffered. */
  tryTake(): IteratorResult<WsMessage, undefined> | undefined {
    return this.#head < this.#items.length ? this.#take() : undefined;
  }

  next(signal?: AbortSignal, owner?: object): Promise<IteratorResult<WsMessage, undefined>> {
    if (this.#head < this.#items.length) return Promise.resolve(this.#take());
    if (this.#ended) {
      if (this.#error !== undefined) {
        const e = this.#error;
        this.#error = undefined;
        return Promise.reject(e);
      }
      return Promise.resolve(DONE);
    }
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    return new Promise((resolve, reject) => {
      const r: Reader = { owner, resolve, reject, dispose: noop };
      r.dispose = onAbort(signal, (reason) => {
        const i = this.#readers.indexOf(r);
        if (i >= 0) this.#readers.splice(i, 1);
        reject(reason);
      });
      this.#readers.push(r);
    });
  }

  /** Ends the pending reads of one iterator (`owner`) that stopped early (`break`). */
  release(owner: object): void {
    const mine = this.#readers.filter((r) => r.owner === owner);
    if (mine.length === 0) return;
    this.#readers = this.#readers.filter((r) => r.owner !== owner);
    for (const r of mine) {
      r.dispose();
      r.resolve(DONE);
    }
  }

  #take(): IteratorResult<WsMessage, undefined> {
    const value = this.#items[this.#head]!;
    this.#bytes -= this.#sizes[this.#head]!;
    this.#items[this.#head] = undefined as unknown as WsMessage;
    this.#head++;
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#sizes = [];
      this.#head = 0;
      if (this.#ended) queueMicrotask(() => this.#failReaders());
    } else if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#sizes = this.#sizes.slice(this.#head);
      this.#head = 0;
    }
    if (this.#full && this.#bytes * 2 < this.#max) {
      this.#full = false;
      this.#onRoom();
    }
    return { done: false, value };
  }

  #failReaders(): void {
    const readers = this.#readers;
    this.#readers = [];
    for (const r of readers) {
      r.dispose();
      if (this.#error !== undefined) r.reject(this.#error);
      else r.resolve(DONE);
    }
    if (readers.length > 0) this.#error = undefined;
  }
}
