// UTF-8 decoding of bytes held as a "binary" string: one character a byte, as
// `Buffer#toString('latin1')` makes it (a copy, with no decoding, into a one-byte string).
// The parser finds lines and fields in such a string by native search, and decodes only
// the values that hold bytes over 0x7f. The decoding is WHATWG's, as `TextDecoder` does
// it: each maximal subpart of an invalid sequence becomes one U+FFFD. A value ends before
// an ASCII byte (or is a whole line), and an ASCII byte always ends a sequence, so
// decoding values apart gives the same text as decoding the stream at once.

// Past this many non-ASCII characters in one value, the rest is decoded natively: a call
// costs about as much as decoding some dozen characters here, one string piece at a time.
const MAX_PIECES = 16;

/** The bytes `s[b..e)` decoded; `e` must end the sequences (an ASCII byte or a line end). */
export function decodeBinary(s: string, b: number, e: number): string {
  let k = b;
  while (k < e && s.charCodeAt(k) <= 0x7f) k++;
  if (k === e) return s.slice(b, e);
  let out = k > b ? s.slice(b, k) : '';
  for (;;) {
    out += decodeRun(s, k, e);
    k = runEnd;
    const a = k;
    while (k < e && s.charCodeAt(k) <= 0x7f) k++;
    if (k > a) out += s.slice(a, k);
    if (k >= e) return out;
  }
}

/** Where the last {@link decodeRun} stopped: an ASCII byte, or the end it was given. */
export let runEnd = 0;

/**
 * The characters of the run of bytes over 0x7f at `s[k..]`, up to an ASCII byte or `e`
 * (which must end the sequences), in {@link runEnd} where it stopped. A long run is
 * decoded natively to `e`.
 */
export function decodeRun(s: string, k: number, e: number): string {
  let out = '';
  for (let pieces = 0; ; pieces++) {
    if (pieces === MAX_PIECES) {
      runEnd = e;
      return out + Buffer.from(s.slice(k, e), 'latin1').toString('utf8');
    }
    const c = s.charCodeAt(k);
    let cp = 0xfffd;
    let n = 1;
    if (c >= 0xc2 && c <= 0xf4) {
      const need = c < 0xe0 ? 1 : c < 0xf0 ? 2 : 3;
      // The second byte's range is narrower after some leads: no overlong forms, no
      // surrogates, nothing past U+10FFFF.
      let lo = c === 0xe0 ? 0xa0 : c === 0xf0 ? 0x90 : 0x80;
      let hi = c === 0xed ? 0x9f : c === 0xf4 ? 0x8f : 0xbf;
      let acc = c & (need === 1 ? 0x1f : need === 2 ? 0x0f : 0x07);
      let j = 1;
      for (; j <= need && k + j < e; j++) {
        const d = s.charCodeAt(k + j);
        if (d < lo || d > hi) break;
        acc = (acc << 6) | (d & 0x3f);
        lo = 0x80;
        hi = 0xbf;
      }
      // A sequence cut short is one U+FFFD for the bytes taken; the byte that broke it
      // starts the next.
      if (j > need) cp = acc;
      n = j;
    }
    out +=
      cp < 0x10000
        ? String.fromCharCode(cp)
        : String.fromCharCode(0xd7c0 + (cp >> 10), 0xdc00 | (cp & 0x3ff));
    k += n;
    if (k >= e || s.charCodeAt(k) <= 0x7f) {
      runEnd = k;
      return out;
    }
  }
}

/**
 * Where the sequence that `s[0..len)` ends inside starts, if it is still incomplete (more
 * bytes could complete it, so a streaming decoder would hold it back), else `len`.
 */
export function incompleteAt(s: string, len: number): number {
  for (let k = len - 1; k >= 0 && k >= len - 3; k--) {
    const c = s.charCodeAt(k);
    if (c < 0x80) return len;
    if (c < 0xc0) continue; // a continuation byte: its lead is further back
    if (c < 0xc2 || c > 0xf4) return len;
    const have = len - k;
    if (have >= (c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4)) return len;
    if (have >= 2) {
      const d = s.charCodeAt(k + 1);
      const lo = c === 0xe0 ? 0xa0 : c === 0xf0 ? 0x90 : 0x80;
      const hi = c === 0xed ? 0x9f : c === 0xf4 ? 0x8f : 0xbf;
      if (d < lo || d > hi) return len;
    }
    if (have === 3) {
      const d = s.charCodeAt(k + 2);
      if (d < 0x80 || d > 0xbf) return len;
    }
    return k;
  }
  return len;
}
