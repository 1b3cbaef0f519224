import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FakeClock, flush } from '../../src/internal/clock.js';
import { isWeirError } from '../../src/internal/errors.js';
import { createPool, type PoolStats } from '../../src/pool/index.js';
import { deferred, factory, track } from '../helpers/resources.js';

/** Every resource open or being created is in exactly one of the stats' states. */
function accounted(s: PoolStats): void {
  assert.equal(s.idle + s.active + s.validating + s.resetting + s.creating, s.size);
}

describe('close() during a validate or a reset', () => {
  test('aborts the validation, clears its deadline, and destroys only after validate let go', async () => {
    const clock = new FakeClock();
    const f = factory();
    const result = deferred<boolean>();
    let signal!: AbortSignal;
    let validating = false;
    const pool = createPool({
      create: f.create,
      destroy: (r) => {
        assert.equal(validating, false, 'destroyed while validate still used it');
        f.destroy(r);
      },
      validate: (_r, s) => {
        signal = s;
        validating = true;
        return result.promise.finally(() => {
          validating = false;
        });
      },
      max: 1,
      validateTimeoutMs: 60_000,
      clock,
    });
    (await pool.acquire()).release();
    await clock.advance(1_000);
    const waiter = track(pool.acquire());
    await flush();
    assert.equal(validating, true);
    const s = pool.stats();
    assert.equal(s.validating, 1, 'a resource under validation is counted');
    assert.equal(s.idle, 0);
    assert.equal(s.leased, 0);
    accounted(s);

    const closed = track(pool.close());
    await flush();
    assert.ok(signal.aborted, "the validation's signal aborts");
    assert.ok(isWeirError(signal.reason, 'ERR_POOL_CLOSED'));
    assert.ok(isWeirError(waiter.error, 'ERR_POOL_CLOSED'));
    assert.equal(f.destroyed, 0, 'still in the hands of validate');
    assert.equal(closed.done, false);
    assert.equal(
      clock.pendingTimers,
      1,
      "only shutdown's grace timer is left: the validation's deadline is cleared",
    );
    result.reject(signal.reason);
    await flush();
    assert.equal(f.destroyed, 1);
    assert.equal(closed.done, true);
    assert.equal(clock.pendingTimers, 0);
    assert.equal(pool.stats().validating, 0);
  });

  test('a validate that ignores its abort holds shutdown for at most destroyTimeoutMs', async () => {
    const clock = new FakeClock();
    const f = factory();
    const pool = createPool({
      create: f.create,
      destroy: f.destroy,
      validate: () => new Promise<boolean>(() => {}),
      max: 1,
      destroyTimeoutMs: 2_000,
      validateTimeoutMs: 60_000,
      clock,
    });
    (await pool.acquire()).release();
    await clock.advance(1_000);
    void pool.acquire().catch(() => {});
    await flush();
    const closed = track(pool.close());
    await clock.advance(1_999);
    assert.equal(closed.done, false);
    assert.equal(f.destroyed, 0);
    await clock.advance(1);
    assert.equal(closed.done, true, 'shutdown never hangs on a hook');
    assert.equal(f.destroyed, 1, 'the resource is destroyed once validate had its time');
    assert.equal(clock.pendingTimers, 0);
  });

  test('a periodic validation of an idle resource is aborted too', async () => {
    const clock = new FakeClock();
    const f = factory();
    let signal: AbortSignal | undefined;
    const pool = createPool({
      create: f.create,
      destroy: f.destroy,
      validate: (_r, s) => {
        signal = s;
        return new Promise<boolean>((_, reject) => s.addEventListener('abort', reject));
      },
      min: 1,
      max: 1,
      validateIntervalMs: 5_000,
      idleTimeoutMs: Number.POSITIVE_INFINITY,
      clock,
    });
    await clock.advance(5_000);
    assert.ok(signal !== undefined && !signal.aborted);
    assert.equal(pool.stats().validating, 1);
    accounted(pool.stats());
    await pool.close();
    assert.equal(signal.aborted, true);
    assert.equal(f.destroyed, 1);
    assert.equal(clock.pendingTimers, 0);
  });

  test('a resource under reset is counted, and destroyed by close() only after reset', async () => {
    const clock = new FakeClock();
    const f = factory();
    const finished = deferred();
    let resetting = false;
    const pool = createPool({
      create: f.create,
      destroy: (r) => {
        assert.equal(resetting, false, 'destroyed while reset still used it');
        f.destroy(r);
      },
      reset: () => {
        resetting = true;
        return finished.promise.finally(() => {
          resetting = false;
        });
      },
      max: 1,
      clock,
    });
    (await pool.acquire()).release();
    const s = pool.stats();
    assert.equal(s.resetting, 1);
    assert.equal(s.idle, 0);
    accounted(s);
    const closed = track(pool.close());
    await flush();
    assert.equal(f.destroyed, 0);
    assert.equal(closed.done, false);
    finished.resolve();
    await flush();
    assert.equal(f.destroyed, 1);
    assert.equal(closed.done, true);
    assert.equal(clock.pendingTimers, 0);
  });

  test('a timeout message names resources under validation', async () => {
    const clock = new FakeClock();
    const pool = createPool({
      create: factory().create,
      validate: () => new Promise<boolean>(() => {}),
      max: 1,
      acquireTimeoutMs: 100,
      validateTimeoutMs: 60_000,
      clock,
    });
    (await pool.acquire()).release();
    await clock.advance(1_000);
    const p = track(pool.acquire());
    await clock.advance(100);
    assert.ok(isWeirError(p.error, 'ERR_POOL_TIMEOUT'));
    assert.match(
      (p.error as Error).message,
      /0 leased, 0 idle, 1 being validated, 0 being created, 1 waiting; max 1/,
    );
    const closed = pool.close();
    await clock.advance(5_000);
    await closed;
  });
});

