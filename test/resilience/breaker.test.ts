import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FakeClock } from '../../src/internal/clock.js';
import { isWeirError } from '../../src/internal/errors.js';
import {
  type BreakerState,
  CircuitBreaker,
  type CircuitBreakerOptions,
  CircuitOpenError,
  type RollingWindowOptions,
} from '../../src/resilience/index.js';

const boom = new Error('boom');
const fail = () => Promise.reject(boom);
const ok = () => Promise.resolve('ok');

function make(options: CircuitBreakerOptions = {}) {
  const clock = new FakeClock(1_000);
  const breaker = new CircuitBreaker({ clock, ...options });
  const changes: string[] = [];
  breaker.on('stateChange', (e) => changes.push(`${e.from}->${e.to}`));
  return { clock, breaker, changes };
}

async function failTimes(breaker: CircuitBreaker, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await assert.rejects(breaker.execute(fail), boom);
}

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('CircuitBreaker: consecutive policy', () => {
  test('closed -> open after `threshold` failures in a row; a success resets the count', async () => {
    const { breaker, changes } = make({ threshold: 3 });
    await failTimes(breaker, 2);
    assert.equal(await breaker.execute(ok), 'ok');
    await failTimes(breaker, 2);
    assert.equal(breaker.state, 'closed');
    await failTimes(breaker, 1);
    assert.equal(breaker.state, 'open');
    assert.deepEqual(changes, ['closed->open']);
  });

  test('open refuses at once with ERR_CIRCUIT_OPEN carrying retryAt, without calling fn', async () => {
    const { clock, breaker } = make({ threshold: 1, halfOpenAfterMs: 5_000 });
    await failTimes(breaker, 1);
    await clock.advance(1_200);
    let called = 0;
    const err = await breaker
      .execute(() => {
        called++;
        return 1;
      })
      .catch((e: unknown) => e);
    assert.equal(called, 0);
    assert.ok(err instanceof CircuitOpenError);
    assert.ok(isWeirError(err, 'ERR_CIRCUIT_OPEN'));
    assert.equal(err.retryAt, 6_000);
    assert.equal(err.retryAfterMs, 3_800);
    assert.equal(breaker.retryAt, 6_000);
    assert.match(err.message, /open; calls are refused for 3800 ms more/);
  });

  test('open -> half-open exactly at halfOpenAfterMs; a probe success closes it', async () => {
    const { clock, breaker, changes } = make({ threshold: 1, halfOpenAfterMs: 5_000 });
    await failTimes(breaker, 1);
    await clock.advance(4_999);
    await assert.rejects(breaker.execute(ok), CircuitOpenError);
    assert.equal(breaker.state, 'open');
    await clock.advance(1);
    const probe = deferred<string>();
    const p = breaker.execute(() => probe.promise);
    assert.equal(breaker.state, 'half-open');
    // The one probe is out: others are refused, with a half-open message.
    const err = await breaker.execute(ok).catch((e: unknown) => e);
    assert.ok(err instanceof CircuitOpenError);
    assert.match(err.message, /half-open/);
    assert.equal(err.retryAfterMs, 0);
    probe.resolve('probe');
    assert.equal(await p, 'probe');
    assert.equal(breaker.state, 'closed');
    assert.deepEqual(changes, ['closed->open', 'open->half-open', 'half-open->closed']);
    // Counts start afresh once closed.
    await failTimes(breaker, 0);
    assert.equal(await breaker.execute(ok), 'ok');
  });

  test('half-open -> open when the probe fails, with a fresh halfOpenAfterMs', async () => {
    const { clock, breaker, changes } = make({ threshold: 2, halfOpenAfterMs: 1_000 });
    await failTimes(breaker, 2);
    await clock.advance(1_000);
    await failTimes(breaker, 1);
    assert.equal(breaker.state, 'open');
    assert.equal(breaker.retryAt, clock.now() + 1_000);
    assert.deepEqual(changes, ['closed->open', 'open->half-open', 'half-open->open']);
  });

  test('stateChange carries the failure that opened the breaker', async () => {
    const { breaker } = make({ threshold: 1 });
    const seen: { from: BreakerState; to: BreakerState; reason?: unknown }[] = [];
    breaker.on('stateChange', (e) => seen.push(e));
    await failTimes(breaker, 1);
    assert.deepEqual(seen, [{ from: 'closed', to: 'open', reason: boom }]);
  });

  test('halfOpenProbes: that many probes at once; all must succeed to close', async () => {
    const { clock, breaker } = make({ threshold: 1, halfOpenAfterMs: 100, halfOpenProbes: 2 });
    await failTimes(breaker, 1);
    await clock.advance(100);
    const a = deferred<number>();
    const b = deferred<number>();
    const pa = breaker.execute(() => a.promise);
    const pb = breaker.execute(() => b.promise);
    await assert.rejects(breaker.execute(ok), CircuitOpenError);
    a.resolve(1);
    await pa;
    assert.equal(breaker.state, 'half-open');
    b.resolve(2);
    await pb;
    assert.equal(breaker.state, 'closed');
  });

  test('halfOpenProbes: one failed probe reopens while the other is still out', async () => {
    const { clock, breaker } = make({ threshold: 1, halfOpenAfterMs: 100, halfOpenProbes: 2 });
    await failTimes(breaker, 1);
    await clock.advance(100);
    const a = deferred<number>();
    const pa = breaker.execute(() => a.promise);
    await assert.rejects(breaker.execute(fail), boom);
    assert.equal(breaker.state, 'open');
    // The stale probe's late success belongs to the half-open state that is gone.
    a.resolve(1);
    assert.equal(await pa, 1);
    assert.equal(breaker.state, 'open');
  });

  test('a slow call admitted while closed does not count as a half-open probe', async () => {
    const { clock, breaker } = make({ threshold: 1, halfOpenAfterMs: 100 });
    const slow = deferred<string>();
    const ps = breaker.execute(() => slow.promise);
    await failTimes(breaker, 1);
    await clock.advance(100);
    const probe = deferred<string>();
    const pp = breaker.execute(() => probe.promise);
    assert.equal(breaker.state, 'half-open');
    slow.resolve('slow');
    await ps;
    assert.equal(breaker.state, 'half-open');
    probe.reject(boom);
    await assert.rejects(pp, boom);
    assert.equal(breaker.state, 'open');
  });

  test('a slow failure admitted before a reset does not count afterwards', async () => {
    const { breaker } = make({ threshold: 1 });
    const slow = deferred<string>();
    const ps = breaker.execute(() => slow.promise);
    breaker.isolate();
    breaker.reset();
    slow.reject(boom);
    await assert.rejects(ps, boom);
    assert.equal(breaker.state, 'closed');
  });

  test('isFailure chooses which errors count; the others still reach the caller', async () => {
    const notFound = Object.assign(new Error('404'), { status: 404 });
    const { breaker } = make({
      threshold: 2,
      isFailure: (e) => (e as { status?: number }).status !== 404,
    });
    for (let i = 0; i < 5; i++) {
      await assert.rejects(
        breaker.execute(() => Promise.reject(notFound)),
        notFound,
      );
    }
    assert.equal(breaker.state, 'closed');
    await failTimes(breaker, 1);
    await assert.rejects(
      breaker.execute(() => Promise.reject(notFound)),
      notFound,
    );
    await failTimes(breaker, 1);
    assert.equal(breaker.state, 'closed', 'the 404 in between reset the run');
    await failTimes(breaker, 1);
    assert.equal(breaker.state, 'open');
  });

  test('isolate() holds it open past halfOpenAfterMs; reset() closes and clears counts', async () => {
    const { clock, breaker, changes } = make({ threshold: 2, halfOpenAfterMs: 10 });
    await failTimes(breaker, 1);
    breaker.isolate();
    assert.equal(breaker.state, 'open');
    assert.equal(breaker.isolated, true);
    assert.equal(breaker.retryAt, Number.POSITIVE_INFINITY);
    await clock.advance(1_000_000);
    const err = await breaker.execute(ok).catch((e: unknown) => e);
    assert.ok(err instanceof CircuitOpenError);
    assert.match(err.message, /isolated/);
    breaker.reset();
    assert.equal(breaker.state, 'closed');
    assert.equal(breaker.isolated, false);
    await failTimes(breaker, 1);
    assert.equal(breaker.state, 'closed', 'the failure before isolate() was cleared');
    assert.deepEqual(changes, ['closed->open', 'open->closed']);
  });

  test('a synchronous throw and a plain return value both count', async () => {
    const { breaker } = make({ threshold: 2 });
    assert.equal(await breaker.execute(() => 42), 42);
    for (let i = 0; i < 2; i++) {
      await assert.rejects(
        breaker.execute(() => {
          throw boom;
        }),
        boom,
      );
    }
    assert.equal(breaker.state, 'open');
  });

  test('execute passes the signal on and rejects at once if it is already aborted', async () => {
    const { breaker } = make();
    const ac = new AbortController();
    let seen: AbortSignal | undefined;
    await breaker.execute(
      ({ signal }) => {
        seen = signal;
      },
      { signal: ac.signal },
    );
    assert.equal(seen, ac.signal);
    await breaker.execute(({ signal }) => {
      seen = signal;
    });
    assert.equal(seen, undefined);
    const reason = new Error('stop');
    ac.abort(reason);
    let called = false;
    await assert.rejects(
      breaker.execute(
        () => {
          called = true;
        },
        { signal: ac.signal },
      ),
      reason,
    );
    assert.equal(called, false);
  });
});

