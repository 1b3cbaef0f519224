import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FakeClock, realClock } from '../../src/internal/clock.js';

describe('FakeClock', () => {
  test('fires timers in due order, then creation order, only when advanced', async () => {
    const clock = new FakeClock(100);
    const fired: string[] = [];
    clock.setTimeout(() => fired.push('b'), 20);
    clock.setTimeout(() => fired.push('a'), 10);
    clock.setTimeout(() => fired.push('c'), 20);
    const gone = clock.setTimeout(() => fired.push('cleared'), 5);
    clock.clearTimeout(gone);
    assert.equal(clock.pendingTimers, 3);
    await clock.advance(15);
    assert.deepEqual(fired, ['a']);
    assert.equal(clock.now(), 115);
    await clock.advance(5);
    assert.deepEqual(fired, ['a', 'b', 'c']);
    assert.equal(clock.pendingTimers, 0);
  });

  test('timers scheduled by a firing timer fire within the same advance', async () => {
    const clock = new FakeClock();
    const at: number[] = [];
    clock.setTimeout(() => {
      at.push(clock.now());
      clock.setTimeout(() => at.push(clock.now()), 10);
    }, 10);
    await clock.advance(25);
    assert.deepEqual(at, [10, 20]);
  });

  test('runAll fires everything and a non-finite delay schedules nothing', async () => {
    const clock = new FakeClock();
    assert.equal(
      clock.setTimeout(() => {}, Number.POSITIVE_INFINITY),
      undefined,
    );
    let n = 0;
    clock.setTimeout(() => n++, 1_000_000);
    await clock.runAll();
    assert.equal(n, 1);
    assert.equal(clock.now(), 1_000_000);
  });
});

describe('realClock', () => {
  test('is monotonic and its timers can be cleared', () => {
    const a = realClock.now();
    assert.ok(realClock.now() >= a);
    let fired = false;
    const t = realClock.setTimeout(
      () => {
        fired = true;
      },
      1,
      true,
    );
    realClock.clearTimeout(t);
    const long = realClock.setTimeout(() => {}, 2 ** 32, true);
    realClock.clearTimeout(long);
    realClock.clearTimeout(undefined);
    assert.equal(fired, false);
  });
});
