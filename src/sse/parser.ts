import { checkFn, checkInt, checkKeys, checkObject, optionKeys } from '../internal/options.js';
import { SseLimitError } from './errors.js';

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

// The BOM is stripped by feed(), not by the decoder, so that bytes and text, however cut,
// lose exactly one.
const newDecoder = () => new TextDecoder('utf-8', { ignoreBOM: true });

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
 * Each chunk is decoded once and its lines found by native search; field values are
 * slices of the decoded text, which V8 makes without copying.
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
  #decoder = newDecoder();
  #lastEventId: string;
  #idBuffer: string;
  #type = '';
  #data = '';
  #hasData = false;
  #carry = ''; // a line begun in an earlier chunk
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
    // The decoder holds back a character split across chunks.
    let text = typeof chunk === 'string' ? chunk : this.#decoder.decode(chunk, { stream: true });
    if (text.length === 0) return;
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
    this.#scan(text);
  }

  /** The stream ended: a partial line or event is discarded, as the spec says. */
  end(): void {
    this.#decoder.decode();
    this.#decoder = newDecoder();
    this.#carry = '';
    this.#skipLF = false;
    this.#started = false;
    this.#resetEvent();
    this.#idBuffer = '';
  }

  #scan(s: string): void {
    const len = s.length;
    let i = 0;
    if (this.#skipLF) {
      this.#skipLF = false;
      if (s.charCodeAt(0) === LF) i = 1;
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
        this.#keep(s.slice(i, eol));
        const line = this.#carry;
        this.#carry = '';
        this.#line(line, 0, line.length);
      } else {
        if (eol - i > this.#maxLine)
          throw new SseLimitError('ERR_SSE_LINE_TOO_LONG', this.#maxLine);
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

  #keep(part: string): void {
    if (this.#carry.length + part.length > this.#maxLine) {
      throw new SseLimitError('ERR_SSE_LINE_TOO_LONG', this.#maxLine);
    }
    this.#carry += part;
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
        this.#onComment(s.slice(v, e));
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
    if (
      n === 4 &&
      first === 100 &&
      s.charCodeAt(b + 1) === 97 &&
      s.charCodeAt(b + 2) === 116 &&
      s.charCodeAt(b + 3) === 97
    ) {
      const value = s.slice(v, e);
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
    } else if (n === 5 && first === 101 && s.startsWith('vent', b + 1)) {
      this.#type = s.slice(v, e);
    } else if (n === 2 && first === 105 && s.charCodeAt(b + 1) === 100) {
      // id: ignored when it contains NUL.
      const value = s.slice(v, e);
      if (!value.includes('\0')) this.#idBuffer = value;
    } else if (n === 5 && first === 114 && s.startsWith('etry', b + 1)) {
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
