import type { IncomingMessage } from 'node:http';
import { type Clock, realClock, type TimerHandle } from '../internal/clock.js';
import {
  checkFn,
  checkInt,
  checkKeys,
  checkMs,
  checkObject,
  optionKeys,
} from '../internal/options.js';
import { onAbort } from '../internal/signals.js';
import { encodeMessage, type SseMessage } from './encode.js';
import { SseSlowClientError } from './errors.js';
import { type NodeResponse, SseStream } from './writer.js';

/** Options of {@link SseHub}. */
export interface SseHubOptions {
  /** How many recent events are kept for replay to a reconnecting client. 0 keeps none. @default 1000 */
  historySize?: number | undefined;
  /**
   * Largest number of bytes a client may leave unsent; a client that falls further behind
   * is dropped (its response destroyed), so a slow reader never grows the server's memory.
   * @default 1048576 (1 MiB)
   */
  maxBufferedBytes?: number | undefined;
  /** A keep-alive comment goes to every client after this long without a broadcast. @default 15000 (ms) */
  keepAliveMs?: number | undefined;
  /** Called when a slow client is dropped, with the reason. */
  onDrop?: ((client: SseStream, reason: SseSlowClientError) => void) | undefined;
  /** @default realClock */
  clock?: Clock | undefined;
}

const HUB_KEYS = optionKeys<SseHubOptions>({
  historySize: 1,
  maxBufferedBytes: 1,
  keepAliveMs: 1,
  onDrop: 1,
  clock: 1,
});

/** What {@link SseHub.add} returns. */
export interface SseHubClient {
  /** The client's stream (its `signal` aborts when it leaves or is dropped). */
  stream: SseStream;
  /** How many events from history were replayed to it. */
  replayed: number;
  /**
   * True when the client asked to resume from an id the history no longer holds (or
   * never held): it is sent the whole history, may still have missed events, and the
   * application should resynchronise it.
   */
  missed: boolean;
}

interface Past {
  id: string;
  bytes: Buffer;
}

/**
 * Broadcasts events to many SSE clients. Each event is encoded once; each client has a
 * bounded buffer and is dropped with `ERR_SSE_CLIENT_TOO_SLOW` when it falls behind by
 * more than `maxBufferedBytes`. Recent events are kept (up to `historySize`) and replayed
 * to a client that reconnects with `Last-Event-ID`. Events without an `id` get sequential
 * ones, so every event can be resumed from.
 *
 * @throws {TypeError|RangeError} at construction for a bad option.
 * @example
 * const hub = new SseHub({ historySize: 500 });
 * http.createServer((req, res) => hub.add(res, req));
 * setInterval(() => hub.broadcast({ event: 'tick', data: { at: Date.now() } }), 1000);
 */
export class SseHub {
  readonly #history: (Past | undefined)[];
  #historyStart = 0;
  #historyLen = 0;
  readonly #max: number;
  readonly #keepAliveMs: number;
  readonly #clock: Clock;
  readonly #onDrop: ((client: SseStream, reason: SseSlowClientError) => void) | undefined;
  readonly #clients = new Set<SseStream>();
  #seq = 0;
  #timer: TimerHandle = undefined;
  #lastBroadcast: number;
  #closed = false;

  constructor(options?: SseHubOptions) {
    checkObject('options', options);
    checkKeys('SseHub', options, HUB_KEYS);
    const historySize = checkInt('historySize', options?.historySize ?? 1000, 0);
    this.#history = new Array<Past | undefined>(historySize);
    this.#max = checkInt('maxBufferedBytes', options?.maxBufferedBytes ?? 1024 * 1024, 1);
    this.#keepAliveMs = checkMs('keepAliveMs', options?.keepAliveMs ?? 15_000, 1);
    this.#onDrop = checkFn('onDrop', options?.onDrop, false);
    this.#clock = options?.clock ?? realClock;
    this.#lastBroadcast = this.#clock.now();
  }

  /** Number of connected clients. */
  get size(): number {
    return this.#clients.size;
  }

