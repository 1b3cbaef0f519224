// Stopping a stream early must give control back to the consumer at once, even while the
// source is parked in an `await` that never settles (an async generator's return() waits
// behind its pending next()). The source's return() is still called, and a failure of it
// is reported through `onCleanupError` or, without one, as an unhandled rejection.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { Channel } from '../../src/channel/index.js';
import { FakeClock, flush } from '../../src/internal/clock.js';
import { type Stream, stream } from '../../src/stream/index.js';

// Every test here would hang without the fix; the runner's timeout bounds it.
const bounded = { timeout: 5_000 };
const never = new Promise<never>(() => {});

/**
 * An async generator that yields `items`, then parks on a promise that never settles,
 * wrapped to note each call of its return().
 */
function parked<T>(items: T[]) {
  const log = { returnCalls: 0, finallyRan: false };
  async function* gen(): AsyncGenerator<T> {
    try {
      for (const x of items) yield x;
      await never;
    } finally {
      log.finallyRan = true;
    }
  }
  const g = gen();
  const source: AsyncIterableIterator<T> = {
    next: () => g.next(),
    return: (v?: unknown) => {
      log.returnCalls++;
      return g.return(v as T);
    },
    [Symbol.asyncIterator]() {
      return source;
    },
  };
  return { source, log };
}

/** A hand-written async iterator that parks after `items` and whose return() rejects. */
function parkedFailingReturn<T>(items: T[], error: Error) {
  const log = { returnCalls: 0 };
  let i = 0;
  const source: AsyncIterableIterator<T> = {
    next: () => (i < items.length ? Promise.resolve({ done: false, value: items[i++]! }) : never),
    return: () => {
      log.returnCalls++;
      return Promise.reject(error);
    },
    [Symbol.asyncIterator]() {
      return source;
    },
  };
  return { source, log };
}

// The stages that keep a pull of their own pending on the upstream.
const prefetchers: [string, (s: Stream<number>) => Stream<unknown>][] = [
  ['map (concurrency 8, ordered)', (s) => s.map((x) => x, { concurrency: 8 })],
  [
    'map (concurrency 8, unordered)',
    (s) => s.map(async (x) => x, { concurrency: 8, ordered: false }),
  ],
  ['buffer(8)', (s) => s.buffer(8)],
  [
    'map (concurrency 8) then flatMap',
    (s) => s.map((x) => x, { concurrency: 8 }).flatMap((x) => [x]),
  ],
  [
    'flatMap over a parked inner, then buffer',
    (s) =>
      stream([0])
        .flatMap(() => s)
        .buffer(4),
  ],
];

// Every way a consumer stops early; each must return (or reject with its own error) at once.
const stops: [string, (s: Stream<unknown>) => Promise<unknown>][] = [
  [
    'break out of for await',
    async (s) => {
      for await (const _ of s) break;
    },
  ],
  ['first()', (s) => s.first()],
  ['take(1).toArray()', (s) => s.take(1).toArray()],
  ['takeWhile(false).count()', (s) => s.takeWhile(() => false).count()],
  [
    'a throwing forEach callback',
    (s) =>
      assert.rejects(
        s.forEach(() => {
          throw new Error('consumer failed');
        }),
        /consumer failed/,
      ),
  ],
  [
    'a throwing reduce callback',
    (s) =>
      assert.rejects(
        s.reduce(() => {
          throw new Error('reducer failed');
        }, 0),
        /reducer failed/,
      ),
  ],
  [
    'a map callback that throws downstream',
    (s) =>
      assert.rejects(
        s
          .map(() => {
            throw new Error('map failed');
          })
          .toArray(),
        /map failed/,
      ),
  ],
  [
    'a throwing for await body',
    (s) =>
      assert.rejects(async () => {
        for await (const _ of s) throw new Error('loop body failed');
      }, /loop body failed/),
  ],
  [
    'pipeTo a channel closed under it',
    (s) => {
      const ch = new Channel<unknown>();
      ch.close();
      return assert.rejects(s.pipeTo(ch), { code: 'ERR_CHANNEL_CLOSED' });
    },
  ],
  [
    'pipeTo a Writable that fails',
    (s) =>
      assert.rejects(
        s.pipeTo(
          new Writable({
            objectMode: true,
            write: (_chunk, _enc, cb) => cb(new Error('write failed')),
          }),
        ),
        /write failed/,
      ),
  ],
  [
    'cancel of toReadableStream() while a read is pending',
    async (s) => {
      const reader = s.toReadableStream().getReader();
      await reader.read();
      const pending = reader.read();
      await flush();
      await reader.cancel();
      assert.deepEqual(await pending, { done: true, value: undefined });
    },
  ],
  [
    'destroy of toReadable()',
    async (s) => {
      const readable = s.toReadable();
      for await (const _ of readable) break;
      assert.equal(readable.destroyed, true);
    },
  ],
];

