import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { type SseEvent, SseParser } from '../../src/sse/index.js';

// The same stream cut into chunks differently must give the same events: the parser's
// state across chunks (a BOM, a CR before a LF, a character's bytes, a line) must never
// change what the stream means.

interface Parsed {
  events: SseEvent[];
  retries: number[];
  comments: string[];
  lastEventId: string;
  error?: string;
}

interface Limits {
  maxLineLength?: number;
  maxEventLength?: number;
}

function parse(chunks: (string | Uint8Array)[], limits: Limits = {}): Parsed {
  const out: Parsed = { events: [], retries: [], comments: [], lastEventId: '' };
  const p = new SseParser({
    onEvent: (e) => out.events.push(e),
    onRetry: (ms) => out.retries.push(ms),
    onComment: (c) => out.comments.push(c),
    ...limits,
  });
  try {
    for (const c of chunks) p.feed(c);
    p.end();
  } catch (error) {
    out.error = (error as { code?: string }).code ?? String(error);
  }
  out.lastEventId = p.lastEventId;
  return out;
}

// The WHATWG algorithm applied to the whole decoded text at once, written as plainly as
// the spec reads, as the oracle.
function reference(text: string): Parsed {
  const out: Parsed = { events: [], retries: [], comments: [], lastEventId: '' };
  if (text.startsWith('\ufeff')) text = text.slice(1);
  const lines = text.split(/\r\n|\r|\n/);
  lines.pop(); // the text after the last line end is not a line: the stream ended in it
  let type = '';
  let data: string[] = [];
  let idBuffer = '';
  for (const line of lines) {
    if (line === '') {
      out.lastEventId = idBuffer;
      if (data.length > 0) {
        out.events.push({ event: type || 'message', data: data.join('\n'), id: idBuffer });
      }
      type = '';
      data = [];
      continue;
    }
    if (line.startsWith(':')) {
      out.comments.push(line.slice(1).replace(/^ /, ''));
      continue;
    }
    const c = line.indexOf(':');
    const field = c === -1 ? line : line.slice(0, c);
    const value = c === -1 ? '' : line.slice(c + 1).replace(/^ /, '');
    if (field === 'data') data.push(value);
    else if (field === 'event') type = value;
    else if (field === 'id' && !value.includes('\0')) idBuffer = value;
    else if (field === 'retry' && /^[0-9]+$/.test(value)) out.retries.push(Number(value));
  }
  return out;
}

const enc = new TextEncoder();
const concat = (parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
};

// Text with multi-byte characters (2, 3 and 4 bytes in UTF-8), a BOM, NUL and the
// characters that matter to the syntax.
const char = fc.constantFrom('a', 'Z', ' ', ':', 'é', '✓', '😀', '\ufeff', '\0', '1');
const text = fc.string({ unit: char, maxLength: 8 });
const field = fc.oneof(
  text.map((v) => `data: ${v}`),
  text.map((v) => `data:${v}`),
  fc.constant('data'),
  text.map((v) => `event: ${v}`),
  text.map((v) => `id: ${v}`),
  fc.constantFrom('id', 'id: 7', 'retry: 0', 'retry: 1500', 'retry: 15a', 'retry:'),
  text.map((v) => `:${v}`),
  text.map((v) => `foo: ${v}`),
  fc.constant('\ufeffdata: bom'),
  fc.constant(''), // a blank line dispatches
);
const eol = fc.constantFrom('\n', '\r', '\r\n');
// Bytes that are not UTF-8: a lone continuation byte, a truncated sequence, an overlong
// encoding, a surrogate encoded in UTF-8, bytes never valid.
const invalid = fc.constantFrom(
  Uint8Array.of(0x80),
  Uint8Array.of(0xe2, 0x82),
  Uint8Array.of(0xf0, 0x9f, 0x98),
  Uint8Array.of(0xc0, 0xaf),
  Uint8Array.of(0xed, 0xa0, 0x80),
  Uint8Array.of(0xff),
);
const piece = fc.oneof(
  { weight: 8, arbitrary: fc.tuple(field, eol).map(([f, e]) => enc.encode(f + e)) },
  { weight: 1, arbitrary: invalid },
);
const stream = fc
  .tuple(fc.constantFrom('', '\ufeff', '\ufeff\ufeff'), fc.array(piece, { maxLength: 24 }))
  .map(([bom, pieces]) => concat([enc.encode(bom), ...pieces]));
