import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  BufferPool,
  isWeirError,
  jsonArray,
  ndjson,
  parseJsonArray,
  releaseChunk,
} from '../../src/json/index.js';
import { stream } from '../../src/stream/index.js';

const text = (chunks: Uint8Array[]): string => Buffer.concat(chunks).toString('utf8');

async function* gen<T>(items: Iterable<T>): AsyncGenerator<T> {
  for (const x of items) yield x;
}

describe('jsonArray', () => {
  test('1,000,000 rows round-trip through JSON.parse and parseJsonArray', async () => {
    const N = 1_000_000;
    const rows = Array.from({ length: N }, (_, i) => ({ id: i, s: `r${i}` }));
    const chunks = await jsonArray(rows).toArray();
    const back = JSON.parse(text(chunks)) as typeof rows;
    assert.equal(back.length, N);
    let n = 0;
    await parseJsonArray<(typeof rows)[number]>(chunks).forEach((row, i) => {
      const want = rows[i]!;
      const fromParse = back[i]!;
      if (row.id !== want.id || row.s !== want.s || fromParse.id !== i || fromParse.s !== want.s) {
        assert.fail(`row ${i} differs`);
      }
      n++;
    });
    assert.equal(n, N);
  });

  test('every chunk is exactly chunkBytes but the last, multi-byte text included', async () => {
    const rows = Array.from({ length: 3000 }, (_, i) => ({ i, t: 'héllo ✓ 😀'.repeat(i % 7) }));
    for (const chunkBytes of [1, 7, 100, 4096]) {
      const chunks = await jsonArray(gen(rows), { chunkBytes }).toArray();
      for (const c of chunks.slice(0, -1)) assert.equal(c.length, chunkBytes);
      assert.ok(chunks.at(-1)!.length <= chunkBytes && chunks.at(-1)!.length > 0);
      assert.deepEqual(JSON.parse(text(chunks)), rows);
    }
  });

  test('empty source, transform (sync and async), values JSON leaves out', async () => {
    assert.equal(text(await jsonArray([]).toArray()), '[]');
    assert.equal(text(await ndjson([]).toArray()), '');
    const out = await jsonArray([1, 2, 3], { transform: async (x, i) => ({ x, i }) }).toArray();
    assert.deepEqual(JSON.parse(text(out)), [
      { x: 1, i: 0 },
      { x: 2, i: 1 },
      { x: 3, i: 2 },
    ]);
    const odd = await jsonArray([undefined, () => 1, Symbol('s'), 'x']).toArray();
    assert.equal(text(odd), JSON.stringify([undefined, () => 1, Symbol('s'), 'x']));
    assert.equal(text(await ndjson([{ a: 1 }, 'b\nc']).toArray()), '{"a":1}\n"b\\nc"\n');
  });

  test('an error at item k leaves a body that JSON.parse rejects', async () => {
    const rows = Array.from({ length: 200 }, (_, i) => ({ i, pad: 'x'.repeat(i % 13) }));
    for (const k of [0, 1, 37, 150, 199]) {
      for (const chunkBytes of [1, 16, 1024, 32 * 1024]) {
        const sent: Uint8Array[] = [];
        const failing = stream(gen(rows)).map((r) => {
          if (r.i === k) throw new Error(`row ${k} failed`);
          return r;
        });
        await assert.rejects(
          jsonArray(failing, { chunkBytes }).forEach((c) => {
            sent.push(Buffer.from(c));
          }),
          /row \d+ failed/,
        );
        assert.throws(() => JSON.parse(text(sent)), SyntaxError, `k=${k} chunkBytes=${chunkBytes}`);
      }
    }
  });

  test('an item JSON cannot encode fails with ERR_JSON_ENCODE naming its index; the source is closed', async () => {
    let closed = false;
    async function* src() {
      try {
        yield { a: 1 };
        yield { a: 2n };
        yield { a: 3 };
      } finally {
        closed = true;
      }
    }
    await assert.rejects(jsonArray(src()).toArray(), (e: unknown) => {
      assert.ok(isWeirError(e, 'ERR_JSON_ENCODE'));
      assert.equal((e as unknown as { index: number }).index, 1);
      assert.ok((e as Error).cause instanceof TypeError);
      return true;
    });
    assert.equal(closed, true);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await assert.rejects(ndjson([1, 2, 3, cyclic]).toArray(), (e: unknown) => {
      return isWeirError(e, 'ERR_JSON_ENCODE') && (e as unknown as { index: number }).index === 3;
    });
  });

  test('ndjson with errorLine ends with the error as its last line', async () => {
    const failing = stream(gen([1, 2, 3])).map((x) => {
      if (x === 3) throw new Error('db gone');
      return { x };
    });
    const body = text(
      await ndjson(failing, { errorLine: (e) => ({ error: (e as Error).message }) }).toArray(),
    );
    assert.equal(body, '{"x":1}\n{"x":2}\n{"error":"db gone"}\n');
  });

  test('signal aborts the stream and closes the source', async () => {
    const ac = new AbortController();
    let closed = false;
    async function* src() {
      try {
        for (let i = 0; ; i++) {
          if (i === 10) ac.abort(new Error('stop'));
          yield i;
        }
      } finally {
        closed = true;
      }
    }
    await assert.rejects(jsonArray(src(), { signal: ac.signal, chunkBytes: 4 }).toArray(), /stop/);
    assert.equal(closed, true);
  });

  test('buffers come back to the pool only when released, and are then reused', async () => {
    const pool = new BufferPool({ bufferBytes: 64, max: 2 });
    const rows = Array.from({ length: 100 }, (_, i) => ({ i }));
    const expected = JSON.stringify(rows);
    // A consumer that keeps every chunk: nothing is reused, nothing corrupted.
    const kept = await jsonArray(rows, { bufferPool: pool }).toArray();
    assert.equal(text(kept), expected);
    assert.equal(pool.stats().reused, 0);
    // A consumer that copies, then releases: buffers are reused and output is intact.
    const copies: Buffer[] = [];
    await jsonArray(rows, { bufferPool: pool }).forEach((c) => {
      copies.push(Buffer.from(c));
      assert.equal(releaseChunk(c), true);
      assert.equal(releaseChunk(c), false); // a second release is a no-op
    });
    assert.equal(Buffer.concat(copies).toString(), expected);
    assert.ok(pool.stats().reused > 10);
    assert.ok(pool.stats().idle <= 2);
  });

  test('options are checked at the call', () => {
    assert.throws(() => jsonArray([], { chunkBytes: 0 }), RangeError);
    assert.throws(
      () => jsonArray([], { chunkBytes: 100, bufferPool: new BufferPool({ bufferBytes: 10 }) }),
      /chunkBytes/,
    );
    assert.throws(() => jsonArray(42 as never), TypeError);
    assert.throws(() => new BufferPool({ max: 1, initial: 2 }), RangeError);
  });
});
