import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FakeClock } from '../../src/internal/clock.js';
import {
  CircuitBreaker,
  CircuitOpenError,
  constantBackoff,
  type Policy,
  RateLimiter,
  retryPolicy,
  Semaphore,
  TimeoutError,
  timeoutPolicy,
  wrap,
} from '../../src/resilience/index.js';

function tracer(name: string, log: string[]): Policy {
  return {
    async execute(fn, options) {
      log.push(`${name}>`);
      try {
        return await fn({ signal: options?.signal });
      } finally {
        log.push(`<${name}`);
      }
    },
  };
}

describe('wrap', () => {
  test('applies policies outermost first', async () => {
    const log: string[] = [];
    const policy = wrap(tracer('a', log), tracer('b', log), tracer('c', log));
    const r = await policy.execute(() => {
      log.push('fn');
      return 42;
    });
    assert.equal(r, 42);
    assert.deepEqual(log, ['a>', 'b>', 'c>', 'fn', '<c', '<b', '<a']);
  });

  test("passes the caller's signal down to the innermost call", async () => {
    const ac = new AbortController();
    const policy = wrap(new Semaphore(1), new CircuitBreaker());
    assert.equal(await policy.execute(({ signal }) => signal, { signal: ac.signal }), ac.signal);
    assert.equal(await policy.execute(({ signal }) => signal), undefined);
  });

  test('retry(breaker(timeout)): each attempt is timed; the breaker counts the timeouts', async () => {
    const clock = new FakeClock();
    const breaker = new CircuitBreaker({ threshold: 2, halfOpenAfterMs: 60_000, clock });
    const policy = wrap(
      retryPolicy({ attempts: 3, backoff: constantBackoff(10), retryAfter: false, clock }),
      breaker,
      timeoutPolicy(100, { clock }),
    );
    const started: number[] = [];
    const aborted: number[] = [];
    const p = policy.execute(({ signal }) => {
      started.push(clock.now());
      return new Promise((_, reject) => {
        signal!.addEventListener('abort', () => {
          aborted.push(clock.now());
          reject(signal!.reason);
        });
      });
    });
    const settled = p.catch((e: unknown) => e);
    await clock.advance(1_000);
    // Attempt 1 times out at 100, attempt 2 starts at 110 and times out at 210, which opens
    // the breaker; attempt 3 at 220 is refused without a call.
    assert.deepEqual(started, [0, 110]);
    assert.deepEqual(aborted, [100, 210]);
    assert.ok((await settled) instanceof CircuitOpenError);
    assert.equal(breaker.state, 'open');
    assert.equal(clock.pendingTimers, 0);
  });

  test('timeout(retry(...)): one deadline over all attempts, and it stops the retries', async () => {
    const clock = new FakeClock();
    const policy = wrap(
      timeoutPolicy(250, { clock }),
      retryPolicy({ attempts: 10, backoff: constantBackoff(100), clock }),
    );
    let calls = 0;
    const p = policy.execute(() => {
      calls++;
      return Promise.reject(new Error('down'));
    });
    const settled = p.catch((e: unknown) => e);
    await clock.advance(1_000);
    assert.ok((await settled) instanceof TimeoutError);
    assert.equal(calls, 3, 'at 0, 100 and 200; the wait until 300 was aborted at 250');
    assert.equal(clock.pendingTimers, 0);
  });

  test('a rate limiter inside works as a policy too', async () => {
    const clock = new FakeClock();
    const limiter = new RateLimiter({ ratePerSecond: 10, burst: 1, clock });
    const policy = wrap(new Semaphore(5), limiter);
    const at: number[] = [];
    const all = Promise.all([1, 2, 3].map(() => policy.execute(() => at.push(clock.now()))));
    await clock.advance(200);
    await all;
    assert.deepEqual(at, [0, 100, 200]);
  });

  test('wrap() with nothing just runs fn; non-policies are refused', async () => {
    assert.equal(await wrap().execute(() => 'plain'), 'plain');
    await assert.rejects(
      wrap().execute(() => {
        throw new Error('sync');
      }),
      /sync/,
    );
    assert.throws(() => wrap({} as Policy), /`policies\[0\]`/);
    assert.throws(() => wrap(new Semaphore(1), null as unknown as Policy), /`policies\[1\]`/);
  });
});
