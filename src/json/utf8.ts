import { isUtf8 } from 'node:buffer';

// Telling whether a body is UTF-8, and where it is not. The parsers decode each item with
// Buffer#toString, which turns every ill-formed sequence into U+FFFD; the bytes are first
// checked a chunk at a time by the native validator, and only in a body that failed it is
// an item's text searched for U+FFFD and its bytes walked to find the fault.

/** An ill-formed sequence: where it starts in the bytes, and why it is ill-formed. */
export interface Utf8Fault {
  at: number;
  reason: string;
}

/**
 * The first ill-formed UTF-8 sequence in `bytes[from, to)` (Unicode's table 3-7), or
 * undefined. With `cutOk`, a sequence that is well formed so far but cut off by `to` is
 * not a fault: the bytes that would finish it are missing, not wrong.
 */
export function findUtf8Fault(
  bytes: Uint8Array,
  from: number,
  to: number,
  cutOk = false,
): Utf8Fault | undefined {
  let i = from;
  while (i < to) {
    const b = bytes[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    let n: number; // continuation bytes that must follow
    let lo = 0x80; // bounds of the second byte
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) n = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      n = 2;
      if (b === 0xe0) lo = 0xa0;
      else if (b === 0xed) hi = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      n = 3;
      if (b === 0xf0) lo = 0x90;
      else if (b === 0xf4) hi = 0x8f;
    } else {
      return {
        at: i,
        reason:
          b <= 0xbf
            ? 'a continuation byte with no lead byte'
            : b <= 0xc1
              ? 'an overlong encoding'
              : 'a byte that UTF-8 never uses',
      };
    }
    for (let k = 1; k <= n; k++) {
      if (i + k >= to) {
        if (cutOk) return undefined;
        return { at: i, reason: 'a sequence cut off by the end of the input' };
      }
      const c = bytes[i + k]!;
      if (k === 1 && (c < lo || c > hi) && c >= 0x80 && c <= 0xbf) {
        return {
          at: i,
          reason:
            b === 0xed
              ? 'a UTF-16 surrogate encoded in UTF-8'
              : b === 0xf4
                ? 'a code point above U+10FFFF'
                : 'an overlong encoding',
        };
      }
      if (c < (k === 1 ? lo : 0x80) || c > (k === 1 ? hi : 0xbf)) {
        return { at: i, reason: 'a sequence cut short by a byte that does not continue it' };
      }
    }
    i += n + 1;
  }
  return undefined;
}

// Continuation bytes that a lead byte asks for (a bad lead is left to findUtf8Fault).
const follows = (b: number): number => (b >= 0xf0 ? 3 : b >= 0xe0 ? 2 : b >= 0xc0 ? 1 : 0);

/**
 * Checks a byte stream chunk by chunk with the native validator, a character cut between
 * chunks included. `ok` stays true while every byte so far is well-formed UTF-8.
 */
export class Utf8Gate {
  ok = true;
  readonly #tail = new Uint8Array(4); // a sequence begun at the end of the last chunk
  #tailLen = 0;

  feed(chunk: Uint8Array): void {
    if (!this.ok) return;
    const len = chunk.length;
    let start = 0;
    if (this.#tailLen > 0) {
      const want = follows(this.#tail[0]!) + 1 - this.#tailLen;
      const n = Math.min(want, len);
      for (let k = 0; k < n; k++) this.#tail[this.#tailLen++] = chunk[k]!;
      const fault = findUtf8Fault(this.#tail, 0, this.#tailLen, n < want);
      if (fault !== undefined) {
        this.ok = false;
        return;
      }
      if (n < want) return;
      this.#tailLen = 0;
      start = n;
    }
    let end = len;
    for (let k = 1; k <= 3 && len - k >= start; k++) {
      const b = chunk[len - k]!;
      if (b < 0x80) break;
      if (b >= 0xc0) {
        if (follows(b) >= k) {
          this.#tail.set(chunk.subarray(len - k, len));
          this.#tailLen = k;
          end = len - k;
        }
        break;
      }
    }
    if (end > start && !isUtf8(chunk.subarray(start, end))) this.ok = false;
  }

  /** The stream ended: a character still cut is a fault. */
  end(): void {
    if (this.#tailLen > 0) this.ok = false;
  }
}
