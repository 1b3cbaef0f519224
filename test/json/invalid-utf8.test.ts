import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { isWeirError, parseJsonArray, parseNdjson } from '../../src/json/index.js';

// Bytes that are not UTF-8 must not turn silently into U+FFFD: the parsers fail with
// ERR_JSON_PARSE at the byte where the ill-formed sequence starts, however the body is cut.

const b = (...parts: (string | number[])[]): Buffer =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))));

// Every way to cut `body` in two and in three pieces (3-way on a stride, to stay small),
// and byte by byte: a character's bytes, good or bad, arrive in separate chunks.
function* splits(body: Buffer): Generator<Buffer[]> {
  yield [body];
  yield Array.from(body, (x) => Buffer.of(x));
  for (let i = 0; i <= body.length; i++) yield [body.subarray(0, i), body.subarray(i)];
  for (let i = 0; i <= body.length; i += 2) {
    for (let j = i; j <= body.length; j += 3) {
      yield [body.subarray(0, i), body.subarray(i, j), body.subarray(j)];
    }
  }
}

async function failsAt(
  run: (parts: Buffer[]) => Promise<unknown>,
  body: Buffer,
  offset: number,
  pattern?: RegExp,
): Promise<void> {
  for (const parts of splits(body)) {
    await assert.rejects(run(parts), (e: unknown) => {
      const where = `${body.toString('hex')} cut ${parts.map((p) => p.length).join('+')}`;
      assert.ok(isWeirError(e, 'ERR_JSON_PARSE'), `${where}: ${String(e)}`);
      assert.equal((e as unknown as { offset: number }).offset, offset, where);
      if (pattern !== undefined) assert.match((e as Error).message, pattern, where);
      return true;
    });
  }
}

const array = (parts: Buffer[]) => parseJsonArray(parts).toArray();
const ndjson = (parts: Buffer[]) => parseNdjson(parts).toArray();

// [bytes inside a string, what the message says]
const ILL_FORMED: [number[], RegExp][] = [
  [[0xc0, 0xaf], /overlong/], // '/' in two bytes
  [[0xc1, 0xbf], /overlong/],
  [[0xe0, 0x80, 0xaf], /overlong/], // '/' in three bytes
  [[0xf0, 0x80, 0x80, 0xaf], /overlong/], // '/' in four bytes
  [[0xed, 0xa0, 0x80], /surrogate/], // U+D800
  [[0xed, 0xbf, 0xbf], /surrogate/], // U+DFFF
  [[0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80], /surrogate/], // a surrogate pair (CESU-8)
  [[0xf4, 0x90, 0x80, 0x80], /above U\+10FFFF/],
  [[0xf5, 0x80, 0x80, 0x80], /never uses/],
  [[0xff], /never uses/],
  [[0x80], /continuation byte/],
  [[0xe2, 0x82], /cut short/], // '€' without its last byte, then the closing quote
  [[0xf0, 0x9f, 0x98], /cut short/], // '😀' without its last byte
];