describe('CircuitBreaker: permit API', () => {
  test('tryAcquirePermit grants freely when closed, never when open, one probe when due', async () => {
    const { clock, breaker } = make({ threshold: 1, halfOpenAfterMs: 50 });
    assert.equal(breaker.tryAcquirePermit(), true);
    breaker.recordFailure(boom);
    assert.equal(breaker.state, 'open');
    assert.equal(breaker.tryAcquirePermit(), false);
    await clock.advance(50);
    assert.equal(breaker.tryAcquirePermit(), true);
    assert.equal(breaker.state, 'half-open');
    assert.equal(breaker.tryAcquirePermit(), false);
    // An abandoned probe gives its slot back without deciding anything.
    breaker.releasePermit();
    assert.equal(breaker.state, 'half-open');
    assert.equal(breaker.tryAcquirePermit(), true);
    breaker.recordSuccess();
    assert.equal(breaker.state, 'closed');
  });

  test('openError() builds the error execute() throws, with a cause', async () => {
    const { clock, breaker } = make({ threshold: 1, halfOpenAfterMs: 300, name: 'db' });
    breaker.recordFailure(boom);
    await clock.advance(100);
    const cause = new Error('ECONNREFUSED');
    const err = breaker.openError(cause);
    assert.ok(err instanceof CircuitOpenError);
    assert.equal(err.cause, cause);
    assert.equal(err.retryAfterMs, 200);
    assert.match(err.message, /Circuit "db" is open/);
  });

  test('retryAt is the current time when not open', () => {
    const { clock, breaker } = make();
    assert.equal(breaker.retryAt, clock.now());
  });

  test('recordSuccess while open changes nothing', () => {
    const { breaker } = make({ threshold: 1 });
    breaker.recordFailure(boom);
    breaker.recordSuccess();
    breaker.recordFailure(boom);
    assert.equal(breaker.state, 'open');
  });
});

