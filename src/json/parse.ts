import { describe } from '../internal/errors.js';
import { checkInt, checkKeys, checkObject, optionKeys } from '../internal/options.js';
import { abortReason, checkSignal } from '../internal/signals.js';
import {
  closeQuietly,
  DONE,
  isPending,
  type Pull,
  type Pulled,
  type Run,
  type Step,
  Suspend,
  settle,
} from '../stream/pull.js';
import { isSource, openSource, type Source } from '../stream/sources.js';
import { Stream } from '../stream/stream.js';
import { JsonItemTooLargeError, JsonParseError } from './errors.js';
import { findUtf8Fault, Utf8Gate } from './utf8.js';

/** Options of {@link parseJsonArray} and {@link parseNdjson}. */
export interface ParseOptions {
  /**
   * Largest item (an array element, or an NDJSON line) in bytes of its JSON text. A larger
   * one fails the stream with `ERR_JSON_ITEM_TOO_LARGE` before more of it is buffered.
   * @default 1048576 (1 MiB)
   */
  maxItemBytes?: number | undefined;
  /**
   * What to do with bytes that are not UTF-8 (RFC 8259 requires it): `'error'` fails the
   * stream with `ERR_JSON_PARSE` at the byte offset of the first ill-formed sequence
   * (overlong forms, surrogates, truncated sequences included); `'replace'` reads each as
   * U+FFFD, as `TextDecoder` does.
   * @default 'error'
   */
  invalidUtf8?: 'error' | 'replace' | undefined;
  /** Aborting it fails the stream with `signal.reason` and closes the source. */
  signal?: AbortSignal | undefined;
}

const PARSE_KEYS = optionKeys<ParseOptions>({ maxItemBytes: 1, invalidUtf8: 1, signal: 1 });

enum S {
  Start, // before `[`
  First, // after `[`: an item or `]`
  Value, // after `,`: an item
  Next, // after an item: `,` or `]`
  Item, // inside an item
  End, // after `]`: whitespace only
}

enum K {
  Container,
  Str,
  Scalar,
}

const BOM = [0xef, 0xbb, 0xbf];

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
}

// Bytes in, items out: each chunk is scanned once and its complete items queued, so a
// chunk costs one upstream pull and its items are then handed out synchronously.
abstract class ParsePull<T> implements Pull<T> {
  readonly #up: Pull<unknown>;
  readonly #signal: AbortSignal | undefined;
  protected readonly max: number;
  protected readonly strict: boolean; // invalidUtf8: 'error'
  // Native validation of each chunk; while it passes, items are not looked at again.
  readonly #gate: Utf8Gate | undefined;
  protected readonly queue: unknown[] = [];
  #head = 0;
  #ended = false;
  /** Bytes of the body before the current chunk. */
  protected base = 0;
  // Bytes of an item that began in an earlier chunk.
  protected carry: Buffer = Buffer.alloc(0);
  protected carryLen = 0;
  readonly #out: IteratorYieldResult<T> = { done: false, value: undefined as T };
  readonly #wait = new Suspend<T>((s) => this.#resume(s as Step<unknown>));

  constructor(up: Pull<unknown>, settings: Settings) {
    this.#up = up;
    this.max = settings.max;
    this.strict = settings.strict;
    this.#gate = settings.strict ? new Utf8Gate() : undefined;
    this.#signal = settings.signal;
  }