describe('stopping early while the source is parked returns at once', () => {
  for (const [pname, prefetch] of prefetchers) {
    for (const [sname, stop] of stops) {
      test(`${pname}, ${sname}`, bounded, async () => {
        // One item: the stage's next pull, made as that item passes, parks the source.
        const { source, log } = parked([1]);
        await stop(prefetch(stream(source)));
        assert.equal(log.returnCalls, 1, "the source's return() was called");
        assert.equal(log.finallyRan, false, 'it is still parked');
      });
    }
  }

  test('batch with maxWaitMs: first() after a timed-out batch', bounded, async () => {
    const clock = new FakeClock();
    const { source, log } = parked([1]);
    const p = stream(source).batch(10, { maxWaitMs: 10, clock }).first();
    await flush();
    await clock.advance(10);
    assert.deepEqual(await p, [1]);
    assert.equal(log.returnCalls, 1);
    assert.equal(clock.pendingTimers, 0);
  });

  test('batch with maxWaitMs: break after a timed-out batch', bounded, async () => {
    const clock = new FakeClock();
    const { source, log } = parked([1, 2]);
    const it = stream(source).batch(10, { maxWaitMs: 10, clock }).values();
    const p = it.next();
    await flush();
    await clock.advance(10);
    assert.deepEqual(await p, { done: false, value: [1, 2] });
    await it.return?.();
    assert.equal(log.returnCalls, 1);
  });

  test('iterator return() while its next() waits on the parked source', bounded, async () => {
    const { source, log } = parked([1]);
    const it = stream(source)
      .map((x) => x * 2)
      .values();
    assert.deepEqual(await it.next(), { done: false, value: 2 });
    void it.next(); // parks
    await flush();
    assert.deepEqual(await it.return?.(), { done: true, value: undefined });
    assert.equal(log.returnCalls, 1);
  });

  test('a source that is not parked is still waited for: its cleanup has run', async () => {
    const { source, log } = parked([1, 2, 3]);
    for await (const _ of stream(source).map((x) => x)) break;
    assert.equal(log.finallyRan, true);
  });
});

