import { isAscii } from 'node:buffer';
import { checkFn, checkInt, checkKeys, checkObject, optionKeys } from '../internal/options.js';
import { SseLimitError } from './errors.js';
import { decodeBinary, decodeRun, incompleteAt, runEnd } from './utf8.js';

/** One dispatched event, as an `EventSource` would deliver it. */
export interface SseEvent {
  /** The event type: the `event` field, or `"message"`. */
  event: string;
  /** The data lines joined with `\n`. */
  data: string;
  /** The last event id seen so far on the stream ('' if none), as `Last-Event-ID` would send. */
  id: string;
}

/** Options of {@link SseParser}. */
export interface SseParserOptions {
  /** Called for every dispatched event. */
  onEvent: (event: SseEvent) => void;
  /** Called with each valid `retry` value, in ms. */
  onRetry?: ((ms: number) => void) | undefined;
  /** Called with each comment's text (after the `:`). */
  onComment?: ((text: string) => void) | undefined;
  /**
   * Longest line, in characters (UTF-16 code units, bytes for ASCII); a longer one throws
   * `ERR_SSE_LINE_TOO_LONG`.
   * @default 1048576
   */
  maxLineLength?: number | undefined;
  /**
   * Largest data of one event, in characters; larger throws `ERR_SSE_EVENT_TOO_LARGE`.
   * @default 4194304
   */
  maxEventLength?: number | undefined;
  /** The last event id to start from (a reconnecting client's). @default '' */
  lastEventId?: string | undefined;
}

const PARSER_KEYS = optionKeys<SseParserOptions>({
  onEvent: 1,
  onRetry: 1,
  onComment: 1,
  maxLineLength: 1,
  maxEventLength: 1,
  lastEventId: 1,
});

const LF = 10;
const CR = 13;
const COLON = 58;
const SPACE = 32;

/**
 * An incremental parser for `text/event-stream`, following the WHATWG HTML rules exactly:
 * the stream is decoded as UTF-8 (a leading BOM skipped, invalid bytes as U+FFFD, a
 * character split across chunks kept whole); lines end in CRLF, LF or CR, even split
 * across chunks; `data` lines are joined with `\n`; an `id` containing NUL is ignored;
 * `retry` counts only when it is all ASCII digits; comments are skipped; a blank line
 * dispatches; the last event id carries over from event to event; an event cut off by the
 * end of the stream is discarded.
 *
 * Bytes are not decoded as a whole: a chunk is copied into a one-byte string, a character
 * a byte, in which lines and field names are found by native search; only field values
 * with bytes over 0x7f are decoded (ASCII ones are slices, which V8 makes without
 * copying). Text is parsed the same way, its values sliced.
 *
 * @throws {TypeError|RangeError} at construction for a bad option; `feed()` throws
 * `ERR_SSE_LINE_TOO_LONG` / `ERR_SSE_EVENT_TOO_LARGE` over the limits.
 * @example
 * const parser = new SseParser({ onEvent: (e) => console.log(e.event, e.data) });
 * for await (const chunk of res.body) parser.feed(chunk);
 * parser.end();
 */
export class SseParser {
  readonly #onEvent: (event: SseEvent) => void;
  readonly #onRetry: ((ms: number) => void) | undefined;
  readonly #onComment: ((text: string) => void) | undefined;
  readonly #maxLine: number;
  readonly #maxEvent: number;
  #lastEventId: string;
  #idBuffer: string;
  #type = '';
  #data = '';
  #hasData = false;
  // A line begun in an earlier chunk: its bytes (one character a byte) when #carryBytes,
  // else its text.
  #carry = '';
  #carryBytes = false;
  // The bytes of a character begun before a text chunk came while a line was open in
  // text: they belong before the next bytes, as a streaming decoder would hold them.
  #pending = '';
  #bytes = false; // the string being scanned holds bytes, not text
  // The next byte over 0x7f in the string being scanned, at or after the last value
  // (-1: none; -2: not looked for in this string).
  #high = -2;
  #wordsOff = true; // the string being scanned is not the chunk in #words
  #scratch = new Uint8Array(0);
  #words = new Uint32Array(0);
  #length = 0; // of the chunk in #scratch
  #base = 0; // where it starts in the string being scanned
  #skipLF = false; // the previous chunk ended in CR: a LF first in this one belongs to it
  #started = false;
  #retry: number | undefined = undefined;