describe('CircuitBreaker: rolling window', () => {
  const rolling = (r: RollingWindowOptions, extra: CircuitBreakerOptions = {}) =>
    make({ policy: 'rolling', rolling: r, ...extra });

  test('does not open below minimumCalls, even at 100% failures; opens at minimumCalls', async () => {
    const { breaker } = rolling({ windowMs: 1_000, minimumCalls: 5, failureRatio: 0.5 });
    await failTimes(breaker, 4);
    assert.equal(breaker.state, 'closed');
    await failTimes(breaker, 1);
    assert.equal(breaker.state, 'open');
  });

  test('opens exactly at failureRatio, not just below it', async () => {
    const { breaker } = rolling({ windowMs: 1_000, minimumCalls: 10, failureRatio: 0.3 });
    for (let i = 0; i < 7; i++) await breaker.execute(ok);
    await failTimes(breaker, 2);
    assert.equal(breaker.state, 'closed', '2 of 9 is below 0.3 and below minimumCalls');
    await failTimes(breaker, 1);
    assert.equal(breaker.state, 'open', '3 of 10 is exactly 0.3');
  });

  test('successes dilute failures: 4 of 10 stays closed at 0.5', async () => {
    const { breaker } = rolling({ windowMs: 1_000, minimumCalls: 4, failureRatio: 0.5 });
    for (let i = 0; i < 6; i++) await breaker.execute(ok);
    await failTimes(breaker, 4);
    assert.equal(breaker.state, 'closed');
    await failTimes(breaker, 1);
    assert.equal(breaker.state, 'closed', '5 of 11 is below 0.5');
    await failTimes(breaker, 1);
    assert.equal(breaker.state, 'open', '6 of 12 reaches 0.5');
  });

  test('a bucket is forgotten exactly when the window slides past it', async () => {
    // windowMs 1000 in 10 buckets of 100 ms; the clock starts at 1000, so buckets begin at
    // 1000, 1100, …; failures made in [1000, 1100) leave the window at 2000.
    for (const [at, expected] of [
      [999, 'open'],
      [1_000, 'closed'],
    ] as const) {
      const { clock, breaker } = rolling({ windowMs: 1_000, buckets: 10, minimumCalls: 5 });
      await failTimes(breaker, 2);
      await clock.advance(99);
      await failTimes(breaker, 2); // still bucket 0, at t=1099
      await clock.advance(at - 99);
      await failTimes(breaker, 1);
      assert.equal(breaker.state, expected, `fifth failure ${at} ms after the first`);
    }
  });

  test('the window slides one bucket at a time', async () => {
    const { clock, breaker } = rolling({ windowMs: 1_000, buckets: 4, minimumCalls: 4 });
    // Bucket [1000,1250): 1 failure of 3 calls; bucket [1250,1500): 1 failure of 2.
    await failTimes(breaker, 1);
    await breaker.execute(ok);
    await breaker.execute(ok);
    await clock.advance(250);
    await breaker.execute(ok);
    await failTimes(breaker, 1);
    // At 2000 the first bucket has left: the window holds 1 failure of 2, then 1 of 3; with
    // the first bucket it would be 3 of 7 after the next failure, below 0.5.
    await clock.advance(750);
    await breaker.execute(ok);
    assert.equal(breaker.state, 'closed');
    await failTimes(breaker, 1);
    assert.equal(breaker.state, 'open', '2 failures of 4 calls: 0.5');
  });

  test('a long idle gap (many windows) clears every bucket', async () => {
    const { clock, breaker } = rolling({ windowMs: 1_000, buckets: 10, minimumCalls: 3 });
    await failTimes(breaker, 2);
    await clock.advance(123_456);
    await failTimes(breaker, 2);
    assert.equal(breaker.state, 'closed');
    await failTimes(breaker, 1);
    assert.equal(breaker.state, 'open');
  });

  test('closing after a probe starts from an empty window', async () => {
    const { clock, breaker } = rolling(
      { windowMs: 10_000, minimumCalls: 3, failureRatio: 0.5 },
      { halfOpenAfterMs: 100 },
    );
    await failTimes(breaker, 3);
    assert.equal(breaker.state, 'open');
    await clock.advance(100);
    await breaker.execute(ok);
    assert.equal(breaker.state, 'closed');
    await failTimes(breaker, 2);
    assert.equal(breaker.state, 'closed', 'the 3 old failures are not counted again');
  });
});