// Cut points: fractions of the length, so that they fit any stream, and small offsets
// (>= 1), so that the first bytes (a BOM, a BOM's bytes) are often cut apart.
const cuts = fc.array(
  fc.oneof(
    fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
    fc.integer({ min: 1, max: 8 }),
  ),
  { maxLength: 12 },
);

function cut<T extends { length: number; slice(a: number, b: number): T }>(
  whole: T,
  at: number[],
): T[] {
  const points = at
    .map((f) => (f >= 1 ? Math.min(f, whole.length) : Math.floor(f * whole.length)))
    .sort((a, b) => a - b);
  const parts: T[] = [];
  let prev = 0;
  for (const p of points) {
    parts.push(whole.slice(prev, p)); // empty parts too: a chunk may be empty
    prev = p;
  }
  parts.push(whole.slice(prev, whole.length));
  return parts;
}

const decode = (bytes: Uint8Array): string =>
  new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes);

const runs = { numRuns: 400, seed: 0x5e11 };

describe('SseParser gives the same events however the stream is cut', () => {
  test('a chunk that is only a BOM does not make the next chunk lose its own BOM', () => {
    const whole = parse(['\ufeff\ufeffdata: a\n\n']);
    assert.deepEqual(whole.events, [], 'the second BOM is part of the field name');
    assert.deepEqual(parse(['\ufeff', '\ufeffdata: a\n\n']), whole);
    assert.deepEqual(parse(['', '\ufeff', '', '\ufeffdata: a\n\n']), whole);
    const bytes = enc.encode('\ufeff\ufeffdata: a\n\n');
    assert.deepEqual(parse([bytes.subarray(0, 3), bytes.subarray(3)]), whole);
    assert.deepEqual(parse([bytes.subarray(0, 3), '\ufeffdata: a\n\n']), whole);
    assert.deepEqual(parse(['\ufeff', bytes.subarray(3)]), whole);
    // The BOM split inside its own bytes is still one BOM, stripped once.
    assert.deepEqual(parse([bytes.subarray(0, 1), bytes.subarray(1, 2), bytes.subarray(2)]), whole);
    assert.deepEqual(parse([bytes.subarray(3)]).events, [{ event: 'message', data: 'a', id: '' }]);
  });

  test('end() starts a new stream, which may open with its own BOM', () => {
    const events: SseEvent[] = [];
    const p = new SseParser({ onEvent: (e) => events.push(e) });
    p.feed('\ufeff');
    p.end();
    p.feed(enc.encode('\ufeffdata: a\n\n'));
    p.end();
    assert.deepEqual(events, [{ event: 'message', data: 'a', id: '' }]);
  });

  test('byte chunks cut anywhere (inside a character, inside CRLF) match the spec', () => {
    fc.assert(
      fc.property(stream, cuts, (bytes, at) => {
        const expected = reference(decode(bytes));
        assert.deepEqual(parse([bytes]), expected);
        assert.deepEqual(parse(cut(bytes, at)), expected);
      }),
      runs,
    );
  });

  test('text chunks cut anywhere (even inside a surrogate pair) match the spec', () => {
    fc.assert(
      fc.property(stream, cuts, (bytes, at) => {
        const s = decode(bytes);
        assert.deepEqual(parse(cut(s, at)), reference(s));
      }),
      runs,
    );
  });

  test('byte by byte', () => {
    fc.assert(
      fc.property(stream, (bytes) => {
        const chunks = Array.from(bytes, (b) => Uint8Array.of(b));
        assert.deepEqual(parse(chunks), reference(decode(bytes)));
      }),
      { ...runs, numRuns: 100 },
    );
  });

  test('the limits fail the same stream at the same event however it is cut', () => {
    const limits = fc.record({
      maxLineLength: fc.integer({ min: 1, max: 24 }),
      maxEventLength: fc.integer({ min: 1, max: 24 }),
    });
    fc.assert(
      fc.property(stream, cuts, limits, (bytes, at, lim) => {
        const whole = parse([bytes], lim);
        assert.deepEqual(parse(cut(bytes, at), lim), whole);
        assert.deepEqual(parse(cut(decode(bytes), at), lim), whole);
      }),
      runs,
    );
  });
});