  constructor(options: SseParserOptions) {
    checkObject('options', options);
    checkKeys('SseParser', options, PARSER_KEYS);
    this.#onEvent = checkFn<(e: SseEvent) => void>('onEvent', options?.onEvent, true)!;
    this.#onRetry = checkFn('onRetry', options.onRetry, false);
    this.#onComment = checkFn('onComment', options.onComment, false);
    this.#maxLine = checkInt('maxLineLength', options.maxLineLength ?? 1024 * 1024, 1);
    this.#maxEvent = checkInt('maxEventLength', options.maxEventLength ?? 4 * 1024 * 1024, 1);
    // The spec keeps two: the source's last event ID string, which outlives a stream, and
    // each stream's buffer, which starts empty.
    this.#lastEventId = options.lastEventId ?? '';
    this.#idBuffer = '';
  }

  /** The last event id string, as the next reconnection would send it. */
  get lastEventId(): string {
    return this.#lastEventId;
  }

  /** The last valid `retry` value in ms, if any. */
  get retry(): number | undefined {
    return this.#retry;
  }

  /** Parses the next chunk of the stream: bytes, or text already decoded. */
  feed(chunk: Uint8Array | string): void {
    if (typeof chunk === 'string') this.#feedText(chunk);
    else if (chunk.length > 0) this.#feedBytes(chunk);
  }

  /** The stream ended: a partial line or event is discarded, as the spec says. */
  end(): void {
    this.#carry = '';
    this.#carryBytes = false;
    this.#pending = '';
    this.#skipLF = false;
    this.#started = false;
    this.#resetEvent();
    this.#idBuffer = '';
  }

  #feedText(text: string): void {
    if (text.length === 0) return;
    if (this.#carryBytes) {
      // The open line came as bytes: its characters join this text, and an incomplete
      // one waits for the next bytes.
      const cut = incompleteAt(this.#carry, this.#carry.length);
      this.#pending = this.#carry.slice(cut);
      this.#carry = decodeBinary(this.#carry, 0, cut);
      this.#carryBytes = false;
    }
    if (!this.#started) {
      // One BOM, at the start of the stream only: the first character of the first
      // non-empty text, however the stream was cut (a chunk may be the BOM alone, or
      // part of its bytes) and whether it came as bytes or text.
      this.#started = true;
      if (text.charCodeAt(0) === 0xfeff) {
        text = text.slice(1);
        if (text.length === 0) return;
      }
    }
    this.#bytes = false;
    this.#scan(text, 0);
  }

