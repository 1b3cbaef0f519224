// jsonArray encodes the items a synchronous source gives in a row in batches (one
// JSON.stringify of several items); these tests hold it to the text and the errors of
// encoding every item alone.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isWeirError, jsonArray } from '../../src/json/index.js';

const text = (chunks: Uint8Array[]): string => Buffer.concat(chunks).toString('utf8');

// What encoding each item alone gives: the documented output.
const oneByOne = (items: readonly unknown[]): string =>
  `[${items.map((x) => JSON.stringify(x) ?? 'null').join(',')}]`;

function* sync<T>(items: Iterable<T>): Generator<T> {
  yield* items;
}

async function* slow<T>(items: Iterable<T>): AsyncGenerator<T> {
  for (const x of items) yield x;
}

// Items of every kind JSON treats apart, many times over so that batches form.
function mixed(n: number): unknown[] {
  const kinds: ((i: number) => unknown)[] = [
    (i) => ({ id: i, name: `user-${i}`, score: i / 7, tags: ['a', 'b'], active: i % 2 === 0 }),
    () => undefined,
    () => () => 1,
    (i) => Symbol(`s${i}`),
    () => null,
    (i) => i,
    (i) => `héllo ✓ 😀 ${i}`,
    (i) => new Date(Date.UTC(2026, 0, 1 + (i % 28))),
    // A top-level toJSON is called with the item's key, '' when the item is encoded alone.
    (i) => ({ i, toJSON: (key: string) => ({ key, i }) }),
    (i) => Object.assign(() => i, { toJSON: (key: string) => `fn:${key}:${i}` }),
    (i) => ({ nested: { toJSON: (key: string) => key }, i }),
    (i) => [i, undefined, () => 0],
    (i) => ({ big: 'x'.repeat(i % 300) }),
  ];
  return Array.from({ length: n }, (_, i) => kinds[i % kinds.length]!(i));
}

describe('jsonArray batches', () => {
  test('the text is byte-identical to encoding each item alone, for every kind of item', async () => {
    const many = mixed(20_000);
    // Chunks of a few bytes leave room for one item at a time: no batch forms.
    for (const [chunkBytes, items] of [
      [undefined, many],
      [100, many],
      [4096, many],
      [65_536, many],
      [1, many.slice(0, 500)],
      [7, many.slice(0, 500)],
    ] as const) {
      const want = oneByOne(items);
      for (const source of [items, sync(items)]) {
        const chunks = await jsonArray(source, { chunkBytes }).toArray();
        assert.equal(text(chunks), want, `chunkBytes=${chunkBytes}`);
        for (const c of chunks.slice(0, -1)) assert.equal(c.length, chunkBytes ?? 32 * 1024);
      }
    }
    const items = many.slice(0, 2000);
    assert.equal(text(await jsonArray(slow(items)).toArray()), oneByOne(items));
  });

  test('promises among the items and an asynchronous transform break batches without changing the text', async () => {
    const items = mixed(5000);
    const withPromises = items.map((x, i) => (i % 97 === 0 ? Promise.resolve(x) : x));
    assert.equal(text(await jsonArray(withPromises).toArray()), oneByOne(items));
    const seen: number[] = [];
    const body = await jsonArray(items, {
      transform: (x, i) => {
        seen.push(i);
        return i % 101 === 0 ? Promise.resolve({ i, x }) : { i, x };
      },
    }).toArray();
    assert.equal(text(body), oneByOne(items.map((x, i) => ({ i, x }))));
    assert.deepEqual(
      seen,
      items.map((_, i) => i),
    );
  });

  test('an item that fails in the middle of a batch fails with its own index and its own error', async () => {
    const cyclic: Record<string, unknown> = { id: 'c' };
    cyclic.self = { back: cyclic };
    const alone = (x: unknown): Error => {
      try {
        JSON.stringify(x);
      } catch (e) {
        return e as Error;
      }
      throw new Error('expected a failure');
    };
    for (const [k, bad] of [
      [700, { a: 1n }],
      [1500, cyclic],
      [
        2999,
        {
          get boom() {
            throw new Error('getter failed');
          },
        },
      ],
    ] as const) {
      const items: unknown[] = mixed(3000);
      items[k] = bad;
      let closed = false;
      function* src() {
        try {
          yield* items;
        } finally {
          closed = true;
        }
      }
      for (const source of [items, src()]) {
        await assert.rejects(jsonArray(source).toArray(), (e: unknown) => {
          assert.ok(isWeirError(e, 'ERR_JSON_ENCODE'));
          assert.equal((e as unknown as { index: number }).index, k);
          const cause = (e as Error).cause as Error;
          assert.equal(cause.constructor, alone(bad).constructor);
          assert.equal(cause.message, alone(bad).message);
          return true;
        });
      }
      assert.equal(closed, true);
    }
  });

  test('an item that cannot be encoded fails first when the source then fails or waits', async () => {
    function* throwing() {
      yield 1;
      yield 2;
      yield { a: 3n };
      yield 4;
      throw new Error('cursor lost');
    }
    await assert.rejects(jsonArray(throwing()).toArray(), (e: unknown) => {
      return isWeirError(e, 'ERR_JSON_ENCODE') && (e as unknown as { index: number }).index === 2;
    });
    // The pending item the stream stops waiting for rejects later: not unhandled.
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const late = new Promise((_, reject) => setImmediate(() => reject(new Error('late'))));
      await assert.rejects(jsonArray([1, 2, { a: 3n }, 4, late]).toArray(), (e: unknown) => {
        return isWeirError(e, 'ERR_JSON_ENCODE') && (e as unknown as { index: number }).index === 2;
      });
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(unhandled, []);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  test('an Array.prototype.toJSON does not apply to the batch', async () => {
    const items = mixed(3000);
    const want = oneByOne(items);
    const proto = Array.prototype as unknown as { toJSON?: unknown };
    proto.toJSON = function (this: unknown[]) {
      return { array: this.length };
    };
    try {
      assert.equal(text(await jsonArray(items).toArray()), oneByOne(items));
      assert.notEqual(oneByOne(items), want); // the nested arrays did change
    } finally {
      delete proto.toJSON;
    }
  });
});
