import type { Clock, TimerHandle } from '../internal/clock.js';
import { HttpError } from './errors.js';
import { type LegacyHandler, parseRawHeaders } from './handler.js';

/** Bytes a response body buffers before it stops reading from the connection. */
const HIGH_WATER_MARK = 64 * 1024;
/** An unread body at most this large is drained on dispose; a larger one is aborted. */
const DRAIN_LIMIT = 256 * 1024;

/**
 * A response body: an async iterable of byte chunks with backpressure (the connection is
 * read only as fast as the body is), plus `text()`, `json()`, `arrayBuffer()` and
 * `bytes()`. Read it, or `dump()` it: a body that fills its buffer and is not read for
 * `unreadBodyTimeoutMs` is discarded so that it cannot pin its connection. A body that fits
 * the buffer frees its connection as soon as it has arrived, read or not.
 * @example
 * const res = await http.request('https://example.com/items');
 * for await (const chunk of res.body) process(chunk);
 */
export class ResponseBody implements AsyncIterable<Uint8Array> {
  #chunks: Buffer[] = [];
  #buffered = 0;
  #ended = false;
  #error: unknown = undefined;
  #used = false;
  #paused = false;
  #wake: (() => void) | null = null;
  #resume: (() => void) | null = null;
  #abort: ((reason: unknown) => void) | null = null;
  #timer: TimerHandle = undefined;
  readonly #clock: Clock;
  readonly #unreadMs: number;
  readonly #origin: string;

  /** @internal */
  constructor(clock: Clock, unreadMs: number, origin: string) {
    this.#clock = clock;
    this.#unreadMs = unreadMs;
    this.#origin = origin;
  }

  /** True once reading started (iteration, `text()`…) or the body was dumped. */
  get bodyUsed(): boolean {
    return this.#used;
  }

  /** @internal Wires the body to its request. */
  attach(resume: () => void, abort: ((reason: unknown) => void) | null): void {
    this.#resume = resume;
    this.#abort = abort;
  }