describe('a failing return() is reported, not lost', () => {
  test(
    'to onCleanupError, when the source is parked; the terminal is unaffected',
    bounded,
    async () => {
      const error = new Error('cleanup failed');
      const { source, log } = parkedFailingReturn([1, 2], error);
      const seen: unknown[] = [];
      const first = await stream(source)
        .map((x) => x, { concurrency: 4 })
        .first({ onCleanupError: (e) => seen.push(e) });
      assert.equal(first, 1);
      assert.equal(log.returnCalls, 1);
      await flush();
      assert.deepEqual(seen, [error]);
    },
  );

  test('to onCleanupError, when the source is idle (a generator whose finally throws)', async () => {
    const error = new Error('finally failed');
    async function* gen() {
      try {
        yield 1;
        yield 2;
      } finally {
        // biome-ignore lint/correctness/noUnsafeFinally: the defect under test
        throw error;
      }
    }
    const seen: unknown[] = [];
    const s = stream(gen()).map((x) => x);
    for await (const _ of s.values({ onCleanupError: (e) => seen.push(e) })) break;
    assert.deepEqual(seen, [error]);
  });

  test("a consumer's own error wins; the cleanup failure is reported beside it", async () => {
    const error = new Error('cleanup failed');
    const { source } = parkedFailingReturn([1, 2, 3], error);
    const seen: unknown[] = [];
    await assert.rejects(
      stream(source)
        .buffer(2)
        .forEach(
          () => {
            throw new Error('consumer failed');
          },
          { onCleanupError: (e) => seen.push(e) },
        ),
      /consumer failed/,
    );
    await flush();
    assert.deepEqual(seen, [error]);
  });

  test('a sync iterator whose return() throws, and a ReadableStream whose cancel rejects', async () => {
    const seen: unknown[] = [];
    const onCleanupError = (e: unknown) => seen.push(e);
    const iterable: Iterable<number> = {
      [Symbol.iterator]: () => ({
        next: () => ({ done: false, value: 1 }),
        return: () => {
          throw new Error('sync return failed');
        },
      }),
    };
    assert.equal(await stream(iterable).first({ onCleanupError }), 1);
    const rs = new ReadableStream<number>({
      pull: (c) => c.enqueue(1),
      cancel: () => Promise.reject(new Error('cancel failed')),
    });
    assert.deepEqual(await stream(rs).take(1).toArray({ onCleanupError }), [1]);
    await flush();
    assert.deepEqual(
      seen.map((e) => (e as Error).message),
      ['sync return failed', 'cancel failed'],
    );
  });

  test('to onCleanupError after a timeout stopped a parked source', async () => {
    const clock = new FakeClock();
    const error = new Error('cleanup failed');
    const { source } = parkedFailingReturn([1], error);
    const seen: unknown[] = [];
    const p = stream(source)
      .timeout(50, { clock })
      .toArray({ onCleanupError: (e) => seen.push(e) });
    const rejected = assert.rejects(p, { code: 'ERR_STREAM_TIMEOUT' });
    await flush();
    await clock.advance(50);
    await rejected;
    await flush();
    assert.deepEqual(seen, [error]);
  });

  test('rejects a bad onCleanupError', () => {
    const s = stream([1]);
    assert.throws(() => s.values({ onCleanupError: 1 as never }), /`onCleanupError`/);
    assert.rejects(s.toArray({ onCleanupError: 'x' as never }), /`onCleanupError`/);
  });

  test('a throwing onCleanupError is itself reported as an unhandled rejection', async () => {
    const hookError = new Error('hook failed');
    const { source } = parkedFailingReturn([1], new Error('cleanup failed'));
    const reported = await unhandledDuring(async () => {
      await stream(source)
        .buffer(2)
        .first({
          onCleanupError: () => {
            throw hookError;
          },
        });
    });
    assert.deepEqual(reported, [hookError]);
  });

  describe('without onCleanupError', () => {
    test('it is an unhandled rejection carrying the error', async () => {
      const error = new Error('cleanup failed');
      const { source, log } = parkedFailingReturn([1, 2], error);
      const reported = await unhandledDuring(async () => {
        for await (const _ of stream(source).map((x) => x, { concurrency: 8 })) break;
      });
      assert.equal(log.returnCalls, 1);
      assert.deepEqual(reported, [error]);
    });
  });
});

// The test runner turns an unhandled rejection into a failure of the running test, so its
// listeners step aside while `fn` runs and the rejections it leaves are collected instead.
let saved: NodeJS.UnhandledRejectionListener[] = [];
beforeEach(() => {
  saved = [];
});
afterEach(() => {
  for (const l of saved) process.on('unhandledRejection', l);
  saved = [];
});
async function unhandledDuring(fn: () => Promise<void>): Promise<unknown[]> {
  saved = process.listeners('unhandledRejection');
  process.removeAllListeners('unhandledRejection');
  const reported: unknown[] = [];
  const collect = (reason: unknown): void => {
    reported.push(reason);
  };
  process.on('unhandledRejection', collect);
  try {
    await fn();
    // Node reports unhandled rejections after the microtask queue drains.
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('unhandledRejection', collect);
    for (const l of saved) process.on('unhandledRejection', l);
    saved = [];
  }
  return reported;
}