  /**
   * Adds a client: starts its event stream and replays the events after its
   * `Last-Event-ID` (from `req`'s header, or `lastEventId`).
   * @throws {TypeError} when the hub is closed.
   */
  add(
    target: NodeResponse | { signal?: AbortSignal },
    from?: IncomingMessage | { lastEventId?: string | undefined },
  ): SseHubClient {
    if (this.#closed) throw new TypeError('The SseHub is closed');
    const stream = new SseStream(target, {
      keepAliveMs: Number.POSITIVE_INFINITY,
      clock: this.#clock,
      highWaterMark: this.#max,
    });
    const header =
      from !== undefined && 'headers' in from ? from.headers['last-event-id'] : undefined;
    const lastEventId =
      (typeof header === 'string' ? header : undefined) ??
      (from as { lastEventId?: string } | undefined)?.lastEventId;
    let replayed = 0;
    let missed = false;
    if (lastEventId !== undefined && lastEventId !== '') {
      const at = this.#find(lastEventId);
      if (at < 0) missed = true;
      for (let i = at + 1; i < this.#historyLen && !stream.closed; i++) {
        if (this.#deliver(stream, this.#past(i).bytes)) replayed++;
      }
    }
    if (!stream.closed) {
      this.#clients.add(stream);
      onAbort(stream.signal, () => this.#clients.delete(stream));
      this.#arm(this.#keepAliveMs);
    }
    return { stream, replayed, missed };
  }

  /**
   * Sends an event to every client (encoded once) and keeps it in history. Returns how
   * many clients it was written to; slow clients are dropped instead.
   * @throws {SseFieldError} `ERR_SSE_INVALID_FIELD` for a field that could forge an event.
   */
  broadcast(message: SseMessage): number {
    const msg = message.id === undefined ? { ...message, id: String(++this.#seq) } : message;
    const bytes = Buffer.from(encodeMessage(msg), 'utf8');
    if (this.#history.length > 0) this.#remember({ id: String(msg.id), bytes });
    this.#lastBroadcast = this.#clock.now();
    let n = 0;
    for (const client of this.#clients) if (this.#deliver(client, bytes)) n++;
    return n;
  }

  /** Ends every client's stream and stops the keep-alive timer. Idempotent. */
  close(): void {
    this.#closed = true;
    this.#clock.clearTimeout(this.#timer);
    for (const client of [...this.#clients]) client.close();
    this.#clients.clear();
  }

  #deliver(client: SseStream, bytes: Buffer): boolean {
    const buffered = client.bufferedBytes;
    if (buffered + bytes.length > this.#max) {
      const reason = new SseSlowClientError(buffered + bytes.length, this.#max);
      client.destroy(reason);
      this.#clients.delete(client);
      this.#onDrop?.(client, reason);
      return false;
    }
    client.push(bytes);
    return true;
  }

  #remember(p: Past): void {
    const cap = this.#history.length;
    if (this.#historyLen < cap) {
      this.#history[(this.#historyStart + this.#historyLen) % cap] = p;
      this.#historyLen++;
    } else {
      this.#history[this.#historyStart] = p;
      this.#historyStart = (this.#historyStart + 1) % cap;
    }
  }

  #past(i: number): Past {
    return this.#history[(this.#historyStart + i) % this.#history.length]!;
  }

  // Index in history of the event with this id (newest first), or -1.
  #find(id: string): number {
    for (let i = this.#historyLen - 1; i >= 0; i--) if (this.#past(i).id === id) return i;
    return -1;
  }

  #arm(ms: number): void {
    if (this.#timer !== undefined || !Number.isFinite(this.#keepAliveMs) || this.#closed) return;
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      if (this.#clients.size === 0) return;
      const idle = this.#clock.now() - this.#lastBroadcast;
      if (idle >= this.#keepAliveMs) {
        this.#lastBroadcast = this.#clock.now();
        for (const client of this.#clients) this.#deliver(client, KEEP_ALIVE);
        this.#arm(this.#keepAliveMs);
      } else this.#arm(this.#keepAliveMs - idle);
    }, ms);
  }
}

const KEEP_ALIVE = Buffer.from(':\n\n');