  /** @internal A chunk arrived; returns false to pause the connection. */
  push(chunk: Buffer): boolean {
    if (this.#error !== undefined) return true;
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    this.#wake?.();
    if (this.#buffered < HIGH_WATER_MARK) return true;
    this.#paused = true;
    // From here on an unread body holds its connection: give the reader a deadline.
    if (!this.#used && this.#timer === undefined) this.#armUnreadTimer();
    return false;
  }

  /** @internal The body ended. */
  end(): void {
    this.#ended = true;
    this.#clearTimer();
    this.#wake?.();
  }

  /** @internal The request failed after the headers arrived. */
  fail(error: unknown): void {
    if (this.#ended || this.#error !== undefined) return;
    this.#error = error;
    this.#clearTimer();
    this.#wake?.();
  }

  #armUnreadTimer(): void {
    if (!Number.isFinite(this.#unreadMs)) return;
    this.#timer = this.#clock.setTimeout(
      () => {
        this.#timer = undefined;
        if (this.#used || this.#ended) return;
        this.#discard(
          new HttpError(
            'ERR_HTTP_UNREAD_BODY',
            this.#origin,
            `A response body from ${this.#origin} was not read within ${this.#unreadMs} ms (unreadBodyTimeoutMs) and was discarded`,
          ),
        );
      },
      this.#unreadMs,
      true,
    );
  }

  #clearTimer(): void {
    if (this.#timer === undefined) return;
    this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #discard(reason: unknown): void {
    this.#chunks = [];
    this.#buffered = 0;
    if (this.#ended || this.#error !== undefined) return;
    this.#error = reason;
    this.#abort?.(reason);
    this.#wake?.();
  }

  #take(): Buffer | undefined {
    const chunk = this.#chunks.shift();
    if (chunk === undefined) return undefined;
    this.#buffered -= chunk.length;
    if (this.#paused && this.#buffered < HIGH_WATER_MARK) {
      this.#paused = false;
      this.#resume?.();
    }
    return chunk;
  }

  #startReading(): void {
    if (this.#used) throw new TypeError('The response body was already read');
    this.#used = true;
    this.#clearTimer();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    this.#startReading();
    let finished = false;
    try {
      for (;;) {
        const chunk = this.#take();
        if (chunk !== undefined) {
          yield chunk;
          continue;
        }
        if (this.#error !== undefined) throw this.#error;
        if (this.#ended) {
          finished = true;
          return;
        }
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
        });
        this.#wake = null;
      }
    } finally {
      // Stopped early (break, throw): the rest is not wanted; free the connection.
      if (!finished)
        this.#discard(new DOMException('The response body was abandoned', 'AbortError'));
    }
  }

  /** The whole body as bytes. @throws the request's error, e.g. `ERR_HTTP_BODY_TIMEOUT`. */
  async bytes(): Promise<Uint8Array> {
    if (this.#ended && !this.#used) {
      this.#used = true;
      const out = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks);
      this.#chunks = [];
      this.#buffered = 0;
      return out;
    }
    const parts: Uint8Array[] = [];
    for await (const chunk of this) parts.push(chunk);
    return Buffer.concat(parts);
  }

  /** The whole body decoded as UTF-8. */
  async text(): Promise<string> {
    const bytes = await this.bytes();
    // bytes() hands back a chunk or a concatenation, both Buffers: decode without a new view.
    return bytes instanceof Buffer
      ? bytes.toString('utf8')
      : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  }

  /** The whole body parsed as JSON. @throws {SyntaxError} for a body that is not JSON. */
  async json<T = unknown>(): Promise<T> {
    return JSON.parse(await this.text()) as T;
  }

  /** The whole body as an `ArrayBuffer`. */
  async arrayBuffer(): Promise<ArrayBuffer> {
    const b = await this.bytes();
    return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
  }

  /**
   * Discards the body without reading it: a small rest is drained so the connection stays
   * reusable, a large one is aborted (an HTTP/1.1 connection then closes). Idempotent.
   */
  async dump(): Promise<void> {
    if (this.#used) {
      if (!this.#ended)
        this.#discard(new DOMException('The response body was dumped', 'AbortError'));
      return;
    }
    this.#used = true;
    this.#clearTimer();
    let drained = 0;
    while (!this.#ended && this.#error === undefined && drained <= DRAIN_LIMIT) {
      const chunk = this.#take();
      if (chunk !== undefined) {
        drained += chunk.length;
        continue;
      }
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
      this.#wake = null;
    }
    if (!this.#ended) this.#discard(new DOMException('The response body was dumped', 'AbortError'));
    this.#chunks = [];
    this.#buffered = 0;
  }
}

/** A response from {@link HttpPool.request}. */
export interface HttpResponse {
  /** HTTP status code. */
  readonly status: number;
  /** Reason phrase (HTTP/1.1 only; empty for HTTP/2). */
  readonly statusText: string;
  /** Response headers, names in lower case; repeated headers become arrays. Parsed when first read. */
  readonly headers: Record<string, string | string[]>;
  /** The body; read it or `dump()` it. */
  readonly body: ResponseBody;
  /** Same as `body.dump()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * The response object: a class rather than a literal, so that every response shares one
 * shape and one `asyncDispose`, and the headers are parsed from undici's raw list only
 * when read (many callers look at the status and the body only).
 */
class PooledResponse implements HttpResponse {
  readonly status: number;
  readonly statusText: string;
  readonly body: ResponseBody;
  #raw: Buffer[] | null;
  #headers: Record<string, string | string[]> | null = null;

  constructor(status: number, statusText: string, raw: Buffer[], body: ResponseBody) {
    this.status = status;
    this.statusText = statusText;
    this.body = body;
    this.#raw = raw;
  }

  get headers(): Record<string, string | string[]> {
    if (this.#headers === null) {
      this.#headers = parseRawHeaders(this.#raw);
      this.#raw = null;
    }
    return this.#headers;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.body.dump();
  }
}

/** @internal The handler behind {@link HttpPool.request}: resolves at the headers, streams the body. */
export class ResponseReader implements LegacyHandler {
  readonly promise: Promise<HttpResponse>;
  #resolve!: (r: HttpResponse) => void;
  #reject!: (e: unknown) => void;
  #body: ResponseBody | null = null;
  #abort: ((reason?: unknown) => void) | null = null;
  #aborted = false;
  #abortReason: unknown = undefined;
  readonly #clock: Clock;
  readonly #unreadMs: number;
  readonly #origin: string;
  readonly #onDone: (() => void) | undefined;

  constructor(clock: Clock, unreadMs: number, origin: string, onDone?: () => void) {
    this.#clock = clock;
    this.#unreadMs = unreadMs;
    this.#origin = origin;
    this.#onDone = onDone;
    this.promise = new Promise<HttpResponse>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
  }

  /** Aborts the request in whatever phase it is. */
  abort(reason: unknown): void {
    if (this.#abort !== null) {
      this.#abort(reason);
      return;
    }
    // Not started yet (an interceptor is still deciding, e.g. a DNS lookup or a retry's
    // back-off): fail now, and abort the request as soon as it starts.
    if (this.#aborted) return;
    this.#aborted = true;
    this.#abortReason = reason;
    this.#reject(reason);
    this.#onDone?.();
  }

  onConnect(abort: (reason?: unknown) => void): void {
    this.#abort = abort;
    if (this.#aborted) abort(this.#abortReason);
  }

  onHeaders(status: number, raw: Buffer[], resume: () => void, statusText: string): boolean {
    // 1xx informational responses precede the real one.
    if (status < 200) return true;
    const body = new ResponseBody(this.#clock, this.#unreadMs, this.#origin);
    // The request's own abort (given in onConnect, before any headers): no closure of ours.
    body.attach(resume, this.#abort);
    this.#body = body;
    this.#resolve(new PooledResponse(status, statusText ?? '', raw, body));
    return true;
  }

  onData(chunk: Buffer): boolean {
    return this.#body?.push(chunk) ?? true;
  }

  onComplete(): void {
    this.#body?.end();
    this.#onDone?.();
  }

  onError(error: Error): void {
    if (this.#body === null) this.#reject(error);
    else this.#body.fail(error);
    this.#onDone?.();
  }
}