describe('validateTimeoutMs', () => {
  test('bounds validate on its own, apart from createTimeoutMs', async () => {
    const clock = new FakeClock();
    const f = factory();
    let signal!: AbortSignal;
    const pool = createPool({
      create: f.create,
      destroy: f.destroy,
      validate: (_r, s) => {
        signal = s;
        return new Promise<boolean>(() => {});
      },
      createTimeoutMs: 60_000,
      validateTimeoutMs: 200,
      max: 1,
      clock,
    });
    (await pool.acquire()).release();
    await clock.advance(1_000);
    const p = track(pool.acquire());
    await clock.advance(199);
    assert.equal(p.done, false);
    await clock.advance(1);
    assert.equal(signal.aborted, true);
    assert.match(String(signal.reason), /validate did not finish within 200 ms/);
    assert.ok(p.done && p.error === undefined);
    assert.equal(f.created, 2, 'the hung resource was replaced');
    assert.equal(pool.stats().validationFailures, 1);
    await pool.close();
  });

  test('defaults to 5 s', async () => {
    const clock = new FakeClock();
    const f = factory();
    const pool = createPool({
      create: f.create,
      validate: () => new Promise<boolean>(() => {}),
      max: 1,
      clock,
    });
    (await pool.acquire()).release();
    await clock.advance(1_000);
    const p = track(pool.acquire());
    await clock.advance(4_999);
    assert.equal(p.done, false);
    await clock.advance(1);
    assert.ok(p.done && p.error === undefined);
    assert.equal(pool.stats().validationFailures, 1);
    await pool.close();
  });

  test('is checked like the other times', () => {
    const create = () => 1;
    assert.throws(
      () => createPool({ create, validateTimeoutMs: 0 }),
      /`validateTimeoutMs` to be a number of milliseconds >= 1/,
    );
    assert.throws(() => createPool({ create, validateTimeoutMs: '1' as never }), TypeError);
  });
});
