import { checkFn, checkInt, checkKeys, checkObject, optionKeys } from '../internal/options.js';
import { abortReason, checkSignal, onAbort } from '../internal/signals.js';
import {
  closeQuietly,
  DONE,
  isPending,
  isThenable,
  type Pull,
  type Pulled,
  type Run,
  type Step,
  Suspend,
  settle,
} from '../stream/pull.js';
import { isSource, openSource, type Source } from '../stream/sources.js';
import { Stream } from '../stream/stream.js';
import { BufferPool } from './buffer-pool.js';
import { JsonEncodeError } from './errors.js';
import { checkMetrics, type JsonStreamMetrics, MeteredPull } from './metered.js';

/** Options of {@link jsonArray} and {@link ndjson}. */
export interface EncodeOptions<T, U = T> {
  /**
   * Maps each item (with its zero-based index) to what is encoded; may return a promise.
   * @default the item itself
   */
  transform?: ((item: T, index: number) => U | PromiseLike<U>) | undefined;
  /**
   * Every chunk but the last is exactly this many bytes. Larger chunks mean fewer writes
   * and fewer TCP segments; smaller ones a lower time to first byte.
   * @default 32768 (32 KiB), or the pool's `bufferBytes` when `bufferPool` is given
   */
  chunkBytes?: number | undefined;
  /**
   * Where chunk buffers come from. A consumer that gives chunks back with
   * `releaseChunk(chunk)` once written (as {@link writeTo} does) makes steady-state
   * streaming allocation-free; a consumer that does not simply leaves them to the GC.
   * @default a shared pool of 32 KiB buffers for the default `chunkBytes`, else a private one
   */
  bufferPool?: BufferPool | undefined;
  /** Aborting it fails the stream with `signal.reason` and closes the source. */
  signal?: AbortSignal | undefined;
  /**
   * Hooks told of each chunk and its bytes, a failure, and the stream's end and duration
   * (see {@link JsonStreamMetrics}). Without it the stream is not measured at all.
   */
  metrics?: JsonStreamMetrics | undefined;
}

/** Options of {@link ndjson}. */
export interface NdjsonOptions<T, U = T> extends EncodeOptions<T, U> {
  /**
   * On a failure mid-stream, write `errorLine(error)` as a last line and end the stream
   * normally instead of failing it. NDJSON clients then see the error in-band; without
   * this option the stream fails, so an HTTP response is destroyed, not ended.
   * @default undefined (the stream fails)
   */
  errorLine?: ((error: unknown) => unknown) | undefined;
}

const ENCODE_KEYS = optionKeys<EncodeOptions<unknown>>({
  transform: 1,
  chunkBytes: 1,
  bufferPool: 1,
  signal: 1,
  metrics: 1,
});
const NDJSON_KEYS = optionKeys<NdjsonOptions<unknown>>({
  transform: 1,
  chunkBytes: 1,
  bufferPool: 1,
  signal: 1,
  errorLine: 1,
  metrics: 1,
});

const DEFAULT_CHUNK = 32 * 1024;
// Enough for a few concurrent responses; buffers beyond it are simply not kept.
const sharedPool = new BufferPool({ bufferBytes: DEFAULT_CHUNK, max: 16 });

// The content type each encoder's stream carries, so that writeTo() can default to it.
const contentTypes = new WeakMap<object, string>();

/** @internal The content type of a stream made by {@link jsonArray} or {@link ndjson}. */
export function contentTypeOf(body: object): string | undefined {
  return contentTypes.get(body);
}

const COMMA = 0x2c;
const NEWLINE = 0x0a;
const OPEN = 0x5b;
const CLOSE = 0x5d;

interface Format {
  open: number; // first byte, or -1
  separator: number; // between items (arrays), or -1
  terminator: number; // after each item (NDJSON), or -1
  close: number; // last byte, or -1
}
const ARRAY: Format = { open: OPEN, separator: COMMA, terminator: -1, close: CLOSE };
const LINES: Format = { open: -1, separator: -1, terminator: NEWLINE, close: -1 };

enum State {
  Start,
  Items,
  Done,
}