  #feedBytes(chunk: Uint8Array): void {
    let s = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length).toString('latin1');
    if (this.#pending.length > 0) {
      s = this.#pending + s;
      this.#pending = '';
    }
    let i = 0;
    if (!this.#started) {
      // Until a first character is whole there is no text: the bytes so far wait.
      if (this.#carry.length > 0) {
        s = this.#carry + s;
        this.#carry = '';
      }
      if (incompleteAt(s, s.length) === 0) {
        this.#carry = s;
        this.#carryBytes = true;
        return;
      }
      this.#started = true;
      if (s.charCodeAt(0) === 0xef && s.charCodeAt(1) === 0xbb && s.charCodeAt(2) === 0xbf) {
        i = 3;
        if (s.length === 3) return;
      }
    } else if (this.#carry.length > 0 && !this.#carryBytes) {
      i = this.#finishText(s);
      if (i === -1) return;
    }
    this.#bytes = true;
    this.#wordsOff = false;
    this.#prepare(chunk, s.length - chunk.length);
    this.#scan(s, i);
  }

  // Readies #findHigh for the chunk, whose bytes start at `base` in the string scanned.
  #prepare(chunk: Uint8Array, base: number): void {
    if (base === 0 && isAscii(chunk)) {
      this.#high = -1; // nothing to decode in this chunk
      return;
    }
    this.#high = -2;
    this.#base = base;
    const len = chunk.length;
    const cap = (len + 3) & ~3;
    if (this.#scratch.length < cap) {
      const buffer = new ArrayBuffer(Math.max(cap, 16 * 1024));
      this.#scratch = new Uint8Array(buffer);
      this.#words = new Uint32Array(buffer);
    }
    this.#scratch.set(chunk);
    this.#scratch.fill(0, len, cap); // so the last word holds no byte of an older chunk
    this.#length = len;
  }

  // The open line is text (it came as text, or grew past the limit in bytes and was
  // decoded to be measured): it ends with the decoded bytes up to the first line end.
  // Returns where the bytes after it start, or -1 if nothing is left.
  #finishText(s: string): number {
    const len = s.length;
    const lf = s.indexOf('\n');
    const cr = s.indexOf('\r');
    const eol = lf === -1 ? cr : cr === -1 ? lf : lf < cr ? lf : cr;
    if (eol === -1) {
      const cut = incompleteAt(s, len);
      this.#pending = s.slice(cut);
      this.#keepText(decodeBinary(s, 0, cut));
      return -1;
    }
    this.#keepText(decodeBinary(s, 0, eol));
    const line = this.#carry;
    this.#carry = '';
    this.#bytes = false;
    this.#line(line, 0, line.length);
    if (s.charCodeAt(eol) === LF) return eol + 1;
    if (eol + 1 < len) return s.charCodeAt(eol + 1) === LF ? eol + 2 : eol + 1;
    this.#skipLF = true;
    return -1;
  }

  #scan(s: string, i: number): void {
    const len = s.length;
    if (this.#skipLF) {
      this.#skipLF = false;
      if (s.charCodeAt(i) === LF) i++;
    }
    // Next LF and CR at or after i, each found by native search and reused until passed.
    let lf = -2;
    let cr = -2;
    while (i < len) {
      if (lf !== -1 && lf < i) lf = s.indexOf('\n', i);
      if (cr !== -1 && cr < i) cr = s.indexOf('\r', i);
      const eol = lf === -1 ? cr : cr === -1 ? lf : lf < cr ? lf : cr;
      if (eol === -1) {
        this.#keep(s.slice(i));
        return;
      }
      if (this.#carry.length > 0) {
        const line = this.#carry + s.slice(i, eol);
        this.#carry = '';
        this.#checkLine(line, 0, line.length);
        // Not the chunk's string: its bytes over 0x7f are looked for in it.
        const off = this.#wordsOff;
        const high = this.#high;
        this.#wordsOff = true;
        this.#high = -2;
        this.#line(line, 0, line.length);
        this.#high = high;
        this.#wordsOff = off;
      } else {
        if (eol - i > this.#maxLine) this.#checkLine(s, i, eol);
        this.#line(s, i, eol);
      }
      if (s.charCodeAt(eol) === CR) {
        if (eol + 1 < len) i = s.charCodeAt(eol + 1) === LF ? eol + 2 : eol + 1;
        else {
          this.#skipLF = true;
          i = len;
        }
      } else i = eol + 1;
    }
  }

  // A line's length counts characters: in bytes, only a line longer in bytes than the
  // limit is decoded to be measured.
  #checkLine(s: string, b: number, e: number): void {
    if (e - b <= this.#maxLine) return;
    if (!this.#bytes || decodeBinary(s, b, e).length > this.#maxLine) {
      throw new SseLimitError('ERR_SSE_LINE_TOO_LONG', this.#maxLine);
    }
  }

  // Keeps the end of a chunk as the open line, in the chunk's form.
  #keep(part: string): void {
    if (!this.#bytes) {
      this.#keepText(part);
      return;
    }
    const bytes = this.#carry + part;
    if (bytes.length <= this.#maxLine) {
      this.#carry = bytes;
      this.#carryBytes = true;
      return;
    }
    // Longer in bytes than the limit: measured in characters from now on, as text
    // (the bytes of an incomplete character wait, as a streaming decoder holds them).
    const cut = incompleteAt(bytes, bytes.length);
    this.#carry = '';
    this.#carryBytes = false;
    this.#keepText(decodeBinary(bytes, 0, cut));
    this.#pending = bytes.slice(cut);
  }

  #keepText(part: string): void {
    if (this.#carry.length + part.length > this.#maxLine) {
      throw new SseLimitError('ERR_SSE_LINE_TOO_LONG', this.#maxLine);
    }
    this.#carry += part;
  }

  // A value of the line s[b..e): text in bytes is decoded. The next byte over 0x7f is
  // found once and reused for the values before it, as the line ends are.
  #value(s: string, b: number, e: number): string {
    if (!this.#bytes) return s.slice(b, e);
    let h = this.#high;
    if (h !== -1 && h < b) h = this.#high = this.#findHigh(s, b);
    if (h === -1 || h >= e) return s.slice(b, e);
    let out = h > b ? s.slice(b, h) : '';
    for (;;) {
      out += decodeRun(s, h, e);
      const k = runEnd;
      if (k >= e) return out; // #high (< e) is looked for again from the next value
      h = this.#high = this.#findHigh(s, k);
      if (h === -1 || h >= e) return out + s.slice(k, e);
      out += s.slice(k, h);
    }
  }

  // The first byte over 0x7f at or after `from` (-1: none). In the chunk's string it is
  // found four bytes at a time in #words, a copy of the chunk's bytes aligned for 32-bit
  // reads (the string's first #base characters are the held bytes of a character begun
  // earlier, all over 0x7f); no string method searches for a range of characters, a loop
  // of charCodeAt costs some thirty instructions a character, a regular expression some
  // thousand a call.
  #findHigh(s: string, from: number): number {
    if (this.#wordsOff) {
      for (let k = from; k < s.length; k++) if (s.charCodeAt(k) > 0x7f) return k;
      return -1;
    }
    const base = this.#base;
    if (from < base) return from;
    const bytes = this.#scratch;
    const words = this.#words;
    const len = this.#length;
    let k = from - base;
    for (; (k & 3) !== 0; k++) {
      if (k >= len) return -1;
      if (bytes[k]! > 0x7f) return k + base;
    }
    const nw = (len + 3) >> 2;
    let w = k >> 2;
    while (w < nw && (words[w]! & 0x80808080) === 0) w++;
    if (w === nw) return -1;
    k = w << 2;
    while (bytes[k]! <= 0x7f) k++;
    return k + base;
  }

  #line(s: string, b: number, e: number): void {
    if (b === e) {
      this.#dispatch();
      return;
    }
    const first = s.charCodeAt(b);
    if (first === COLON) {
      if (this.#onComment !== undefined) {
        let v = b + 1;
        if (v < e && s.charCodeAt(v) === SPACE) v++;
        this.#onComment(this.#value(s, v, e));
      }
      return;
    }
    // The field name ends at the first colon, or the line is all name.
    let c = b;
    while (c < e && s.charCodeAt(c) !== COLON) c++;
    let v = c + 1;
    if (v < e && s.charCodeAt(v) === SPACE) v++;
    if (v > e) v = e;
    const n = c - b;
    // Field names are compared a character at a time: a string method searching text of
    // two-byte characters takes V8's slow path.
    if (
      n === 4 &&
      first === 100 &&
      s.charCodeAt(b + 1) === 97 &&
      s.charCodeAt(b + 2) === 116 &&
      s.charCodeAt(b + 3) === 97
    ) {
      const value = this.#value(s, v, e);
      if (this.#hasData) {
        if (this.#data.length + value.length + 1 > this.#maxEvent) {
          throw new SseLimitError('ERR_SSE_EVENT_TOO_LARGE', this.#maxEvent);
        }
        this.#data += `\n${value}`;
      } else {
        if (value.length > this.#maxEvent) {
          throw new SseLimitError('ERR_SSE_EVENT_TOO_LARGE', this.#maxEvent);
        }
        this.#data = value;
        this.#hasData = true;
      }
    } else if (
      n === 5 &&
      first === 101 &&
      s.charCodeAt(b + 1) === 118 &&
      s.charCodeAt(b + 2) === 101 &&
      s.charCodeAt(b + 3) === 110 &&
      s.charCodeAt(b + 4) === 116
    ) {
      this.#type = this.#value(s, v, e);
    } else if (n === 2 && first === 105 && s.charCodeAt(b + 1) === 100) {
      // id: ignored when it contains NUL (in bytes, only a 0 byte decodes to NUL).
      for (let k = v; k < e; k++) if (s.charCodeAt(k) === 0) return;
      this.#idBuffer = this.#value(s, v, e);
    } else if (
      n === 5 &&
      first === 114 &&
      s.charCodeAt(b + 1) === 101 &&
      s.charCodeAt(b + 2) === 116 &&
      s.charCodeAt(b + 3) === 114 &&
      s.charCodeAt(b + 4) === 121
    ) {
      if (v === e) return;
      for (let k = v; k < e; k++) {
        const d = s.charCodeAt(k);
        if (d < 48 || d > 57) return;
      }
      const ms = Number(s.slice(v, e));
      this.#retry = ms;
      this.#onRetry?.(ms);
    }
    // Any other field is ignored.
  }

  #dispatch(): void {
    this.#lastEventId = this.#idBuffer;
    if (!this.#hasData) {
      this.#type = '';
      return;
    }
    const event: SseEvent = {
      event: this.#type === '' ? 'message' : this.#type,
      data: this.#data,
      id: this.#lastEventId,
    };
    this.#resetEvent();
    this.#onEvent(event);
  }

  #resetEvent(): void {
    this.#type = '';
    this.#data = '';
    this.#hasData = false;
  }
}
