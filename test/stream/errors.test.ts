import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isWeirError } from '../../src/channel/index.js';
import { FakeClock, flush } from '../../src/internal/clock.js';
import { StreamTimeoutError, stream } from '../../src/stream/index.js';
import { deferred, range } from './helpers.js';

async function* failing(after: number, error = new Error('source failed')) {
  for (let i = 0; i < after; i++) yield i;
  throw error;
}

describe('error propagation', () => {
  test('an upstream error reaches the consumer once, after the items before it', async () => {
    const seen: number[] = [];
    let mapCalls = 0;
    const it = stream(failing(2))
      .map((x) => {
        mapCalls++;
        return x;
      })
      .values();
    for (;;) {
      try {
        const r = await it.next();
        if (r.done) break;
        seen.push(r.value);
      } catch (e) {
        assert.match(String(e), /source failed/);
        break;
      }
    }
    assert.deepEqual(seen, [0, 1]);
    assert.deepEqual(await it.next(), { done: true, value: undefined });
    assert.equal(mapCalls, 2, 'no operator runs after the error');
  });

  test('a sync source that throws rejects the terminal', async () => {
    function* bad() {
      yield 1;
      throw new Error('sync source failed');
    }
    await assert.rejects(stream(bad()).toArray(), /sync source failed/);
  });

  test('errors pass through buffer, batch, flatMap and concurrent map', async () => {
    await assert.rejects(stream(failing(3)).buffer(2).toArray(), /source failed/);
    await assert.rejects(stream(failing(3)).batch(2).toArray(), /source failed/);
    await assert.rejects(
      stream([1])
        .flatMap(() => failing(1))
        .toArray(),
      /source failed/,
    );
    await assert.rejects(
      stream(failing(3))
        .map(async (x) => x, { concurrency: 2 })
        .toArray(),
      /source failed/,
    );
  });

  test('buffer reports an upstream error after the items pulled before it', async () => {
    const it = stream(failing(2)).buffer(5).values();
    assert.deepEqual(await it.next(), { done: false, value: 0 });
    assert.deepEqual(await it.next(), { done: false, value: 1 });
    await assert.rejects(it.next(), /source failed/);
  });

  test('a concurrent map failure aborts the other calls and is reported once', async () => {
    const signals: AbortSignal[] = [];
    const hang = deferred<number>();
    await assert.rejects(
      stream(range(5))
        .map(
          (x, _i, signal) => {
            signals.push(signal);
            if (x === 2) return Promise.reject(new Error('call failed'));
            return hang.promise;
          },
          { concurrency: 3 },
        )
        .toArray(),
      /call failed/,
    );
    assert.ok(signals.every((s) => s.aborted));
  });
});

describe('catchError', () => {
  test('continues with the source the handler returns', async () => {
    const out = await stream(failing(2))
      .catchError((e) => {
        assert.match(String(e), /source failed/);
        return ['recovered'];
      })
      .toArray();
    assert.deepEqual(out, [0, 1, 'recovered']);
  });

  test('ends quietly when the handler returns nothing; a handler error goes on', async () => {
    assert.deepEqual(
      await stream(failing(1))
        .catchError(() => {})
        .toArray(),
      [0],
    );
    await assert.rejects(
      stream(failing(1))
        .catchError(() => {
          throw new Error('handler failed');
        })
        .toArray(),
      /handler failed/,
    );
  });

  test('catches errors of operators upstream of it, not downstream', async () => {
    const out = await stream([1, 2, 3])
      .map((x) => {
        if (x === 2) throw new Error('boom');
        return x;
      })
      .catchError(async () => [20])
      .toArray();
    assert.deepEqual(out, [1, 20]);
    await assert.rejects(
      stream([1])
        .catchError(() => [0])
        .map(() => {
          throw new Error('after');
        })
        .toArray(),
      /after/,
    );
  });
});

describe('timeout', () => {
  test('fails with ERR_STREAM_TIMEOUT when an item takes too long, and closes the source', async () => {
    const clock = new FakeClock();
    let returned = false;
    const gate = deferred();
    async function* slow() {
      try {
        yield 1;
        await gate.promise;
        yield 2;
      } finally {
        returned = true;
      }
    }
    const p = stream(slow()).timeout(100, { clock }).toArray();
    p.catch(() => {});
    await clock.advance(99);
    await clock.advance(1);
    await assert.rejects(
      p,
      (e) => e instanceof StreamTimeoutError && isWeirError(e, 'ERR_STREAM_TIMEOUT'),
    );
    gate.resolve();
    await flush();
    assert.equal(returned, true);
    assert.equal(clock.pendingTimers, 0);
  });

  test('items within the limit pass, each with its own deadline; no timer is left', async () => {
    const clock = new FakeClock();
    async function* ticking() {
      for (let i = 0; i < 3; i++) {
        await new Promise<void>((r) => clock.setTimeout(r, 60));
        yield i;
      }
    }
    const p = stream(ticking()).timeout(100, { clock }).toArray();
    await clock.advance(200);
    assert.deepEqual(await p, [0, 1, 2]);
    assert.equal(clock.pendingTimers, 0);
    assert.deepEqual(await stream([1, 2]).timeout(1, { clock }).toArray(), [1, 2]);
  });
});