// Encodes items into fixed-size pooled buffers. An item's JSON text is written straight
// into the current buffer; a full buffer becomes a chunk (the buffer itself when the
// chunk size equals the buffer size, so no view is allocated). An item that does not fit
// continues in the next buffer: chunks need not end between items.
class EncodePull implements Pull<Uint8Array> {
  readonly #up: Pull<unknown>;
  readonly #fmt: Format;
  readonly #transform: ((item: unknown, index: number) => unknown) | undefined;
  readonly #pool: BufferPool;
  readonly #cap: number;
  readonly #signal: AbortSignal | undefined;
  readonly #errorLine: ((error: unknown) => unknown) | undefined;
  #state = State.Start;
  #buf: Buffer | undefined = undefined;
  #fill = 0;
  #index = 0;
  readonly #ready: Uint8Array[] = [];
  #readyHead = 0;
  readonly #out: IteratorYieldResult<Uint8Array> = { done: false, value: new Uint8Array(0) };
  readonly #waitUp = new Suspend<Uint8Array>((s) => this.#afterPull(s as Step<unknown>));
  readonly #waitValue = new Suspend<Uint8Array>((v) => this.#afterTransform(v));

  constructor(
    up: Pull<unknown>,
    fmt: Format,
    transform: ((item: unknown, index: number) => unknown) | undefined,
    pool: BufferPool,
    cap: number,
    signal: AbortSignal | undefined,
    errorLine: ((error: unknown) => unknown) | undefined,
  ) {
    this.#up = up;
    this.#fmt = fmt;
    this.#transform = transform;
    this.#pool = pool;
    this.#cap = cap;
    this.#signal = signal;
    this.#errorLine = errorLine;
  }

  next(): Pulled<Uint8Array> {
    try {
      return this.#pump();
    } catch (error) {
      return this.#fail(error, false);
    }
  }

  // Pulls and encodes until a chunk is ready, the end, or a wait.
  #pump(): Pulled<Uint8Array> {
    for (;;) {
      if (this.#readyHead < this.#ready.length) return this.#emit();
      if (this.#state === State.Done) return DONE;
      if (this.#signal?.aborted) throw abortReason(this.#signal);
      if (this.#state === State.Start) {
        this.#state = State.Items;
        if (this.#fmt.open >= 0) this.#byte(this.#fmt.open);
      }
      const r = this.#up.next();
      if (isPending(r) || r instanceof Suspend) {
        this.#waitUp.wait = this.#guard(isPending(r) ? r : (settle(r) as Promise<Step<unknown>>));
        return this.#waitUp;
      }
      const w = this.#onStep(r);
      if (w !== undefined) return w;
    }
  }

  // Handles one upstream step; returns a suspension when the transform is asynchronous.
  #onStep(r: Step<unknown>): Suspend<Uint8Array> | undefined {
    if (r.done === true) {
      this.#finish();
      return undefined;
    }
    let value = r.value;
    if (this.#transform !== undefined) {
      value = this.#transform(value, this.#index);
      if (isThenable(value)) {
        this.#waitValue.wait = this.#guard(value);
        return this.#waitValue;
      }
    }
    this.#item(value);
    return undefined;
  }

  #afterPull(s: Step<unknown>): Pulled<Uint8Array> {
    try {
      if (s === FAILED) return this.#fail(this.#failure, true);
      const w = this.#onStep(s);
      return w ?? this.#pump();
    } catch (error) {
      return this.#fail(error, false);
    }
  }

  #afterTransform(v: unknown): Pulled<Uint8Array> {
    try {
      if (v === FAILED) return this.#fail(this.#failure, false);
      this.#item(v);
      return this.#pump();
    } catch (error) {
      return this.#fail(error, false);
    }
  }

  #failure: unknown = undefined;

  // Only when needed (a signal, or errorLine that must see upstream failures) is a
  // pending promise wrapped; otherwise the terminal awaits the source's own promise.
  #guard(p: PromiseLike<unknown>): PromiseLike<unknown> {
    if (this.#signal === undefined && this.#errorLine === undefined) return p;
    const signal = this.#signal;
    return new Promise((resolve) => {
      const dispose = onAbort(signal, (reason) => {
        this.#failure = reason;
        resolve(FAILED);
      });
      p.then(
        (v) => {
          dispose();
          resolve(v);
        },
        (error: unknown) => {
          dispose();
          this.#failure = error;
          resolve(FAILED);
        },
      );
    });
  }

