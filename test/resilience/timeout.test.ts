import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FakeClock, flush } from '../../src/internal/clock.js';
import { isWeirError } from '../../src/internal/errors.js';
import { TimeoutError, timeoutPolicy, withTimeout } from '../../src/resilience/index.js';

describe('withTimeout', () => {
  test('returns the result before the deadline and leaves no timer', async () => {
    const clock = new FakeClock();
    const p = withTimeout(async () => 'fast', 1_000, { clock });
    assert.equal(await p, 'fast');
    assert.equal(clock.pendingTimers, 0);
    assert.equal(await withTimeout(() => 7, 1_000, { clock }), 7);
    assert.equal(clock.pendingTimers, 0);
  });

  test('at the deadline: ERR_TIMEOUT, and the signal given to fn aborts with it', async () => {
    const clock = new FakeClock();
    let inner: AbortSignal | undefined;
    const p = withTimeout(
      ({ signal }) => {
        inner = signal;
        return new Promise(() => {}); // ignores its signal and never settles
      },
      500,
      { clock },
    );
    const settled = p.catch((e: unknown) => e);
    await clock.advance(499);
    assert.equal(inner!.aborted, false);
    await clock.advance(1);
    const err = await settled;
    assert.ok(err instanceof TimeoutError);
    assert.ok(isWeirError(err, 'ERR_TIMEOUT'));
    assert.match(err.message, /Timed out after 500 ms/);
    assert.equal(inner!.aborted, true);
    assert.equal(inner!.reason, err);
  });

  test('a late rejection after the deadline is swallowed, not unhandled', async () => {
    const clock = new FakeClock();
    let rejectLate!: (e: unknown) => void;
    const p = withTimeout(() => new Promise((_, reject) => (rejectLate = reject)), 10, { clock });
    const settled = p.catch((e: unknown) => e);
    await clock.advance(10);
    assert.ok((await settled) instanceof TimeoutError);
    rejectLate(new Error('late'));
    await flush();
  });

  test("the caller's signal aborts it sooner, with its reason, and clears the timer", async () => {
    const clock = new FakeClock();
    const ac = new AbortController();
    let inner: AbortSignal | undefined;
    const p = withTimeout(
      ({ signal }) => {
        inner = signal;
        return new Promise(() => {});
      },
      10_000,
      { clock, signal: ac.signal },
    );
    const reason = new Error('client left');
    ac.abort(reason);
    await assert.rejects(p, reason);
    assert.equal(inner!.reason, reason);
    assert.equal(clock.pendingTimers, 0);
  });

  test('an already aborted signal never calls fn', async () => {
    let called = false;
    const reason = new Error('r');
    await assert.rejects(
      withTimeout(
        () => {
          called = true;
        },
        10,
        { signal: AbortSignal.abort(reason), clock: new FakeClock() },
      ),
      reason,
    );
    assert.equal(called, false);
  });

  test("fn's own errors pass through, synchronous or not", async () => {
    const clock = new FakeClock();
    const boom = new Error('boom');
    await assert.rejects(
      withTimeout(
        () => {
          throw boom;
        },
        10,
        { clock },
      ),
      boom,
    );
    await assert.rejects(
      withTimeout(() => Promise.reject(boom), 10, { clock }),
      boom,
    );
    assert.equal(clock.pendingTimers, 0);
  });

  test('Infinity sets no deadline', async () => {
    const clock = new FakeClock();
    const p = withTimeout(() => Promise.resolve(1), Number.POSITIVE_INFINITY, { clock });
    assert.equal(clock.pendingTimers, 0);
    assert.equal(await p, 1);
  });

  test('timeoutPolicy applies the same deadline on each execute', async () => {
    const clock = new FakeClock();
    const policy = timeoutPolicy(100, { clock });
    const slow = policy.execute(() => new Promise(() => {}));
    const settled = slow.catch((e: unknown) => e);
    assert.equal(await policy.execute(() => 'ok'), 'ok');
    await clock.advance(100);
    assert.ok((await settled) instanceof TimeoutError);
  });

  test('validates its arguments', () => {
    assert.throws(() => withTimeout(() => 1, -1), /`ms`/);
    assert.throws(() => withTimeout(() => 1, Number.NaN), /`ms`/);
    assert.throws(() => withTimeout(1 as never, 10), /`fn`/);
    assert.throws(() => timeoutPolicy(-5), /`ms`/);
  });
});
