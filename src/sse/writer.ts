import type { ServerResponse } from 'node:http';
import type { Http2ServerResponse } from 'node:http2';
import type { Writable } from 'node:stream';
import { type Clock, realClock, type TimerHandle } from '../internal/clock.js';
import { onFirst } from '../internal/events.js';
import { checkInt, checkKeys, checkMs, checkObject, optionKeys } from '../internal/options.js';
import { checkSignal, onAbort } from '../internal/signals.js';
import { encodeComment, encodeMessage, type SseMessage } from './encode.js';
import { SseClosedError } from './errors.js';

/** A Node HTTP/1 or HTTP/2 compatibility response. */
export type NodeResponse = ServerResponse | Http2ServerResponse;

/** Options of {@link createSseStream}. */
export interface SseStreamOptions {
  /**
   * Send a comment after this long without any write, so that proxies and load balancers
   * do not close an idle connection. `Infinity` turns it off.
   * @default 15000 (ms)
   */
  keepAliveMs?: number | undefined;
  /** More response headers. */
  headers?: Record<string, string> | undefined;
  /**
   * For a web stream (no Node response): how many bytes may wait unread before `send()`
   * makes its caller wait.
   * @default 65536 (64 KiB)
   */
  highWaterMark?: number | undefined;
  /** Clock for the keep-alive timer. @default realClock */
  clock?: Clock | undefined;
}

const STREAM_KEYS = optionKeys<SseStreamOptions>({
  keepAliveMs: 1,
  headers: 1,
  highWaterMark: 1,
  clock: 1,
});

/** The headers every event stream is sent with. */
export const SSE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'Content-Type': 'text/event-stream; charset=utf-8',
  // no-transform: compressing proxies would hold events back to fill their buffers.
  'Cache-Control': 'no-cache, no-transform',
  // nginx buffers proxied responses unless told not to.
  'X-Accel-Buffering': 'no',
});

// Where the bytes go: a Node response or a web ReadableStream.
interface Sink {
  write(data: string | Uint8Array): boolean;
  readonly buffered: number;
  /** Calls `fn` once when the sink can take more, or closes. */
  onDrain(fn: () => void): void;
  end(): void;
  destroy(error?: Error): void;
}

class NodeSink implements Sink {
  readonly #res: Writable;
  constructor(res: NodeResponse) {
    this.#res = res as unknown as Writable;
  }
  write(data: string | Uint8Array): boolean {
    return this.#res.write(data);
  }
  get buffered(): number {
    return this.#res.writableLength;
  }
  onDrain(fn: () => void): void {
    onFirst(this.#res, 'drain', this.#res, 'close', fn);
  }
  end(): void {
    this.#res.end();
  }
  destroy(error?: Error): void {
    this.#res.destroy(error);
  }
}

class WebSink implements Sink {
  readonly readable: ReadableStream<Uint8Array>;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  readonly #hwm: number;
  #waiters: (() => void)[] = [];
  #closed = false;
  constructor(hwm: number, onCancel: () => void) {
    this.#hwm = hwm;
    this.readable = new ReadableStream<Uint8Array>(
      {
        start: (c) => {
          this.#controller = c;
        },
        pull: () => this.#wake(),
        cancel: () => {
          this.#closed = true;
          this.#wake();
          onCancel();
        },
      },
      new ByteLengthQueuingStrategy({ highWaterMark: hwm }),
    );
  }
  write(data: string | Uint8Array): boolean {
    if (this.#closed) return false;
    this.#controller.enqueue(typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
    return (this.#controller.desiredSize ?? 0) > 0;
  }
  get buffered(): number {
    return this.#closed ? 0 : this.#hwm - (this.#controller.desiredSize ?? this.#hwm);
  }
  onDrain(fn: () => void): void {
    this.#waiters.push(fn);
  }
  #wake(): void {
    const ws = this.#waiters;
    this.#waiters = [];
    for (const w of ws) w();
  }
  end(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#controller.close();
    this.#wake();
  }
  destroy(error?: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#controller.error(error);
    this.#wake();
  }
}

const resolved = Promise.resolve();

/**
 * One server-sent event stream to one client. Make it with {@link createSseStream}.
 * `signal` aborts when the client disconnects or the stream is closed, so a handler can
 * stop its work (`for await (const x of feed({ signal: sse.signal }))`).
 */
export class SseStream {
  /** Aborts when the stream closes (client disconnect, `close()`, or a hub drop). */
  readonly signal: AbortSignal;
  /** For a web stream: the `Response` to return from the handler. */
  readonly response: Response | undefined;
  readonly #sink: Sink;
  readonly #controller = new AbortController();
  readonly #clock: Clock;
  readonly #keepAliveMs: number;
  #timer: TimerHandle = undefined;
  #lastWrite: number;