  #item(value: unknown): void {
    const index = this.#index++;
    let text: string | undefined;
    try {
      text = JSON.stringify(value);
    } catch (error) {
      throw new JsonEncodeError(index, error);
    }
    // JSON.stringify gives undefined for undefined, functions and symbols; inside an
    // array it writes null for them, and so do we.
    if (text === undefined) text = 'null';
    if (index > 0 && this.#fmt.separator >= 0) this.#byte(this.#fmt.separator);
    this.#text(text);
    if (this.#fmt.terminator >= 0) this.#byte(this.#fmt.terminator);
  }

  #finish(): void {
    this.#state = State.Done;
    if (this.#fmt.close >= 0) this.#byte(this.#fmt.close);
    this.#flushPartial();
  }

  // On a failure: NDJSON with errorLine ends with an error line; otherwise the unsent
  // buffer is dropped (a partial body never gets its closing bracket), the source is
  // closed unless it is the one that failed, and the error goes downstream.
  #fail(error: unknown, fromUpstream: boolean): Pulled<Uint8Array> {
    if (this.#state === State.Done) throw error;
    this.#state = State.Done;
    const close = fromUpstream ? undefined : closeQuietly(this.#up);
    if (this.#errorLine !== undefined) {
      let text: string | undefined;
      try {
        text = JSON.stringify(this.#errorLine(error)) ?? 'null';
      } catch {
        text = undefined;
      }
      if (text !== undefined) {
        this.#text(text);
        this.#byte(NEWLINE);
        this.#flushPartial();
        if (close !== undefined) return Promise.resolve(close).then(() => settle(this.#pump()));
        return this.#pump();
      }
    }
    this.#drop();
    if (close !== undefined) {
      return Promise.resolve(close).then(() => {
        throw error;
      });
    }
    throw error;
  }

  #emit(): Step<Uint8Array> {
    const chunk = this.#ready[this.#readyHead++]!;
    if (this.#readyHead === this.#ready.length) {
      this.#ready.length = 0;
      this.#readyHead = 0;
    }
    this.#out.value = chunk;
    return this.#out;
  }

  #byte(b: number): void {
    const buf = this.#buf ?? this.#take();
    buf[this.#fill++] = b;
    if (this.#fill === this.#cap) this.#push();
  }

  #text(s: string): void {
    const buf = this.#buf ?? this.#take();
    const room = this.#cap - this.#fill;
    // At most 3 UTF-8 bytes per UTF-16 code unit: no need to measure first.
    if (s.length * 3 <= room) {
      this.#fill += (buf as FastBuffer).utf8Write(s, this.#fill, room);
    } else {
      const len = Buffer.byteLength(s);
      if (len <= room) {
        this.#fill += (buf as FastBuffer).utf8Write(s, this.#fill, room);
      } else {
        this.#split(Buffer.from(s, 'utf8'));
        return;
      }
    }
    if (this.#fill === this.#cap) this.#push();
  }

  // An item larger than the room left: its bytes continue in as many buffers as needed.
  #split(bytes: Buffer): void {
    let off = 0;
    while (off < bytes.length) {
      const buf = this.#buf ?? this.#take();
      const n = Math.min(this.#cap - this.#fill, bytes.length - off);
      bytes.copy(buf, this.#fill, off, off + n);
      this.#fill += n;
      off += n;
      if (this.#fill === this.#cap) this.#push();
    }
  }

  #take(): Buffer {
    const buf = this.#pool.get();
    this.#buf = buf;
    this.#fill = 0;
    return buf;
  }

  #push(): void {
    const buf = this.#buf!;
    this.#ready.push(this.#cap === buf.length ? buf : buf.subarray(0, this.#cap));
    this.#buf = undefined;
    this.#fill = 0;
  }

  #flushPartial(): void {
    const buf = this.#buf;
    if (buf === undefined) return;
    if (this.#fill > 0) this.#ready.push(buf.subarray(0, this.#fill));
    else this.#pool.put(buf);
    this.#buf = undefined;
    this.#fill = 0;
  }

  // Nothing read the current buffer yet, so it may go straight back to the pool.
  #drop(): void {
    if (this.#buf !== undefined) this.#pool.put(this.#buf);
    this.#buf = undefined;
    this.#fill = 0;
    this.#ready.length = 0;
    this.#readyHead = 0;
  }

  return(): void | Promise<void> {
    if (this.#state !== State.Done) {
      this.#state = State.Done;
      this.#drop();
    }
    return this.#up.return();
  }
}

const FAILED: Step<unknown> = Object.freeze({ done: true, value: Symbol('failed') });

// Node's UTF-8 writer behind `Buffer#write`, without its argument juggling: a measurable
// share of the per-item cost. It has been on Buffer.prototype since Node 0.x.
type FastBuffer = Buffer & { utf8Write(s: string, offset: number, length: number): number };

function encoder<T, U>(
  source: Source<T>,
  options: NdjsonOptions<T, U> | undefined,
  fmt: Format,
  contentType: string,
  errorLine: ((error: unknown) => unknown) | undefined,
): Stream<Uint8Array> {
  const transform = checkFn<(item: unknown, index: number) => unknown>(
    'transform',
    options?.transform,
    false,
  );
  const signal = checkSignal(options?.signal);
  const metrics = checkMetrics(options?.metrics);
  const given = options?.bufferPool;
  if (given !== undefined && !(given instanceof BufferPool)) {
    throw new TypeError('Expected `bufferPool` to be a BufferPool');
  }
  const chunkBytes = checkInt(
    'chunkBytes',
    options?.chunkBytes ?? given?.bufferBytes ?? DEFAULT_CHUNK,
    1,
  );
  if (given !== undefined && given.bufferBytes < chunkBytes) {
    throw new RangeError(
      `Expected \`chunkBytes\` (${chunkBytes}) to be <= the pool's bufferBytes (${given.bufferBytes})`,
    );
  }
  const pool =
    given ??
    (chunkBytes === DEFAULT_CHUNK ? sharedPool : new BufferPool({ bufferBytes: chunkBytes }));
  // Checked now, so a wrong source fails at the call (with stream()'s TypeError naming
  // what it got), not at the first pull.
  if (!isSource(source)) openSource(source, undefined as never);
  const body = new Stream<Uint8Array>((run: Run) => {
    const pull = new EncodePull(
      openSource<unknown>(source, run),
      fmt,
      transform,
      pool,
      chunkBytes,
      signal,
      errorLine,
    );
    return metrics === undefined ? pull : new MeteredPull(pull, metrics);
  });
  contentTypes.set(body, contentType);
  return body;
}

/**
 * Encodes a source of items as one JSON array, `[`, the items separated by commas, `]`,
 * as a lazy stream of byte chunks: every chunk but the last is exactly `chunkBytes`, and
 * only about one chunk is in memory at a time. The source is anything `stream()` reads
 * (an array, an async generator, a database cursor, a channel, a Node or web stream).
 *
 * A failure mid-way (from the source, `transform`, or encoding) fails the stream before
 * the closing `]`, so the bytes sent so far never parse as a complete array; pass the
 * stream to {@link writeTo} and the response is destroyed rather than ended.
 *
 * @throws {TypeError|RangeError} at once for a bad source or option. The stream fails
 * with `ERR_JSON_ENCODE` (naming the item's index) for an item JSON cannot encode (a
 * `BigInt`, a cycle), and with the source's or `transform`'s own error.
 * @example
 * await writeTo(res, jsonArray(db.cursor('SELECT * FROM orders'), { transform: toDto }));
 */
export function jsonArray<T, U = T>(
  source: Source<T>,
  options?: EncodeOptions<T, U>,
): Stream<Uint8Array> {
  checkObject('options', options);
  checkKeys('jsonArray', options, ENCODE_KEYS);
  return encoder(source, options, ARRAY, 'application/json; charset=utf-8', undefined);
}

/**
 * Encodes a source of items as newline-delimited JSON (one item per line, each line ending
 * in `\n`), in chunks exactly like {@link jsonArray}.
 *
 * A truncated NDJSON body still parses (as fewer items), so a failure mid-way fails the
 * stream and {@link writeTo} destroys the response; or, with `errorLine`, the failure is
 * written as a last line and the stream ends normally.
 *
 * @throws {TypeError|RangeError} at once for a bad source or option; the stream fails with
 * `ERR_JSON_ENCODE` for an item JSON cannot encode.
 * @example
 * await writeTo(res, ndjson(events, { errorLine: (e) => ({ error: String(e) }) }));
 */
export function ndjson<T, U = T>(
  source: Source<T>,
  options?: NdjsonOptions<T, U>,
): Stream<Uint8Array> {
  checkObject('options', options);
  checkKeys('ndjson', options, NDJSON_KEYS);
  const errorLine = checkFn<(error: unknown) => unknown>('errorLine', options?.errorLine, false);
  return encoder(source, options, LINES, 'application/x-ndjson; charset=utf-8', errorLine);
}
