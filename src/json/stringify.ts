import { checkFn, checkInt, checkKeys, checkObject, optionKeys } from '../internal/options.js';
import { abortReason, checkSignal, onAbort } from '../internal/signals.js';
import {
  closeQuietly,
  DONE,
  isPending,
  isThenable,
  noop,
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
import { encodeApart, type FastBuffer } from './utf8-write.js';

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

// Rows of one JSON.stringify call in a batch: beyond this, a larger batch saves no time.
const MAX_BATCH = 1024;

// Encodes items into fixed-size pooled buffers. An item's JSON text is written straight
// into the current buffer; a full buffer becomes a chunk (the buffer itself when the
// chunk size equals the buffer size, so no view is allocated). An item that does not fit
// continues in the next buffer: chunks need not end between items.
//
// A JSON array's items are encoded in batches: the items a synchronous source gives in a
// row, about as many as fill the room left in the buffer, go through one JSON.stringify
// of an array of them, whose brackets are left out. That is the same text as encoding
// them one by one (an array writes null for undefined, functions and symbols, as
// `#encode` does), at a fraction of the calls, writes and bookkeeping per item. Two things
// would differ and take an item one at a time instead: a top-level `toJSON` sees the
// item's key, which is '' alone but its position in a batch, and an item that fails to
// encode must be named by its index with its own error (see `#flushBatch`).
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
  #chunksMade = 0; // full buffers pushed, so that bytes written = #chunksMade * #cap + #fill
  #index = 0; // items received (encoded or in the batch)
  readonly #batching: boolean;
  readonly #batch: unknown[] = [];
  #batchStart = 0; // the index of #batch[0]
  #batchLimit = 1;
  #rowBytes = 0; // encoded bytes per item in the last batch; 0 until the first item
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
    this.#batching = fmt === ARRAY;
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
      if (this.#signal?.aborted) {
        // An item received before the abort that cannot be encoded fails first, as it
        // would have had it been encoded on arrival.
        this.#flushBatch();
        throw abortReason(this.#signal);
      }
      if (this.#state === State.Start) {
        this.#state = State.Items;
        if (this.#fmt.open >= 0) this.#byte(this.#fmt.open);
      }
      const r = this.#up.next();
      if (isPending(r) || r instanceof Suspend) {
        const wait = this.#guard(isPending(r) ? r : (settle(r) as Promise<Step<unknown>>));
        this.#flushBefore(wait);
        this.#waitUp.wait = wait;
        return this.#waitUp;
      }
      const w = this.#onStep(r);
      if (w !== undefined) return w;
    }
  }

  // Handles one upstream step; returns a suspension when the transform is asynchronous.
  #onStep(r: Step<unknown>): Suspend<Uint8Array> | undefined {
    if (r.done === true) {
      this.#flushBatch();
      this.#finish();
      return undefined;
    }
    let value = r.value;
    if (this.#transform !== undefined) {
      value = this.#transform(value, this.#index);
      if (isThenable(value)) {
        const wait = this.#guard(value);
        this.#flushBefore(wait);
        this.#waitValue.wait = wait;
        return this.#waitValue;
      }
    }
    this.#item(value);
    return undefined;
  }

  // No batch is held across a wait: an item that cannot be encoded fails the stream as
  // soon as it would alone. The wait is then abandoned, its failure handled.
  #flushBefore(wait: PromiseLike<unknown>): void {
    if (this.#batch.length === 0) return;
    try {
      this.#flushBatch();
    } catch (error) {
      Promise.resolve(wait).then(undefined, noop);
      throw error;
    }
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
    if (!this.#batching || this.#rowBytes === 0) {
      // The first item is encoded alone, which measures how large a batch should be.
      this.#encode(value, this.#index++);
      return;
    }
    if (hasToJSON(value)) {
      this.#flushBatch();
      this.#encode(value, this.#index++);
      return;
    }
    const batch = this.#batch;
    if (batch.length === 0) {
      this.#batchStart = this.#index;
      const room = this.#buf === undefined ? this.#cap : this.#cap - this.#fill;
      this.#batchLimit = Math.min(MAX_BATCH, Math.max(1, Math.floor(room / this.#rowBytes)));
    }
    this.#index++;
    batch.push(value);
    if (batch.length >= this.#batchLimit) this.#flushBatch();
  }

  // Encodes the batch as one array, brackets left out. When that fails, its items are
  // encoded again one at a time: those before the failing one are written as they would
  // have been, and the failing one throws its own error under its own index (the error of
  // the whole array would name a path inside the batch). A getter on the items before it
  // thus runs twice; an item that encodes the second time is simply written.
  #flushBatch(): void {
    const batch = this.#batch;
    const n = batch.length;
    if (n === 0) return;
    const start = this.#batchStart;
    let text: string | undefined;
    // An Array.prototype.toJSON would turn the batch itself into something else.
    if (n > 1 && (batch as { toJSON?: unknown }).toJSON === undefined) {
      try {
        text = JSON.stringify(batch);
      } catch {
        text = undefined;
      }
    }
    if (text === undefined) {
      const items = batch.slice();
      batch.length = 0;
      for (let k = 0; k < n; k++) this.#encode(items[k], start + k);
      return;
    }
    batch.length = 0;
    if (start > 0) this.#byte(COMMA);
    const before = this.#chunksMade * this.#cap + this.#fill;
    this.#text(text.slice(1, -1));
    this.#rowBytes = Math.max(1, (this.#chunksMade * this.#cap + this.#fill - before) / n);
  }

  #encode(value: unknown, index: number): void {
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
    if (this.#rowBytes === 0) this.#rowBytes = Math.max(1, text.length);
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
    try {
      // An item received before the failure that cannot be encoded fails first.
      this.#flushBatch();
    } catch (encodeError) {
      error = encodeError;
    }
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
    // At least one byte per UTF-16 code unit: a longer text cannot fit.
    if (s.length <= room) {
      const n = (buf as FastBuffer).utf8Write(s, this.#fill, room);
      // Only whole characters are written, so with 4 bytes of room left none was left
      // out; and at most 3 bytes per code unit need less room than there is. Otherwise
      // the text is measured (rarely: the text is about as long as the room).
      if (room - n >= 4 || s.length * 3 <= room || Buffer.byteLength(s) === n) {
        this.#fill += n;
        if (this.#fill === this.#cap) this.#push();
        return;
      }
    }
    this.#split(encodeApart(s));
  }

  // A text larger than the room left: its bytes continue in as many buffers as needed.
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
    this.#chunksMade++;
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
    this.#batch.length = 0;
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

// Whether JSON.stringify would call a `toJSON` of the item itself, whose argument is the
// item's key. Looking it up may throw (a revoked proxy): the item then goes alone, and
// JSON.stringify throws the error it would have.
function hasToJSON(value: unknown): boolean {
  if (value == null) return false;
  try {
    return typeof (value as { toJSON?: unknown }).toJSON === 'function';
  } catch {
    return true;
  }
}

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
