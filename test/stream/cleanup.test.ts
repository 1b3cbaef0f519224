import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { flush } from '../../src/internal/clock.js';
import { stream } from '../../src/stream/index.js';
import { deferred, range, tracked, trackedAsync } from './helpers.js';

describe('early exit closes every upstream source', () => {
  test('take closes a sync iterator and an async generator', async () => {
    const a = tracked(range(100));
    assert.deepEqual(
      await stream(a.iterable)
        .map((x) => x)
        .take(2)
        .toArray(),
      [0, 1],
    );
    assert.equal(a.log.returned, true);
    assert.equal(a.log.pulled, 2);
    const b = trackedAsync(range(100));
    assert.equal(
      await stream(b.gen())
        .batch(2)
        .map((x) => x)
        .take(1)
        .count(),
      1,
    );
    assert.equal(b.log.returned, true);
  });

  test('first() closes the source', async () => {
    const { gen, log } = trackedAsync(range(100));
    assert.equal(
      await stream(gen())
        .filter((x) => x > 3)
        .first(),
      4,
    );
    assert.equal(log.returned, true);
    assert.equal(log.pulled, 5);
  });

  test('break out of for await closes the source through every stage', async () => {
    const { gen, log } = trackedAsync(range(100));
    const s = stream(gen())
      .map((x) => x, { concurrency: 2 })
      .buffer(2)
      .flatMap((x) => [x])
      .batch(1);
    for await (const b of s) {
      assert.deepEqual(b, [0]);
      break;
    }
    assert.equal(log.returned, true);
  });

  test('an error thrown downstream closes the source', async () => {
    const { gen, log } = trackedAsync(range(100));
    await assert.rejects(
      stream(gen())
        .map((x) => x)
        .forEach((x) => {
          if (x === 3) throw new Error('consumer failed');
        }),
      /consumer failed/,
    );
    assert.equal(log.returned, true);
    assert.equal(log.pulled, 4);
  });

  test('an error in a map callback closes the source', async () => {
    const a = tracked(range(10));
    await assert.rejects(
      stream(a.iterable)
        .map((x) => {
          if (x === 2) throw new Error('map failed');
          return x;
        })
        .toArray(),
      /map failed/,
    );
    assert.equal(a.log.returned, true);
    const b = trackedAsync(range(10));
    await assert.rejects(
      stream(b.gen())
        .map(async (x) => {
          if (x === 2) throw new Error('async map failed');
          return x;
        })
        .toArray(),
      /async map failed/,
    );
    assert.equal(b.log.returned, true);
  });

  test('an abort rejects with the reason at once and closes the source', async () => {
    const gate = deferred();
    let returned = false;
    const source = {
      [Symbol.asyncIterator]() {
        return {
          next: async () => {
            await gate.promise;
            return { done: false, value: 1 };
          },
          return: async () => {
            returned = true;
            return { done: true, value: undefined };
          },
        };
      },
    };
    const ac = new AbortController();
    const p = stream(source as AsyncIterable<number>)
      .map((x) => x)
      .toArray({ signal: ac.signal });
    await flush();
    ac.abort(new Error('user stop'));
    await assert.rejects(p, /user stop/);
    assert.equal(returned, true);
    gate.resolve();
  });

  test('an already aborted signal rejects without pulling', async () => {
    const { iterable, log } = tracked(range(3));
    await assert.rejects(
      stream(iterable).count({ signal: AbortSignal.abort('no') }),
      (e) => e === 'no',
    );
    assert.equal(log.pulled, 0);
    const it = stream(iterable).values({ signal: AbortSignal.abort('no') });
    await assert.rejects(it.next(), (e) => e === 'no');
    assert.equal(log.pulled, 0);
  });

  test('early exit aborts the signal of every in-flight concurrent map call', async () => {
    const signals: AbortSignal[] = [];
    const never = deferred<number>();
    const out = await stream(range(10))
      .map(
        (x, _i, signal) => {
          if (x === 0) return x;
          signals.push(signal);
          return never.promise;
        },
        { concurrency: 4, ordered: false },
      )
      .first();
    assert.equal(out, 0);
    assert.ok(signals.length >= 1);
    assert.ok(signals.every((s) => s.aborted));
  });

  test('the iterator return() closes the source; next() after it is done', async () => {
    const { gen, log } = trackedAsync(range(10));
    const it = stream(gen()).values();
    assert.deepEqual(await it.next(), { done: false, value: 0 });
    await it.return?.();
    assert.equal(log.returned, true);
    assert.deepEqual(await it.next(), { done: true, value: undefined });
  });
});