describe('CircuitBreaker: options', () => {
  const bad: [CircuitBreakerOptions | unknown, RegExp, typeof TypeError][] = [
    [{ threshold: 0 }, /`threshold`.*integer >= 1.*got 0/, RangeError],
    [{ threshold: 1.5 }, /`threshold`/, RangeError],
    [{ threshold: '3' }, /`threshold`.*number/, TypeError],
    [{ policy: 'sliding' }, /`policy`/, TypeError],
    [{ halfOpenAfterMs: -1 }, /`halfOpenAfterMs`/, RangeError],
    [{ halfOpenAfterMs: Number.POSITIVE_INFINITY }, /`halfOpenAfterMs`/, RangeError],
    [{ halfOpenProbes: 0 }, /`halfOpenProbes`/, RangeError],
    [{ isFailure: true }, /`isFailure`.*function/, TypeError],
    [{ rolling: 5 }, /`rolling`/, TypeError],
    [{ rolling: { windowMs: 0 } }, /`rolling.windowMs`/, RangeError],
    [{ rolling: { minimumCalls: 0 } }, /`rolling.minimumCalls`/, RangeError],
    [{ rolling: { failureRatio: 0 } }, /`rolling.failureRatio`/, RangeError],
    [{ rolling: { failureRatio: 1.5 } }, /`rolling.failureRatio`/, RangeError],
    [{ rolling: { buckets: 0 } }, /`rolling.buckets`/, RangeError],
    [{ rolling: { windowMs: 5, buckets: 10 } }, /`rolling.buckets`/, RangeError],
    [{ name: 3 }, /`name`/, TypeError],
    [null, /`options`/, TypeError],
  ];
  for (const [options, message, type] of bad) {
    test(`rejects ${JSON.stringify(options)}`, () => {
      assert.throws(
        () => new CircuitBreaker(options as CircuitBreakerOptions),
        (e: unknown) => {
          assert.ok(e instanceof type, String(e));
          assert.match((e as Error).message, message);
          return true;
        },
      );
    });
  }
});
