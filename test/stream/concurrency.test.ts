import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FakeClock, flush } from '../../src/internal/clock.js';
import { stream } from '../../src/stream/index.js';
import { deferred, range, trackedAsync } from './helpers.js';

describe('map with concurrency', () => {
  test('never holds more than `concurrency` calls in flight or results waiting', async () => {
    let started = 0;
    let inFlight = 0;
    let maxInFlight = 0;
    const gates = range(20).map(() => deferred<void>());
    const it = stream(range(20))
      .map(
        async (x) => {
          started++;
          inFlight++;
          maxInFlight = Math.max(maxInFlight, inFlight);
          await gates[x]!.promise;
          inFlight--;
          return x;
        },
        { concurrency: 3 },
      )
      .values();
    const first = it.next();
    await flush();
    assert.equal(started, 3);
    gates[0]!.resolve();
    assert.deepEqual(await first, { done: false, value: 0 });
    await flush();
    assert.equal(started, 4, 'taking a result frees one slot');
    // Every started call finishes, but nobody takes the results: nothing more may start.
    for (const g of gates) g.resolve();
    await flush();
    assert.equal(started, 4);
    assert.equal(inFlight, 0);
    const out = [0];
    let taken = 1;
    for (;;) {
      const r = await it.next();
      if (r.done) break;
      taken++;
      out.push(r.value);
      assert.ok(started - taken <= 3, `${started - taken} held`);
    }
    assert.deepEqual(out, range(20));
    assert.equal(maxInFlight, 3);
  });

  test('ordered: true keeps input order; false emits in completion order', async () => {
    const delays = [30, 10, 20, 0];
    const clock = new FakeClock();
    const work = (x: number) =>
      new Promise<number>((r) => clock.setTimeout(() => r(x), delays[x]!));
    const ordered = stream(range(4)).map(work, { concurrency: 4 }).toArray();
    const unordered = stream(range(4)).map(work, { concurrency: 4, ordered: false }).toArray();
    await clock.advance(50);
    assert.deepEqual(await ordered, [0, 1, 2, 3]);
    assert.deepEqual(await unordered, [3, 1, 2, 0]);
  });

  test('sync callbacks with concurrency stay correct', async () => {
    assert.deepEqual(
      await stream(range(10))
        .map((x) => x * x, { concurrency: 4 })
        .toArray(),
      range(10).map((x) => x * x),
    );
    assert.deepEqual(
      await stream([])
        .map((x) => x, { concurrency: 2 })
        .toArray(),
      [],
    );
  });
});

describe('buffer', () => {
  test('runs the upstream ahead by at most n items while the consumer is busy', async () => {
    const { gen, log } = trackedAsync(range(100));
    const it = stream(gen()).buffer(5).values();
    assert.deepEqual(await it.next(), { done: false, value: 0 });
    await flush(10);
    // One taken, five waiting, and the source has gone no further.
    assert.equal(log.pulled, 6);
    await it.next();
    await flush(10);
    assert.equal(log.pulled, 7);
    await it.return?.();
    assert.equal(log.returned, true);
  });
});

describe('batch with maxWaitMs', () => {
  test('emits a partial batch maxWaitMs after its first item; the pending pull carries over', async () => {
    const clock = new FakeClock();
    const gates = range(4).map(() => deferred<void>());
    async function* src() {
      for (let i = 0; i < 4; i++) {
        await gates[i]!.promise;
        yield i;
      }
    }
    const it = stream(src()).batch(3, { maxWaitMs: 100, clock }).values();
    const b1 = it.next();
    gates[0]!.resolve();
    gates[1]!.resolve();
    await flush();
    await clock.advance(100);
    assert.deepEqual(await b1, { done: false, value: [0, 1] });
    const b2 = it.next();
    gates[2]!.resolve();
    gates[3]!.resolve();
    assert.deepEqual(await b2, { done: false, value: [2, 3] });
    assert.deepEqual(await it.next(), { done: true, value: undefined });
    assert.equal(clock.pendingTimers, 0);
  });

  test('stopping while a batch timer runs clears it', async () => {
    const clock = new FakeClock();
    const gate = deferred<void>();
    async function* src() {
      yield 1;
      await gate.promise;
    }
    const ac = new AbortController();
    const p = stream(src()).batch(5, { maxWaitMs: 100, clock }).toArray({ signal: ac.signal });
    await flush();
    assert.equal(clock.pendingTimers, 1);
    ac.abort();
    await assert.rejects(p, { name: 'AbortError' });
    assert.equal(clock.pendingTimers, 0);
  });
});

describe('rateLimit', () => {
  test('paces pulls to perSecond after the burst, on the injected clock', async () => {
    const clock = new FakeClock();
    const times: number[] = [];
    const p = stream(range(5))
      .rateLimit(10, { burst: 2, clock })
      .forEach(() => {
        times.push(clock.now());
      });
    await clock.runAll();
    await p;
    assert.deepEqual(times, [0, 0, 100, 200, 300]);
    assert.equal(clock.pendingTimers, 0);
  });

  test('an abort during the wait clears the timer', async () => {
    const clock = new FakeClock();
    const ac = new AbortController();
    const p = stream(range(5)).rateLimit(1, { clock }).toArray({ signal: ac.signal });
    await flush();
    assert.equal(clock.pendingTimers, 1);
    ac.abort('stop');
    await assert.rejects(p, (e) => e === 'stop');
    assert.equal(clock.pendingTimers, 0);
  });
});