  next(): Pulled<T> {
    for (;;) {
      if (this.#head < this.queue.length) {
        this.#out.value = this.queue[this.#head++] as T;
        if (this.#head === this.queue.length) {
          this.queue.length = 0;
          this.#head = 0;
        }
        return this.#out;
      }
      if (this.#ended) return DONE;
      if (this.#signal?.aborted) return this.#fail(abortReason(this.#signal));
      const r = this.#up.next();
      if (isPending(r) || r instanceof Suspend) {
        this.#wait.wait = isPending(r) ? r : (settle(r) as Promise<Step<unknown>>);
        return this.#wait;
      }
      const failed = this.#take(r);
      if (failed !== undefined) return failed;
    }
  }

  #resume(s: Step<unknown>): Pulled<T> {
    const failed = this.#take(s);
    return failed ?? this.next();
  }

  #take(r: Step<unknown>): Pulled<T> | undefined {
    try {
      if (r.done === true) {
        this.#ended = true;
        this.#gate?.end();
        this.end();
        return undefined;
      }
      const v = r.value;
      let chunk: Buffer;
      if (typeof v === 'string') chunk = Buffer.from(v, 'utf8');
      else if (v instanceof Uint8Array) chunk = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
      else throw new TypeError(`Expected the body to yield Uint8Array or string chunks`);
      this.#gate?.feed(chunk);
      this.scan(chunk);
      this.base += chunk.length;
      return undefined;
    } catch (error) {
      return this.#fail(error);
    }
  }

  #fail(error: unknown): Pulled<T> {
    this.#ended = true;
    this.queue.length = 0;
    this.#head = 0;
    const c = closeQuietly(this.#up);
    if (c !== undefined) {
      return c.then(() => {
        throw error;
      });
    }
    throw error;
  }

  /** Scans one chunk, queueing the items it completes. */
  protected abstract scan(chunk: Buffer): void;
  /** The body ended: checks that it ended where it may. */
  protected abstract end(): void;

  /** Appends `chunk[from, to)` to the carried bytes of the current item. */
  protected keep(chunk: Buffer, from: number, to: number, itemStart: number): void {
    const n = to - from;
    if (this.carryLen + n > this.max) throw new JsonItemTooLargeError(itemStart, this.max);
    if (this.carryLen + n > this.carry.length) {
      const grown = Buffer.allocUnsafe(Math.min(this.max, Math.max(256, (this.carryLen + n) * 2)));
      this.carry.copy(grown, 0, 0, this.carryLen);
      this.carry = grown;
    }
    chunk.copy(this.carry, this.carryLen, from, to);
    this.carryLen += n;
  }

  /** Parses the item made of the carried bytes and `chunk[from, to)`. */
  protected emit(chunk: Buffer, from: number, to: number, itemStart: number): void {
    let text: string;
    // The item is decoded once, leniently. Only once the body has failed the chunk check
    // is its text searched for a U+FFFD, and then its bytes walked, to tell a real U+FFFD
    // from an ill-formed sequence and find where that starts.
    const suspect = this.#gate !== undefined && !this.#gate.ok;
    if (this.carryLen === 0) {
      if (to - from > this.max) throw new JsonItemTooLargeError(itemStart, this.max);
      text = chunk.toString('utf8', from, to);
      if (suspect && text.indexOf('\ufffd') !== -1) {
        this.checkUtf8(chunk, from, to, itemStart, false);
      }
    } else {
      this.keep(chunk, from, to, itemStart);
      text = this.carry.toString('utf8', 0, this.carryLen);
      if (suspect && text.indexOf('\ufffd') !== -1) {
        this.checkUtf8(this.carry, 0, this.carryLen, itemStart, false);
      }
      this.carryLen = 0;
    }
    this.parseItem(text, itemStart);
  }

  /**
   * Fails at the first ill-formed UTF-8 sequence of `bytes[from, to)`, which start at body
   * offset `start` (with `cutOk`, one cut off by `to` is left to the caller).
   */
  protected checkUtf8(
    bytes: Uint8Array,
    from: number,
    to: number,
    start: number,
    cutOk: boolean,
  ): void {
    const fault = findUtf8Fault(bytes, from, to, cutOk);
    if (fault === undefined) return;
    // The bad byte and the continuation bytes after it: the sequence as it was meant.
    let last = fault.at + 1;
    while (last < to && last < fault.at + 4 && (bytes[last]! & 0xc0) === 0x80) last++;
    const shown = Array.from(
      bytes.subarray(fault.at, last),
      (b) => `0x${b.toString(16).padStart(2, '0')}`,
    ).join(' ');
    throw new JsonParseError(
      `Invalid UTF-8${this.where()} (${fault.reason}: ${shown}; \`invalidUtf8: 'replace'\` reads such bytes as U+FFFD)`,
      start + fault.at - from,
    );
  }

