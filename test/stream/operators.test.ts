import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Stream, stream } from '../../src/stream/index.js';
import { range, tracked, trackedAsync } from './helpers.js';

describe('operators', () => {
  test('map, filter, take, drop, takeWhile, tap over a sync source', async () => {
    const seen: number[] = [];
    const out = await stream(range(20))
      .map((x) => x * 2)
      .filter((x) => x % 3 === 0)
      .drop(1)
      .tap((x) => seen.push(x))
      .takeWhile((x) => x < 30)
      .take(3)
      .toArray();
    assert.deepEqual(out, [6, 12, 18]);
    assert.deepEqual(seen, [6, 12, 18]);
  });

  test('callbacks get the index; map gets a signal', async () => {
    const calls: [number, number, boolean][] = [];
    await stream(['a', 'b', 'c'])
      .map((v, i, signal) => {
        calls.push([v.charCodeAt(0), i, signal instanceof AbortSignal]);
        return v;
      })
      .toArray();
    assert.deepEqual(calls, [
      [97, 0, true],
      [98, 1, true],
      [99, 2, true],
    ]);
    assert.deepEqual(
      await stream([5, 6, 7])
        .filter((_, i) => i !== 1)
        .toArray(),
      [5, 7],
    );
  });

  test('async callbacks are awaited, in order', async () => {
    const out = await stream(range(6))
      .map(async (x) => x + 1)
      .filter(async (x) => x % 2 === 0)
      .tap(async () => {})
      .takeWhile(async (x) => x < 6)
      .toArray();
    assert.deepEqual(out, [2, 4]);
  });

  test('flatMap over sync, async and stream inner sources', async () => {
    const out = await stream([1, 2, 3])
      .flatMap((x) =>
        x === 1 ? [x, x] : x === 2 ? trackedAsync([x]).gen() : stream([x]).map((y) => y * 10),
      )
      .toArray();
    assert.deepEqual(out, [1, 1, 2, 30]);
    assert.deepEqual(
      await stream([[], [1], []])
        .flatMap((x) => [...x])
        .toArray(),
      [1],
    );
    assert.deepEqual(
      await stream([1, 2])
        .flatMap(async (x) => [x, -x])
        .toArray(),
      [1, -1, 2, -2],
    );
  });

  test('batch groups items; the last batch may be short', async () => {
    assert.deepEqual(await stream(range(7)).batch(3).toArray(), [[0, 1, 2], [3, 4, 5], [6]]);
    assert.deepEqual(await stream([]).batch(3).toArray(), []);
    assert.deepEqual(
      await stream(trackedAsync(range(4)).gen())
        .batch(2)
        .toArray(),
      [
        [0, 1],
        [2, 3],
      ],
    );
  });

  test('terminals: reduce, forEach, first, count', async () => {
    assert.equal(await stream(range(5)).reduce((a, b) => a + b, 0), 10);
    assert.equal(await stream(range(5)).reduce(async (a, b) => a + b, 1), 11);
    const seen: number[] = [];
    await stream([1, 2]).forEach(async (x) => {
      seen.push(x);
    });
    assert.deepEqual(seen, [1, 2]);
    assert.equal(await stream([9, 8]).first(), 9);
    assert.equal(await stream([]).first(), undefined);
    assert.equal(await stream(range(42)).count(), 42);
  });

  test('sources: strings, Sets, generators, promises among values, and another stream', async () => {
    assert.deepEqual(await stream('ab').toArray(), ['a', 'b']);
    assert.deepEqual(await stream(new Set([1, 2])).toArray(), [1, 2]);
    assert.deepEqual(await stream([Promise.resolve(1), 2]).toArray(), [1, 2]);
    const s = stream([1]);
    assert.equal(stream(s), s);
    assert.ok(s instanceof Stream);
  });

  test('each terminal runs the pipeline afresh from its source', async () => {
    const s = stream([1, 2, 3]).map((x) => x * 2);
    assert.deepEqual(await s.toArray(), [2, 4, 6]);
    assert.equal(await s.count(), 3);
  });

  test('for await over a stream', async () => {
    const out: number[] = [];
    for await (const x of stream(range(4)).map((x) => x + 1)) out.push(x);
    assert.deepEqual(out, [1, 2, 3, 4]);
  });

  test('a fused operator chain does not fork: branches from one stream stay independent', async () => {
    const base = stream(range(5)).map((x) => x + 1);
    const evens = base.filter((x) => x % 2 === 0);
    const odds = base.filter((x) => x % 2 === 1);
    assert.deepEqual(await evens.toArray(), [2, 4]);
    assert.deepEqual(await odds.toArray(), [1, 3, 5]);
    assert.deepEqual(await base.toArray(), [1, 2, 3, 4, 5]);
  });

  test('bad arguments throw at once, naming the option', async () => {
    const s = stream([1]);
    assert.throws(() => stream(42 as never), /stream source/);
    assert.throws(() => stream(null as never), TypeError);
    assert.throws(() => s.map('x' as never), /`fn`/);
    assert.throws(() => s.map((x) => x, { concurrency: 0 }), /`concurrency`/);
    assert.throws(() => s.map((x) => x, { ordered: 'yes' as never }), /`ordered`/);
    assert.throws(() => s.take(-1), /`count`/);
    assert.throws(() => s.drop(1.5), /`count`/);
    assert.throws(() => s.batch(0), /`size`/);
    assert.throws(() => s.batch(2, { maxWaitMs: -1 }), /`maxWaitMs`/);
    assert.throws(() => s.buffer(0), /`size`/);
    assert.throws(() => s.rateLimit(0), /`perSecond`/);
    assert.throws(() => s.rateLimit(1, { burst: 0 }), /`burst`/);
    assert.throws(() => s.timeout(0), /`ms`/);
    // Terminals are async: a bad option rejects their promise.
    await assert.rejects(s.toArray({ signal: 1 as never }), /`signal`/);
    assert.throws(() => s.values({ signal: 1 as never }), /`signal`/);
  });
});

describe('laziness and fusion', () => {
  test('nothing is pulled before a terminal pulls', async () => {
    const { iterable, log } = tracked(range(10));
    const s = stream(iterable)
      .map((x) => x)
      .filter(() => true)
      .batch(2)
      .buffer(3);
    assert.equal(log.pulled, 0);
    await s.first();
    assert.ok(log.pulled > 0);
  });

  test('a sync source with sync operators runs to the end without a promise per item', async () => {
    let calls = 0;
    const done = stream(range(10_000))
      .map((x) => {
        calls++;
        return x + 1;
      })
      .filter((x) => x % 2 === 0)
      .reduce((a, b) => a + b, 0);
    // The whole pipeline ran inside the call: no microtask was needed between items.
    assert.equal(calls, 10_000);
    assert.equal(await done, 25_005_000);
  });

  test('take(0) pulls nothing', async () => {
    const { iterable, log } = tracked(range(3));
    assert.deepEqual(
      await stream(iterable)
        .map((x) => x)
        .take(0)
        .toArray(),
      [],
    );
    assert.equal(log.pulled, 0);
  });

  test('take stops pulling after its last item, even through async callbacks', async () => {
    const { gen, log } = trackedAsync(range(100));
    const out = await stream(gen())
      .map(async (x) => x)
      .take(3)
      .toArray();
    assert.deepEqual(out, [0, 1, 2]);
    assert.equal(log.pulled, 3);
    assert.equal(log.returned, true);
  });
});