  /** @internal Use {@link createSseStream}. */
  constructor(target: NodeResponse | { signal?: AbortSignal }, options?: SseStreamOptions) {
    checkObject('options', options);
    checkKeys('createSseStream', options, STREAM_KEYS);
    this.#keepAliveMs = checkMs('keepAliveMs', options?.keepAliveMs ?? 15_000, 1);
    const hwm = checkInt('highWaterMark', options?.highWaterMark ?? 64 * 1024, 1);
    this.#clock = options?.clock ?? realClock;
    this.signal = this.#controller.signal;
    const headers = { ...SSE_HEADERS, ...options?.headers };
    if (typeof (target as NodeResponse).setHeader === 'function') {
      const res = target as NodeResponse;
      this.response = undefined;
      this.#sink = new NodeSink(res);
      if (!res.headersSent) {
        res.statusCode = 200;
        for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
        // Headers now, not with the first event: EventSource fires `open` on them.
        const r1 = res as ServerResponse;
        if (typeof r1.flushHeaders === 'function') r1.flushHeaders();
        else (res as Http2ServerResponse).writeHead(200);
      }
      const w = res as unknown as Writable;
      if (w.destroyed || w.writableEnded) this.#shutdown(false);
      else w.once('close', () => this.#shutdown(false));
    } else {
      const outer = checkSignal((target as { signal?: AbortSignal }).signal);
      const sink = new WebSink(hwm, () => this.#shutdown(false));
      this.#sink = sink;
      this.response = new Response(sink.readable, { status: 200, headers });
      if (outer?.aborted) this.#shutdown(true);
      // Closing the stream first takes its wait off the outer signal, which may be long-lived.
      else if (outer !== undefined)
        onAbort(
          this.signal,
          onAbort(outer, () => this.close()),
        );
    }
    this.#lastWrite = this.#clock.now();
    this.#arm(this.#keepAliveMs);
  }

  /** Whether the stream is closed. */
  get closed(): boolean {
    return this.signal.aborted;
  }

  /** Bytes written but not yet taken by the client (the response's buffer). */
  get bufferedBytes(): number {
    return this.#sink.buffered;
  }

  /**
   * Sends one event. Resolves at once when the client keeps up, or once the response
   * drained when it pushes back, so `await sse.send(…)` paces a producer to the client.
   * @throws {SseFieldError} `ERR_SSE_INVALID_FIELD` (synchronously) for an `event` or `id`
   * with a line break, an `id` with NUL, or a bad `retry`.
   * @throws rejects with `ERR_SSE_CLOSED` when the stream is closed.
   * @example await sse.send({ event: 'price', id: tick.seq, data: tick });
   */
  send(message: SseMessage): Promise<void> {
    return this.writeEncoded(encodeMessage(message));
  }

  /** Sends a comment (ignored by clients); `comment('')` is a bare keep-alive. */
  comment(text: string): Promise<void> {
    return this.writeEncoded(encodeComment(text));
  }

  /** @internal Writes already-encoded events (a hub encodes once for every client). */
  writeEncoded(data: string | Uint8Array): Promise<void> {
    if (this.signal.aborted) return Promise.reject(new SseClosedError());
    this.#lastWrite = this.#clock.now();
    if (this.#sink.write(data)) return resolved;
    return new Promise<void>((resolve, reject) => {
      this.#sink.onDrain(() => (this.signal.aborted ? reject(new SseClosedError()) : resolve()));
    });
  }

  /**
   * @internal Writes without waiting: a hub bounds each client's buffer itself and must not
   * add a drain listener per event.
   */
  push(data: Uint8Array): void {
    if (this.signal.aborted) return;
    this.#lastWrite = this.#clock.now();
    this.#sink.write(data);
  }

  /** Ends the response normally (the client will reconnect unless told otherwise). Idempotent. */
  close(): void {
    this.#shutdown(true);
  }

  /** @internal Destroys the response, e.g. when a hub drops a slow client. */
  destroy(reason: Error): void {
    if (this.signal.aborted) return;
    this.#clock.clearTimeout(this.#timer);
    this.#controller.abort(reason);
    this.#sink.destroy(reason);
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #shutdown(end: boolean): void {
    if (this.signal.aborted) return;
    this.#clock.clearTimeout(this.#timer);
    this.#controller.abort(new SseClosedError());
    if (end) this.#sink.end();
  }

  // One timer, re-armed for the remaining idle time rather than on every write.
  #arm(ms: number): void {
    if (!Number.isFinite(this.#keepAliveMs) || this.signal.aborted) return;
    this.#timer = this.#clock.setTimeout(() => {
      const idle = this.#clock.now() - this.#lastWrite;
      if (idle >= this.#keepAliveMs) {
        this.writeEncoded(':\n\n').catch(noop);
        this.#arm(this.#keepAliveMs);
      } else this.#arm(this.#keepAliveMs - idle);
    }, ms);
  }
}

const noop = (): void => {};

/**
 * Starts a server-sent event stream: on a Node response (HTTP/1 or HTTP/2 compatibility
 * API) it sends the headers at once (`text/event-stream`, `no-cache`, no proxy
 * buffering); with `{ signal }` it makes a web `Response` (`sse.response`) for Fetch-API
 * servers. Keep-alive comments go out after `keepAliveMs` without a write; the stream
 * closes when the client disconnects (`sse.signal` aborts).
 *
 * @throws {TypeError|RangeError} for a bad option.
 * @example
 * const sse = createSseStream(res);
 * try {
 *   for await (const tick of prices({ signal: sse.signal })) await sse.send({ data: tick });
 * } catch (error) {
 *   if (!sse.closed) throw error; // a client leaving is routine: send() rejects, the loop ends
 * }
 */
export function createSseStream(
  target: NodeResponse | { signal?: AbortSignal },
  options?: SseStreamOptions,
): SseStream {
  return new SseStream(target, options);
}
