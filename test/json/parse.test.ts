import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isWeirError, parseJsonArray, parseNdjson } from '../../src/json/index.js';

const VALUES: unknown[] = [
  1,
  -2.5e3,
  true,
  false,
  null,
  'a"b\\',
  '\\',
  'q\\"',
  { a: [1, { b: ']}' }], x: '\\\\', '"': '{' },
  [],
  {},
  [[[]]],
  'héllo ✓ 😀',
  0,
];

const splits = (bytes: Buffer, at: number, step: number): Buffer[][] => {
  const out: Buffer[][] = [];
  for (let b = at; b <= bytes.length; b += step) {
    out.push([bytes.subarray(0, at), bytes.subarray(at, b), bytes.subarray(b)]);
  }
  return out;
};

describe('parseJsonArray', () => {
  test('gives the same items however the body is split', async () => {
    const bytes = Buffer.from(`\ufeff${JSON.stringify(VALUES, null, 1)}\n`);
    for (let a = 0; a <= bytes.length; a++) {
      for (const parts of splits(bytes, a, 5)) {
        assert.deepEqual(await parseJsonArray(parts).toArray(), VALUES, `split at ${a}`);
      }
    }
  });

  test('malformed bodies fail with ERR_JSON_PARSE and the byte offset', async () => {
    const cases: [string, number][] = [
      ['', 0],
      ['[', 1],
      ['[1,]', 3],
      ['[,1]', 1],
      ['[1 2]', 3],
      ['[1]x', 3],
      ['{"a":1}', 0],
      ['[1, {"a":1]', 4],
      ['[tru]', 1],
      ['[1', 2],
      ['["abc', 5],
    ];
    for (const [body, offset] of cases) {
      await assert.rejects(parseJsonArray([body]).toArray(), (e: unknown) => {
        assert.ok(isWeirError(e, 'ERR_JSON_PARSE'), `${body}: ${String(e)}`);
        assert.equal((e as unknown as { offset: number }).offset, offset, body);
        return true;
      });
    }
  });

  test('an item over maxItemBytes fails before the rest of it is read', async () => {
    let pulled = 0;
    function* hostile() {
      yield '[1,"';
      for (;;) {
        pulled++;
        if (pulled > 1000) throw new Error('read too far');
        yield 'x'.repeat(100);
      }
    }
    await assert.rejects(parseJsonArray(hostile(), { maxItemBytes: 1000 }).toArray(), (e) => {
      assert.ok(isWeirError(e, 'ERR_JSON_ITEM_TOO_LARGE'));
      assert.equal((e as unknown as { offset: number }).offset, 3);
      return true;
    });
    assert.ok(pulled <= 11, `pulled ${pulled}`);
    await assert.rejects(
      parseJsonArray([`[{"a":"${'y'.repeat(200)}"}]`], { maxItemBytes: 100 }).toArray(),
      (e) => isWeirError(e, 'ERR_JSON_ITEM_TOO_LARGE'),
    );
  });

  test('stopping early closes the body source', async () => {
    let closed = false;
    async function* body() {
      try {
        yield '[1,2,';
        yield '3,4,';
        yield '5]';
      } finally {
        closed = true;
      }
    }
    assert.deepEqual(await parseJsonArray(body()).take(3).toArray(), [1, 2, 3]);
    assert.equal(closed, true);
  });
});

describe('parseNdjson', () => {
  test('LF and CRLF lines, blank lines, a last line without newline, any split', async () => {
    const bytes = Buffer.from(
      `${VALUES.map((v) => JSON.stringify(v)).join('\r\n')}\n\n  \n${JSON.stringify({ end: 1 })}`,
    );
    for (let a = 0; a <= bytes.length; a++) {
      for (const parts of splits(bytes, a, 9)) {
        assert.deepEqual(await parseNdjson(parts).toArray(), [...VALUES, { end: 1 }]);
      }
    }
  });

  test('a bad line fails with its line number and offset; a long line with ERR_JSON_ITEM_TOO_LARGE', async () => {
    await assert.rejects(parseNdjson(['1\n2\n{x}\n']).toArray(), (e) => {
      assert.ok(isWeirError(e, 'ERR_JSON_PARSE'));
      assert.equal((e as unknown as { offset: number }).offset, 4);
      assert.match((e as Error).message, /line 3/);
      return true;
    });
    await assert.rejects(
      parseNdjson(['1\n', `"${'z'.repeat(50)}`, `${'z'.repeat(50)}"\n`], {
        maxItemBytes: 64,
      }).toArray(),
      (e) =>
        isWeirError(e, 'ERR_JSON_ITEM_TOO_LARGE') &&
        (e as unknown as { offset: number }).offset === 2,
    );
  });
});