  /** Where in the body the current item is, for messages. */
  protected where(): string {
    return '';
  }

  protected parseItem(text: string, itemStart: number): void {
    try {
      this.queue.push(JSON.parse(text));
    } catch (error) {
      throw new JsonParseError(
        `Invalid JSON (${(error as Error).message}) in the item starting`,
        itemStart,
        { cause: error },
      );
    }
  }

  return(): void | Promise<void> {
    this.#ended = true;
    this.queue.length = 0;
    this.#head = 0;
    return this.#up.return();
  }
}

class ArrayParsePull<T> extends ParsePull<T> {
  #state = S.Start;
  #kind = K.Container;
  #depth = 0;
  #inString = false;
  #escape = false;
  #itemStart = 0; // body offset of the current item
  #bom = 0; // BOM bytes seen at the start

  protected scan(buf: Buffer): void {
    const len = buf.length;
    let i = 0;
    // A UTF-8 byte order mark may open the body (RFC 8259 lets parsers ignore it), split
    // across chunks like anything else.
    while (this.#bom < 3 && i < len && this.base + i === this.#bom && buf[i] === BOM[this.#bom]) {
      this.#bom++;
      i++;
    }
    if (this.#bom > 0 && this.#bom < 3 && i < len) {
      // Part of a BOM and then something else: not a BOM, so not a JSON array either.
      throw new JsonParseError('Expected `[` to open the JSON array', 0);
    }
    // Where the current item starts in this chunk (0 when it began in an earlier one).
    let from = 0;
    this.#bs = -2;
    while (i < len) {
      const state = this.#state;
      if (state === S.Item) {
        const end = this.#scanItem(buf, i, from);
        if (end < 0) {
          // The item goes on in the next chunk.
          this.keep(buf, from, len, this.#itemStart);
          return;
        }
        this.emit(buf, from, end, this.#itemStart);
        this.#state = S.Next;
        i = end;
        continue;
      }
      const b = buf[i]!;
      if (isSpace(b)) {
        i++;
        continue;
      }
      const at = this.base + i;
      switch (state) {
        case S.Start:
          if (b !== 0x5b) throw new JsonParseError('Expected `[` to open the JSON array', at);
          this.#state = S.First;
          i++;
          break;
        case S.First:
        case S.Value:
          if (b === 0x5d && state === S.First) {
            this.#state = S.End;
            i++;
            break;
          }
          if (b === 0x5d) throw new JsonParseError('Expected an item after `,`', at);
          this.#begin(b, at);
          from = i;
          break;
        case S.Next:
          if (b === 0x2c) this.#state = S.Value;
          else if (b === 0x5d) this.#state = S.End;
          else throw new JsonParseError('Expected `,` or `]` after an item', at);
          i++;
          break;
        default:
          throw new JsonParseError('Unexpected data after the end of the JSON array', at);
      }
    }
    if (this.#state === S.Item) this.keep(buf, from, len, this.#itemStart);
  }

  #begin(b: number, at: number): void {
    this.#itemStart = at;
    this.#state = S.Item;
    this.#depth = 0;
    this.#inString = false;
    this.#escape = false;
    if (b === 0x7b || b === 0x5b) this.#kind = K.Container;
    else if (b === 0x22) this.#kind = K.Str;
    else if (b === 0x2d || (b >= 0x30 && b <= 0x39) || b === 0x74 || b === 0x66 || b === 0x6e) {
      this.#kind = K.Scalar;
    } else {
      throw new JsonParseError(`Unexpected byte 0x${b.toString(16).padStart(2, '0')}`, at);
    }
  }

  // Position of the next backslash in the current chunk at or after the scan position
  // (-1: none; -2: not looked for yet), so that string scanning stays linear in the chunk.
  #bs = -2;

  // Scans the current item from `i`; returns the index just past its end, or -1 when the
  // chunk ends first. The item's text is validated by JSON.parse afterwards; this only
  // has to find where it ends, which needs strings and nesting and nothing more.
  #scanItem(buf: Buffer, i: number, from: number): number {
    const len = buf.length;
    if (this.#kind === K.Scalar) {
      for (; i < len; i++) {
        const b = buf[i]!;
        if (b === 0x2c || b === 0x5d || isSpace(b)) return i;
        if (i - from + this.carryLen > this.max) {
          throw new JsonItemTooLargeError(this.#itemStart, this.max);
        }
      }
      return -1;
    }
    let bs = this.#bs;
    let depth = this.#depth;
    let inString = this.#inString;
    if (this.#kind === K.Str && i === from && this.carryLen === 0) {
      // The opening quote.
      inString = true;
      i++;
    }
    if (this.#escape) {
      this.#escape = false;
      i++;
    }
    while (i < len) {
      if (inString) {
        const q = buf.indexOf(0x22, i);
        if (bs !== -1 && bs < i) bs = buf.indexOf(0x5c, i);
        if (q === -1) {
          // No closing quote here; an escape as the chunk's last byte escapes the next
          // chunk's first.
          if (bs !== -1) {
            let j = bs;
            while (j < len) {
              if (buf[j] === 0x5c) {
                if (j + 1 >= len) {
                  this.#escape = true;
                  break;
                }
                j += 2;
              } else j++;
            }
          }
          i = len;
          break;
        }
        if (bs !== -1 && bs < q) {
          // Skip the escaped byte and look again.
          i = bs + 2;
          if (i > len) {
            this.#escape = true;
            i = len;
            break;
          }
          continue;
        }
        inString = false;
        i = q + 1;
        if (this.#kind === K.Str) {
          this.#bs = bs;
          return i;
        }
        continue;
      }
      const b = buf[i]!;
      if (b === 0x22) inString = true;
      else if (b === 0x7b || b === 0x5b) depth++;
      else if (b === 0x7d || b === 0x5d) {
        depth--;
        if (depth === 0) {
          this.#depth = 0;
          this.#inString = false;
          this.#bs = bs;
          return i + 1;
        }
      }
      i++;
    }
    this.#depth = depth;
    this.#inString = inString;
    this.#bs = bs;
    if (len - from + this.carryLen > this.max) {
      throw new JsonItemTooLargeError(this.#itemStart, this.max);
    }
    return -1;
  }

  protected end(): void {
    if (this.#state === S.End) return;
    // Bad bytes earlier in the unfinished item come first; a character that the end cut in
    // two is the end's fault, reported as such below.
    if (this.strict && this.#state === S.Item) {
      this.checkUtf8(this.carry, 0, this.carryLen, this.#itemStart, true);
    }
    throw new JsonParseError(
      this.#state === S.Start
        ? 'Unexpected end of the body before the JSON array'
        : 'Unexpected end of the body inside the JSON array (no closing `]`)',
      this.base,
    );
  }
}

class NdjsonParsePull<T> extends ParsePull<T> {
  #lineStart = 0; // body offset of the current line
  #line = 1;

  protected override where(): string {
    return ` on line ${this.#line}`;
  }

  protected scan(buf: Buffer): void {
    const len = buf.length;
    let i = 0;
    while (i < len) {
      const nl = buf.indexOf(0x0a, i);
      if (nl === -1) {
        this.keep(buf, i, len, this.#lineStart);
        return;
      }
      let end = nl;
      if (end > i && buf[end - 1] === 0x0d) end--;
      else if (end === i && this.carryLen > 0 && this.carry[this.carryLen - 1] === 0x0d) {
        this.carryLen--;
      }
      this.#lineOf(buf, i, end);
      i = nl + 1;
      this.#lineStart = this.base + i;
      this.#line++;
    }
  }

  #lineOf(buf: Buffer, from: number, to: number): void {
    if (from === to && this.carryLen === 0) return;
    this.emit(buf, from, to, this.#lineStart);
  }

  protected override parseItem(text: string, itemStart: number): void {
    try {
      this.queue.push(JSON.parse(text));
    } catch (error) {
      // Blank lines (spaces, a lone `\r`) are allowed between records.
      if (text.trim() === '') return;
      throw new JsonParseError(
        `Invalid JSON (${(error as Error).message}) on line ${this.#line}, starting`,
        itemStart,
        { cause: error },
      );
    }
  }

  protected end(): void {
    if (this.carryLen > 0) this.#lineOf(Buffer.alloc(0), 0, 0);
  }
}

interface Settings {
  max: number;
  strict: boolean;
  signal: AbortSignal | undefined;
}

function parser<T>(
  source: Source<Uint8Array | string>,
  options: ParseOptions | undefined,
  make: (up: Pull<unknown>, settings: Settings) => Pull<T>,
): Stream<T> {
  checkObject('options', options);
  checkKeys('parseJsonArray/parseNdjson', options, PARSE_KEYS);
  const max = checkInt('maxItemBytes', options?.maxItemBytes ?? 1024 * 1024, 1);
  const invalidUtf8 = options?.invalidUtf8 ?? 'error';
  if (invalidUtf8 !== 'error' && invalidUtf8 !== 'replace') {
    throw new TypeError(
      `Expected \`invalidUtf8\` to be 'error' or 'replace', got ${describe(invalidUtf8)}`,
    );
  }
  const settings: Settings = {
    max,
    strict: invalidUtf8 === 'error',
    signal: checkSignal(options?.signal),
  };
  if (!isSource(source)) openSource(source, undefined as never);
  return new Stream<T>((run: Run) => make(openSource<unknown>(source, run), settings));
}

/**
 * Parses a byte stream holding one JSON array (a response body, a file) into a stream of
 * its items, without holding the whole body: only the item being read is buffered, and
 * no more than `maxItemBytes` of it.
 *
 * @throws {TypeError|RangeError} at once for a bad source or option. The stream fails with
 * `ERR_JSON_PARSE` (with the byte `offset`) for a body that is not one well-formed JSON
 * array, including one that ends before its `]`, or for bytes that are not UTF-8 (unless
 * `invalidUtf8: 'replace'`), and with `ERR_JSON_ITEM_TOO_LARGE` for an item over the limit.
 * @example
 * const res = await fetch(url);
 * for await (const order of parseJsonArray<Order>(res.body!)) handle(order);
 */
export function parseJsonArray<T = unknown>(
  source: Source<Uint8Array | string>,
  options?: ParseOptions,
): Stream<T> {
  return parser(source, options, (up, settings) => new ArrayParsePull<T>(up, settings));
}

/**
 * Parses newline-delimited JSON (`\n` or `\r\n` line ends, blank lines skipped, the last
 * line may lack its newline) into a stream of items, one per line, holding at most one
 * line of at most `maxItemBytes`.
 *
 * @throws {TypeError|RangeError} at once for a bad source or option. The stream fails with
 * `ERR_JSON_PARSE` (with the line's byte `offset` and line number) for a line that is not
 * JSON, or with the byte `offset` of bytes that are not UTF-8 (unless
 * `invalidUtf8: 'replace'`), and with `ERR_JSON_ITEM_TOO_LARGE` for a line over the limit.
 * @example
 * for await (const event of parseNdjson(createReadStream('events.ndjson'))) count(event);
 */
export function parseNdjson<T = unknown>(
  source: Source<Uint8Array | string>,
  options?: ParseOptions,
): Stream<T> {
  return parser(source, options, (up, settings) => new NdjsonParsePull<T>(up, settings));
}