describe('parseJsonArray and parseNdjson reject bytes that are not UTF-8', () => {
  test('ill-formed sequences inside a string fail at their first byte, however the body is cut', async () => {
    for (const [bad, why] of ILL_FORMED) {
      await failsAt(array, b('[1, "ab', bad, 'cd", 2]'), 7, why);
      await failsAt(ndjson, b('1\n{"k": "é', bad, '"}\n2\n'), 11, why);
      await failsAt(ndjson, b('1\n{"k": "é', bad, '"}\n2\n'), 11, /on line 2/);
    }
  });

  test('a sequence cut off by the end of the input', async () => {
    // NDJSON: the last line may lack its newline, so the line ends in half a character.
    await failsAt(ndjson, b('1\n"ab', [0xe2, 0x82]), 5, /cut off by the end/);
    await failsAt(ndjson, b('"x', [0xf0, 0x9f, 0x98]), 2, /cut off by the end/);
    // An array that ends inside an item is cut off, which is what its error says; bad bytes
    // earlier in that item are still found first.
    await failsAt(array, b('["ab', [0xe2, 0x82]), 6, /Unexpected end/);
    await failsAt(array, b('["a', [0xff], 'b', [0xe2]), 3, /never uses/);
  });

  test('outside strings, and between items', async () => {
    await failsAt(array, b('[1,', [0xff], ']'), 3);
    await failsAt(array, b('[{"a":1,', [0xc3], ':2}]'), 8, /cut short/);
    await failsAt(ndjson, b('1\n', [0xc0, 0x80], '\n'), 2, /overlong/);
    // Part of a BOM is no BOM.
    await failsAt(array, b([0xef, 0xbb], '[1]'), 0, /Expected `\[`/);
    assert.deepEqual(await array([b([0xef, 0xbb, 0xbf], '[1]')]), [1]);
  });

  test('well-formed text passes: multi-byte characters cut anywhere, and a real U+FFFD', async () => {
    const items = ['é', '€', '😀', '\ufffd', 'a\ufffdb', '\u{10ffff}', '\ud7ff\ue000'];
    const body = Buffer.from(JSON.stringify(items));
    for (const parts of splits(body)) assert.deepEqual(await array(parts), items);
    const lines = Buffer.from(items.map((s) => JSON.stringify({ s })).join('\n'));
    for (const parts of splits(lines)) {
      assert.deepEqual(
        await ndjson(parts),
        items.map((s) => ({ s })),
      );
    }
  });

  test("invalidUtf8: 'replace' reads ill-formed bytes as U+FFFD, as before", async () => {
    const body = b('["a', [0xc0, 0xaf], 'b", "', [0xed, 0xa0, 0x80], '"]');
    assert.deepEqual(await parseJsonArray([body], { invalidUtf8: 'replace' }).toArray(), [
      'a\ufffd\ufffdb',
      '\ufffd\ufffd\ufffd',
    ]);
    assert.deepEqual(
      await parseNdjson([b('"x', [0xe2, 0x82], '"')], { invalidUtf8: 'replace' }).toArray(),
      ['x\ufffd'],
    );
    assert.deepEqual(
      await parseJsonArray([body], { invalidUtf8: 'error' })
        .toArray()
        .catch((e) => e.offset),
      3,
    );
    assert.throws(() => parseJsonArray([], { invalidUtf8: 'ignore' as never }), TypeError);
    assert.throws(() => parseNdjson([], { invalidUtf8: true as never }), /`invalidUtf8`/);
  });

  test('random bytes in strings: the items when the bytes are UTF-8, else the first bad byte', async () => {
    // The oracle: the UTF-8 decoder replaces each ill-formed sequence (its maximal part)
    // with one U+FFFD, and a well-formed prefix encodes back to the same bytes; so the
    // first ill-formed sequence starts where the first U+FFFD that was not EF BF BD is.
    const firstFault = (bytes: Buffer): number => {
      const text = bytes.toString('utf8');
      let from = 0;
      for (;;) {
        const i = text.indexOf('\ufffd', from);
        if (i === -1) return -1;
        const at = Buffer.byteLength(text.slice(0, i));
        if (!(bytes[at] === 0xef && bytes[at + 1] === 0xbf && bytes[at + 2] === 0xbd)) return at;
        from = i + 1;
      }
    };
    const byte = fc.oneof(
      fc.integer({ min: 0x80, max: 0xff }),
      fc.constantFrom(0x61, 0x7a, 0x20), // a, z, space
    );
    const content = fc.oneof(
      fc
        .uint8Array({ minLength: 0, maxLength: 12 })
        .map((a) => Buffer.from(a.map((x) => 0x80 | x))),
      fc.array(byte, { maxLength: 12 }).map((a) => Buffer.from(a)),
      fc
        .string({ unit: 'grapheme', maxLength: 4 })
        .map((s) => Buffer.from(s.replace(/["\\\p{Cc}]/gu, ''))),
    );
    const strings = fc
      .array(content, { minLength: 1, maxLength: 4 })
      .map((cs) => Buffer.concat(cs));
    const cuts = fc.array(fc.nat(), { maxLength: 4 });
    await fc.assert(
      fc.asyncProperty(
        fc.array(strings, { minLength: 1, maxLength: 3 }),
        cuts,
        async (values, at) => {
          // As an array and as NDJSON, with the expected offset of the first fault.
          let arrayBody = Buffer.from('[');
          let lineBody = Buffer.alloc(0);
          let arrayFault = -1;
          let lineFault = -1;
          for (const [k, v] of values.entries()) {
            if (k > 0) arrayBody = Buffer.concat([arrayBody, Buffer.from(',')]);
            const f = firstFault(v);
            if (f !== -1 && arrayFault === -1) arrayFault = arrayBody.length + 1 + f;
            if (f !== -1 && lineFault === -1) lineFault = lineBody.length + 1 + f;
            arrayBody = Buffer.concat([arrayBody, Buffer.from('"'), v, Buffer.from('"')]);
            lineBody = Buffer.concat([lineBody, Buffer.from('"'), v, Buffer.from('"\n')]);
          }
          arrayBody = Buffer.concat([arrayBody, Buffer.from(']')]);
          const cut = (body: Buffer): Buffer[] => {
            const points = at.map((n) => n % (body.length + 1)).sort((x, y) => x - y);
            return [...points, body.length].map((p, i) =>
              body.subarray(i === 0 ? 0 : points[i - 1], p),
            );
          };
          for (const [run, body, fault] of [
            [array, arrayBody, arrayFault],
            [ndjson, lineBody, lineFault],
          ] as const) {
            const outcome = await run(cut(body)).then(
              (items) => ({ items }),
              (e: { code?: string; offset?: number }) => ({ code: e.code, offset: e.offset }),
            );
            if (fault === -1) assert.deepEqual(outcome, { items: values.map((v) => v.toString()) });
            else assert.deepEqual(outcome, { code: 'ERR_JSON_PARSE', offset: fault });
          }
        },
      ),
      { numRuns: 300, seed: 0x0f8 },
    );
  });
});
