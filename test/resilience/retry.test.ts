import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { FakeClock, flush } from '../../src/internal/clock.js';
import {
  CircuitBreaker,
  CircuitOpenError,
  constantBackoff,
  decorrelatedJitter,
  exponentialBackoff,
  linearBackoff,
  type RetryOptions,
  retry,
  retryPolicy,
} from '../../src/resilience/index.js';

/** A seeded generator (mulberry32), so jittered sequences are the same on every run. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Runs the backoff through `n` retries, feeding each delay back as `previousMs`. */
function sequence(
  backoff: (retry: number, previous: number, random: () => number) => number,
  n: number,
  random: () => number,
) {
  const out: number[] = [];
  let prev = 0;
  for (let i = 1; i <= n; i++) out.push((prev = backoff(i, prev, random)));
  return out;
}

describe('backoff', () => {
  test('constant and linear', () => {
    assert.deepEqual(sequence(constantBackoff(250), 3, Math.random), [250, 250, 250]);
    assert.deepEqual(
      sequence(linearBackoff({ initialMs: 100, stepMs: 50, maxMs: 220 }), 4, Math.random),
      [100, 150, 200, 220],
    );
    assert.deepEqual(sequence(linearBackoff(), 3, Math.random), [100, 200, 300]);
  });

  test('exponential, capped, with none, full and equal jitter', () => {
    const half = () => 0.5;
    const exp = (jitter: 'none' | 'full' | 'equal') =>
      sequence(exponentialBackoff({ initialMs: 100, maxMs: 1_000, jitter }), 6, half);
    assert.deepEqual(exp('none'), [100, 200, 400, 800, 1_000, 1_000]);
    assert.deepEqual(exp('full'), [50, 100, 200, 400, 500, 500]);
    assert.deepEqual(exp('equal'), [75, 150, 300, 600, 750, 750]);
    assert.deepEqual(
      sequence(exponentialBackoff({ initialMs: 10, factor: 3 }), 3, half),
      [10, 30, 90],
    );
  });

  test('decorrelated jitter follows min(cap, random_between(base, prev × 3))', () => {
    const draws = [0.5, 0.25, 1 - 2 ** -53, 0, 0.9];
    let i = 0;
    const random = () => draws[i++]!;
    const seq = sequence(decorrelatedJitter({ baseMs: 100, maxMs: 1_000 }), 5, random);
    // 100 + 0.5×(300-100) = 200; 100 + 0.25×(600-100) = 225; ≈ 100 + 1×(675-100) = 675;
    // 100 + 0 = 100; 100 + 0.9×(300-100) = 280.
    assert.deepEqual(
      seq.map((d) => Math.round(d)),
      [200, 225, 675, 100, 280],
    );
  });

  test('decorrelated jitter stays within [base, min(cap, prev × 3)] (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1_000 }),
        fc.integer({ min: 1, max: 100 }),
        fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), {
          minLength: 1,
          maxLength: 30,
        }),
        (base, capFactor, draws) => {
          const cap = base * capFactor;
          const b = decorrelatedJitter({ baseMs: base, maxMs: cap });
          let prev = 0;
          draws.forEach((r, k) => {
            const d = b(k + 1, prev, () => r);
            const upper = Math.min(cap, (prev > 0 ? prev : base) * 3);
            if (d < base - 1e-9 || d > upper + 1e-9)
              throw new Error(`${d} outside [${base}, ${upper}]`);
            prev = d;
          });
        },
      ),
    );
  });

  test('validates options', () => {
    assert.throws(() => constantBackoff(-1), /`delayMs`/);
    assert.throws(() => linearBackoff({ initialMs: Number.NaN }), /`initialMs`/);
    assert.throws(() => exponentialBackoff({ factor: 0.5 }), /`factor`/);
    assert.throws(() => exponentialBackoff({ jitter: 'some' as 'full' }), /`jitter`/);
    assert.throws(() => decorrelatedJitter({ baseMs: 100, maxMs: 50 }), /`maxMs`/);
  });
});

