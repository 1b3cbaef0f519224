import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { describe, test } from 'node:test';
import { FakeClock, flush } from '../../src/internal/clock.js';
import { isWeirError } from '../../src/internal/errors.js';
import {
  RateLimitedError,
  RateLimiter,
  type RateLimiterOptions,
} from '../../src/resilience/index.js';

function make(options: Partial<RateLimiterOptions> = {}) {
  const clock = new FakeClock();
  const limiter = new RateLimiter({ ratePerSecond: 10, burst: 5, clock, ...options });
  return { clock, limiter };
}

describe('RateLimiter', () => {
  test('starts full: `burst` tokens at once, then one per 1/rate', async () => {
    const { clock, limiter } = make();
    for (let i = 0; i < 5; i++) assert.equal(limiter.tryAcquire(), true);
    assert.equal(limiter.tryAcquire(), false);
    await clock.advance(99);
    assert.equal(limiter.tryAcquire(), false);
    await clock.advance(1);
    assert.equal(limiter.tryAcquire(), true);
    assert.equal(limiter.tryAcquire(), false);
    // A long quiet period refills only up to `burst`.
    await clock.advance(60_000);
    assert.equal(limiter.available, 5);
    assert.equal(limiter.tryAcquire(5), true);
    assert.equal(limiter.tryAcquire(), false);
  });

  test('over a simulated minute: the rate holds and no window sees more than burst + rate×t', async () => {
    const { clock, limiter } = make({ ratePerSecond: 10, burst: 5 });
    const grants: { at: number; who: number }[] = [];
    let running = true;
    const consumer = async (who: number) => {
      while (running) {
        await limiter.acquire();
        if (!running) return;
        grants.push({ at: clock.now(), who });
      }
    };
    const consumers = [0, 1, 2].map((who) => consumer(who));
    await clock.advance(60_000);
    running = false;
    // 5 at t=0, then one every 100 ms up to and including t=60_000.
    assert.equal(grants.length, 5 + 600);
    // Token-bucket conformance: any run of grants from i to j fits burst + rate × (t_j - t_i).
    for (let i = 0; i < grants.length; i++) {
      for (let j = i; j < Math.min(grants.length, i + 50); j++) {
        const allowed = 5 + ((grants[j]!.at - grants[i]!.at) * 10) / 1000;
        assert.ok(j - i + 1 <= allowed + 1e-9, `grants ${i}..${j} exceed the bucket`);
      }
    }
    // FIFO between consumers that each re-queue at once: they take turns.
    const counts = [0, 0, 0];
    for (const g of grants) counts[g.who]!++;
    assert.ok(Math.max(...counts) - Math.min(...counts) <= 1, `shares ${counts}`);
    // Release the consumers still waiting and leave nothing behind.
    await clock.advance(1_000);
    await Promise.all(consumers);
    assert.equal(limiter.waiting, 0);
    assert.equal(clock.pendingTimers, 0);
  });

  test('waiters are served in FIFO order; a large head is not starved by small ones', async () => {
    const { clock, limiter } = make({ ratePerSecond: 10, burst: 5 });
    assert.equal(limiter.tryAcquire(5), true);
    const order: string[] = [];
    const big = limiter.acquire(3).then(() => order.push(`big@${clock.now()}`));
    const small = [1, 2].map((i) =>
      limiter.acquire(1).then(() => order.push(`small${i}@${clock.now()}`)),
    );
    // Nobody jumps the queue, not even tryAcquire when a token is there.
    await clock.advance(100);
    assert.equal(limiter.tryAcquire(), false);
    await clock.advance(500);
    await Promise.all([big, ...small]);
    assert.deepEqual(order, ['big@300', 'small1@400', 'small2@500']);
    assert.equal(clock.pendingTimers, 0);
  });

  test('an aborted waiter leaves the queue and takes no tokens; no timer is left behind', async () => {
    const { clock, limiter } = make({ ratePerSecond: 1, burst: 1 });
    assert.equal(limiter.tryAcquire(), true);
    const ac = new AbortController();
    const reason = new Error('gone');
    const p = limiter.acquire(1, { signal: ac.signal });
    assert.equal(limiter.waiting, 1);
    assert.equal(clock.pendingTimers, 1);
    await clock.advance(500);
    ac.abort(reason);
    await assert.rejects(p, reason);
    assert.equal(limiter.waiting, 0);
    assert.equal(clock.pendingTimers, 0);
    await clock.advance(500);
    assert.equal(limiter.tryAcquire(), true, 'the token refilled for the next caller');
  });

  test('aborting the head re-plans: a smaller request behind it is served sooner', async () => {
    const { clock, limiter } = make({ ratePerSecond: 10, burst: 5 });
    assert.equal(limiter.tryAcquire(5), true);
    const ac = new AbortController();
    const head = limiter.acquire(5, { signal: ac.signal });
    let servedAt = -1;
    const next = limiter.acquire(1).then(() => {
      servedAt = clock.now();
    });
    await clock.advance(250);
    ac.abort();
    await assert.rejects(head, { name: 'AbortError' });
    await flush();
    assert.equal(servedAt, 250, 'served at once: 2.5 tokens were there');
    await next;
    assert.equal(clock.pendingTimers, 0);
  });

  test('aborting a waiter in the middle keeps the others in order', async () => {
    const { clock, limiter } = make({ ratePerSecond: 10, burst: 1 });
    assert.equal(limiter.tryAcquire(), true);
    const ac = new AbortController();
    const order: number[] = [];
    const a = limiter.acquire().then(() => order.push(1));
    const b = limiter.acquire(1, { signal: ac.signal }).then(() => order.push(2));
    const c = limiter.acquire().then(() => order.push(3));
    ac.abort();
    await assert.rejects(b);
    await clock.advance(200);
    await Promise.all([a, c]);
    assert.deepEqual(order, [1, 3]);
    assert.equal(clock.pendingTimers, 0);
  });

  test('granted and aborted waits leave no listener on a shared signal', async () => {
    const { clock, limiter } = make({ ratePerSecond: 10, burst: 1 });
    const shared = new AbortController();
    assert.equal(limiter.tryAcquire(), true);
    const waits = [1, 2].map(() => limiter.acquire(1, { signal: shared.signal }));
    const own = new AbortController();
    const aborted = limiter.acquire(1, { signal: own.signal });
    own.abort();
    await assert.rejects(aborted);
    assert.equal(getEventListeners(own.signal, 'abort').length, 0);
    await clock.advance(200);
    await Promise.all(waits);
    assert.equal(getEventListeners(shared.signal, 'abort').length, 0);
    assert.equal(clock.pendingTimers, 0);
  });

  test('an already aborted signal rejects at once', async () => {
    const { limiter } = make();
    const reason = new Error('stop');
    await assert.rejects(limiter.acquire(1, { signal: AbortSignal.abort(reason) }), reason);
    assert.equal(limiter.available, 5);
  });

  test('the queue is bounded: ERR_RATE_LIMITED with a retry hint', async () => {
    const { clock, limiter } = make({ ratePerSecond: 10, burst: 2, maxWaiting: 2, name: 'api' });
    assert.equal(limiter.tryAcquire(2), true);
    const queued = [limiter.acquire(), limiter.acquire(2)];
    const err = await limiter.acquire().catch((e: unknown) => e);
    assert.ok(err instanceof RateLimitedError);
    assert.ok(isWeirError(err, 'ERR_RATE_LIMITED'));
    // 3 tokens are promised to the queue and 1 more is asked: 4 tokens at 10/s.
    assert.equal(err.retryAfterMs, 400);
    assert.match(err.message, /"api".*2 callers already wait/);
    await clock.advance(300);
    await Promise.all(queued);
    assert.equal(clock.pendingTimers, 0);
  });

  test('execute takes a token, then runs fn with the signal', async () => {
    const { clock, limiter } = make({ ratePerSecond: 10, burst: 1 });
    assert.equal(await limiter.execute(() => 'a'), 'a');
    const ac = new AbortController();
    const p = limiter.execute(({ signal }) => signal, { signal: ac.signal });
    await clock.advance(100);
    assert.equal(await p, ac.signal);
  });

  test('fractional rates add up without drift', async () => {
    const { clock, limiter } = make({ ratePerSecond: 3, burst: 1 });
    assert.equal(limiter.tryAcquire(), true);
    let n = 0;
    for (let t = 0; t < 30_000; t++) {
      await clock.advance(1);
      if (limiter.tryAcquire()) n++;
    }
    assert.ok(n === 90 || n === 89, `granted ${n} in 30 s at 3/s`);
  });

  test('validates options and token counts', () => {
    const clock = new FakeClock();
    assert.throws(() => new RateLimiter({ ratePerSecond: 0, clock }), /`ratePerSecond`/);
    assert.throws(
      () => new RateLimiter({ ratePerSecond: Number.POSITIVE_INFINITY, clock }),
      /`ratePerSecond`/,
    );
    assert.throws(() => new RateLimiter({ ratePerSecond: 1, burst: 0.5, clock }), /`burst`/);
    assert.throws(
      () => new RateLimiter({ ratePerSecond: 1, maxWaiting: -1, clock }),
      /`maxWaiting`/,
    );
    assert.throws(() => new RateLimiter(undefined as unknown as RateLimiterOptions), /`options`/);
    const limiter = new RateLimiter({ ratePerSecond: 1, burst: 3, clock });
    assert.throws(() => limiter.tryAcquire(4), /`tokens`.*from 1 to `burst` \(3\)/);
    assert.throws(() => limiter.tryAcquire(0), RangeError);
    assert.throws(() => limiter.acquire(1.5), RangeError);
    assert.equal(new RateLimiter({ ratePerSecond: 0.5, clock }).available, 1, 'burst >= 1');
  });
});
