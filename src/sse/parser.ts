import { checkFn, checkInt, checkObject } from '../internal/options.js';
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
  /** Longest line, in bytes; a longer one throws `ERR_SSE_LINE_TOO_LONG`. @default 1048576 (1 MiB) */
  maxLineBytes?: number | undefined;
  /** Largest data of one event, in bytes; larger throws `ERR_SSE_EVENT_TOO_LARGE`. @default 4194304 (4 MiB) */
  maxEventBytes?: number | undefined;
  /** The last event id to start from (a reconnecting client's). @default '' */
  lastEventId?: string | undefined;
}

const LF = 0x0a;
const CR = 0x0d;
const COLON = 0x3a;
const SPACE = 0x20;
const EMPTY = Buffer.alloc(0);

/**
 * An incremental parser for `text/event-stream`, following the WHATWG HTML rules exactly:
 * a leading BOM is skipped; lines end in CRLF, LF or CR, even split across chunks; `data`
 * lines are joined with `\n`; an `id` containing NUL is ignored; `retry` counts only when
 * it is all ASCII digits; comments are skipped; a blank line dispatches; the last event id
 * carries over from event to event; an event cut off by the end of the stream is
 * discarded. It scans bytes and decodes only field values, per line, which is equivalent
 * to decoding the whole stream first since a line break is never part of a UTF-8 sequence.
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
  #dataBytes = 0;
  #retry: number | undefined = undefined;
  // A line begun in an earlier chunk.
  #carry: Buffer = EMPTY;
  #carryLen = 0;
  #skipLF = false; // the previous chunk ended in CR: a LF first in this one belongs to it
  #start: Buffer | undefined = EMPTY; // bytes held at the very start until the BOM is decided

  constructor(options: SseParserOptions) {
    checkObject('options', options);
    this.#onEvent = checkFn<(e: SseEvent) => void>('onEvent', options?.onEvent, true)!;
    this.#onRetry = checkFn('onRetry', options.onRetry, false);
    this.#onComment = checkFn('onComment', options.onComment, false);
    this.#maxLine = checkInt('maxLineBytes', options.maxLineBytes ?? 1024 * 1024, 1);
    this.#maxEvent = checkInt('maxEventBytes', options.maxEventBytes ?? 4 * 1024 * 1024, 1);
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

  /** Parses the next chunk of the stream (bytes, or text that is encoded first). */
  feed(chunk: Uint8Array | string): void {
    let buf =
      typeof chunk === 'string'
        ? Buffer.from(chunk, 'utf8')
        : Buffer.isBuffer(chunk)
          ? chunk
          : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.#start !== undefined) {
      // Hold up to 3 bytes at the very start to tell whether they are a BOM.
      const head = this.#start.length === 0 ? buf : Buffer.concat([this.#start, buf]);
      if (head.length < 3 && isBomPrefix(head)) {
        this.#start = head;
        return;
      }
      this.#start = undefined;
      buf = isBomPrefix(head) ? head.subarray(3) : head;
    }
    this.#scan(buf);
  }

  /** The stream ended: a partial line or event is discarded, as the spec says. */
  end(): void {
    this.#carryLen = 0;
    this.#skipLF = false;
    this.#resetEvent();
    this.#idBuffer = '';
    this.#start = EMPTY;
  }

  #scan(buf: Buffer): void {
    const len = buf.length;
    let i = 0;
    if (this.#skipLF && len > 0) {
      this.#skipLF = false;
      if (buf[0] === LF) i = 1;
    }
    // Next LF and CR at or after i, each found once per chunk by native search.
    let lf = -2;
    let cr = -2;
    while (i < len) {
      if (lf !== -1 && lf < i) lf = buf.indexOf(LF, i);
      if (cr !== -1 && cr < i) cr = buf.indexOf(CR, i);
      const eol = lf === -1 ? cr : cr === -1 ? lf : Math.min(lf, cr);
      if (eol === -1) {
        this.#keep(buf, i, len);
        return;
      }
      if (this.#carryLen > 0) {
        this.#keep(buf, i, eol);
        const line = this.#carry;
        const n = this.#carryLen;
        this.#carryLen = 0;
        this.#line(line, 0, n);
      } else {
        if (eol - i > this.#maxLine)
          throw new SseLimitError('ERR_SSE_LINE_TOO_LONG', this.#maxLine);
        this.#line(buf, i, eol);
      }
      if (buf[eol] === CR) {
        if (eol + 1 < len) i = buf[eol + 1] === LF ? eol + 2 : eol + 1;
        else {
          this.#skipLF = true;
          i = len;
        }
      } else i = eol + 1;
    }
  }

  #keep(buf: Buffer, from: number, to: number): void {
    const n = to - from;
    if (n === 0) return;
    const need = this.#carryLen + n;
    if (need > this.#maxLine) throw new SseLimitError('ERR_SSE_LINE_TOO_LONG', this.#maxLine);
    if (need > this.#carry.length) {
      const grown = Buffer.allocUnsafe(Math.min(this.#maxLine, Math.max(256, need * 2)));
      this.#carry.copy(grown, 0, 0, this.#carryLen);
      this.#carry = grown;
    }
    buf.copy(this.#carry, this.#carryLen, from, to);
    this.#carryLen = need;
  }

  #line(buf: Buffer, s: number, e: number): void {
    if (s === e) {
      this.#dispatch();
      return;
    }
    const first = buf[s];
    if (first === COLON) {
      if (this.#onComment !== undefined) {
        let v = s + 1;
        if (v < e && buf[v] === SPACE) v++;
        this.#onComment(buf.toString('utf8', v, e));
      }
      return;
    }
    // The field name ends at the first colon, or the line is all name.
    let c = s;
    while (c < e && buf[c] !== COLON) c++;
    let v = c + 1;
    if (v < e && buf[v] === SPACE) v++;
    if (v > e) v = e;
    const n = c - s;
    if (
      n === 4 &&
      first === 0x64 &&
      buf[s + 1] === 0x61 &&
      buf[s + 2] === 0x74 &&
      buf[s + 3] === 0x61
    ) {
      // data
      this.#dataBytes += e - v + 1;
      if (this.#dataBytes > this.#maxEvent + 1) {
        throw new SseLimitError('ERR_SSE_EVENT_TOO_LARGE', this.#maxEvent);
      }
      const value = buf.toString('utf8', v, e);
      if (this.#hasData) this.#data += `\n${value}`;
      else {
        this.#data = value;
        this.#hasData = true;
      }
    } else if (n === 5 && first === 0x65 && buf.toString('latin1', s, c) === 'event') {
      this.#type = buf.toString('utf8', v, e);
    } else if (n === 2 && first === 0x69 && buf[s + 1] === 0x64) {
      // id: ignored when it contains NUL.
      let k = v;
      while (k < e && buf[k] !== 0) k++;
      if (k === e) this.#idBuffer = buf.toString('utf8', v, e);
    } else if (n === 5 && first === 0x72 && buf.toString('latin1', s, c) === 'retry') {
      if (v === e) return;
      for (let k = v; k < e; k++) {
        const b = buf[k]!;
        if (b < 0x30 || b > 0x39) return;
      }
      const ms = Number(buf.toString('latin1', v, e));
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
    this.#dataBytes = 0;
  }
}

function isBomPrefix(b: Buffer): boolean {
  return (
    (b.length < 1 || b[0] === 0xef) &&
    (b.length < 2 || b[1] === 0xbb) &&
    (b.length < 3 || b[2] === 0xbf)
  );
}