describe('retry', () => {
  const boom = new Error('boom');

  test('the delay sequence with a seeded random, as seen on the clock', async () => {
    const clock = new FakeClock();
    const options: RetryOptions = {
      attempts: 5,
      backoff: decorrelatedJitter({ baseMs: 100, maxMs: 2_000 }),
      random: seeded(7),
      clock,
    };
    const expected = sequence(decorrelatedJitter({ baseMs: 100, maxMs: 2_000 }), 4, seeded(7));
    const attemptsAt: number[] = [];
    const delays: number[] = [];
    const p = retry(
      ({ attempt }) => {
        attemptsAt.push(clock.now());
        assert.equal(attempt, attemptsAt.length);
        throw boom;
      },
      { ...options, onRetry: (e) => delays.push(e.delayMs) },
    );
    const settled = p.catch((e: unknown) => e);
    await clock.runAll();
    assert.equal(await settled, boom, 'the last error is thrown as is');
    assert.deepEqual(delays, expected);
    let t = 0;
    assert.deepEqual(attemptsAt, [0, ...expected.map((d) => (t += d))]);
    assert.equal(clock.pendingTimers, 0);
  });

  test('returns the first success and passes the attempt number', async () => {
    const clock = new FakeClock();
    const p = retry(({ attempt }) => (attempt < 3 ? Promise.reject(boom) : `ok on ${attempt}`), {
      backoff: constantBackoff(10),
      clock,
    });
    await clock.advance(20);
    assert.equal(await p, 'ok on 3');
  });

  test('retryOn decides, with the error and the attempt that failed', async () => {
    const clock = new FakeClock();
    const seen: [unknown, number][] = [];
    const fatal = new Error('fatal');
    const p = retry(({ attempt }) => Promise.reject(attempt === 2 ? fatal : boom), {
      attempts: 10,
      backoff: constantBackoff(1),
      retryOn: (e, attempt) => {
        seen.push([e, attempt]);
        return e !== fatal;
      },
      clock,
    });
    const settled = p.catch((e: unknown) => e);
    await clock.advance(5);
    assert.equal(await settled, fatal);
    assert.deepEqual(seen, [
      [boom, 1],
      [fatal, 2],
    ]);
  });

  test('waits at least the retryAfterMs the error carries', async () => {
    const clock = new FakeClock();
    const limited = Object.assign(new Error('429'), { retryAfterMs: 5_000 });
    const at: number[] = [];
    const p = retry(
      () => {
        at.push(clock.now());
        return at.length === 1 ? Promise.reject(limited) : 'ok';
      },
      { backoff: constantBackoff(100), clock },
    );
    await clock.advance(4_999);
    assert.deepEqual(at, [0]);
    await clock.advance(1);
    assert.equal(await p, 'ok');
    assert.deepEqual(at, [0, 5_000]);
  });

  test('a custom retryAfter reader, and retryAfter: false ignores hints', async () => {
    const clock = new FakeClock();
    const err = Object.assign(new Error('503'), {
      headers: { 'retry-after': '2' },
      retryAfterMs: 9_000,
    });
    const times = async (retryAfter: RetryOptions['retryAfter']) => {
      const at: number[] = [];
      const start = clock.now();
      const p = retry(
        () => {
          at.push(clock.now() - start);
          return at.length === 1 ? Promise.reject(err) : 'ok';
        },
        {
          backoff: constantBackoff(100),
          clock,
          ...(retryAfter === undefined ? {} : { retryAfter }),
        },
      );
      await clock.runAll();
      await p;
      return at;
    };
    assert.deepEqual(
      await times((e) => Number((e as typeof err).headers['retry-after']) * 1000),
      [0, 2_000],
    );
    assert.deepEqual(await times(false), [0, 100]);
  });

  test('a hint beyond maxRetryAfterMs gives up at once', async () => {
    const clock = new FakeClock();
    const err = Object.assign(new Error('later'), { retryAfterMs: 120_000 });
    let calls = 0;
    await assert.rejects(
      retry(
        () => {
          calls++;
          throw err;
        },
        { clock, maxRetryAfterMs: 60_000 },
      ),
      err,
    );
    assert.equal(calls, 1);
    assert.equal(clock.pendingTimers, 0);
  });

  test("retries into a breaker's half-open probe, guided by ERR_CIRCUIT_OPEN", async () => {
    const clock = new FakeClock();
    const breaker = new CircuitBreaker({ threshold: 1, halfOpenAfterMs: 3_000, clock });
    let healthy = false;
    const at: number[] = [];
    const p = retry(
      () =>
        breaker.execute(() => {
          at.push(clock.now());
          return healthy ? 'up' : Promise.reject(boom);
        }),
      { attempts: 3, backoff: constantBackoff(10), clock },
    );
    await clock.advance(10); // attempt 2 is refused by the open breaker: retry at 3000
    healthy = true;
    await clock.advance(3_000);
    assert.equal(await p, 'up');
    assert.deepEqual(at, [0, 3_000], 'the refusal at 10 ms said: 2990 ms more');
    assert.equal(breaker.state, 'closed');
  });

  test('an isolated breaker (hint Infinity) is not waited for', async () => {
    const breaker = new CircuitBreaker({ clock: new FakeClock() });
    breaker.isolate();
    await assert.rejects(
      retry(() => breaker.execute(() => 1), { clock: new FakeClock() }),
      CircuitOpenError,
    );
  });

  test('aborting mid-wait rejects at once with the reason and leaves no timer', async () => {
    const clock = new FakeClock();
    const ac = new AbortController();
    let calls = 0;
    const reason = new Error('shutdown');
    const p = retry(
      () => {
        calls++;
        throw boom;
      },
      { attempts: 5, backoff: constantBackoff(10_000), clock, signal: ac.signal },
    );
    const settled = p.catch((e: unknown) => e);
    await clock.advance(2_000);
    assert.equal(clock.pendingTimers, 1);
    ac.abort(reason);
    await flush();
    assert.equal(await settled, reason);
    assert.equal(calls, 1);
    assert.equal(clock.pendingTimers, 0);
  });

  test('an abort during an attempt stops with the reason; an aborted signal never calls fn', async () => {
    const clock = new FakeClock();
    const ac = new AbortController();
    const reason = new Error('stop');
    let calls = 0;
    const p = retry(
      ({ signal }) =>
        new Promise((_, reject) => {
          calls++;
          signal!.addEventListener('abort', () => reject(new Error('aborted inside')));
        }),
      { clock, signal: ac.signal },
    );
    ac.abort(reason);
    await assert.rejects(p, reason);
    assert.equal(calls, 1);
    await assert.rejects(
      retry(
        () => {
          calls++;
        },
        { signal: ac.signal },
      ),
      reason,
    );
    assert.equal(calls, 1);
  });

  test('a backoff that returns garbage is reported', async () => {
    await assert.rejects(
      retry(() => Promise.reject(boom), { backoff: () => Number.NaN }),
      /`backoff` to return/,
    );
  });

  test('retryPolicy is reusable and takes the signal per call', async () => {
    const clock = new FakeClock();
    const policy = retryPolicy({ attempts: 2, backoff: constantBackoff(5), clock });
    let n = 0;
    const p = policy.execute(() => (++n === 1 ? Promise.reject(boom) : n));
    await clock.advance(5);
    assert.equal(await p, 2);
    const reason = new Error('x');
    await assert.rejects(
      policy.execute(() => 1, { signal: AbortSignal.abort(reason) }),
      reason,
    );
  });

  test('validates options', () => {
    assert.throws(() => retry(() => 1, { attempts: 0 }), /`attempts`/);
    assert.throws(() => retry(() => 1, { backoff: 5 as never }), /`backoff`/);
    assert.throws(() => retry(() => 1, { retryOn: true as never }), /`retryOn`/);
    assert.throws(() => retry(() => 1, { retryAfter: 5 as never }), /`retryAfter`/);
    assert.throws(() => retry(() => 1, { maxRetryAfterMs: -1 }), /`maxRetryAfterMs`/);
    assert.throws(() => retry(() => 1, { signal: {} as AbortSignal }), /`signal`/);
    assert.throws(() => retry(5 as never), /`fn`/);
    assert.throws(() => retryPolicy({ random: 1 as never }), /`random`/);
  });
});
