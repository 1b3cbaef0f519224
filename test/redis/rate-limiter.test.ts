import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Redis } from 'ioredis';
import { FakeClock } from '../../src/internal/clock.js';
import { isWeirError } from '../../src/internal/errors.js';
import {
  type RedisCommands,
  RedisRateLimiter,
  type RedisRateLimiterOptions,
} from '../../src/redis/index.js';
import { cleanup, client, skip, uniquePrefix, worker } from './helpers.js';

describe('RedisRateLimiter against a real Redis', { skip }, () => {
  let redis: Redis;
  const prefix = uniquePrefix();
  let n = 0;
  const make = (o: Partial<RedisRateLimiterOptions> = {}): RedisRateLimiter =>
    new RedisRateLimiter({ redis, prefix, key: `r${n++}`, ratePerSecond: 10, ...o });

  before(() => {
    redis = client();
  });
  after(async () => {
    await cleanup(redis, prefix);
    redis.disconnect();
  });

  test('tryAcquire grants the burst, then refuses until the server clock refills', async () => {
    const limiter = make({ ratePerSecond: 1, burst: 3 });
    assert.equal(await limiter.tryAcquire(), true);
    assert.equal(await limiter.tryAcquire(2), true);
    assert.equal(await limiter.tryAcquire(), false);
    await assert.rejects(limiter.tryAcquire(4), RangeError);
  });

  test('concurrent tryAcquire calls share a script and are served in the order asked', async () => {
    const limiter = make({ ratePerSecond: 0.001, burst: 5 });
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => limiter.tryAcquire(i === 1 ? 2 : 1)),
    );
    // 1 + 2 + 1 + 1 tokens fit in the burst of 5; the rest are refused.
    assert.deepEqual(results, [
      true,
      true,
      true,
      true,
      false,
      false,
      false,
      false,
      false,
      false,
      false,
      false,
    ]);
  });

  test('acquire books its turn; the wait it is given runs on the injected clock', async () => {
    const clock = new FakeClock();
    const limiter = make({ ratePerSecond: 10, burst: 1, clock, connectTimeoutMs: 60_000 });
    await limiter.acquire(); // the burst
    let done = false;
    const second = limiter.acquire().then(() => {
      done = true;
    });
    // The server booked it about 100 ms ahead; nothing happens until the clock gets there.
    // Booked once the only timer is the wait (~1 s), not the 60 s command deadline.
    for (let i = 0; i < 1000 && !((clock.nextTimerAt ?? 60_000) < 60_000); i++) {
      await new Promise((r) => setImmediate(r));
    }
    await clock.advance(50);
    assert.equal(done, false);
    await clock.advance(60);
    await second;
  });

  test('acquire refuses with ERR_RATE_LIMITED when the wait would exceed maxWaitMs', async () => {
    const limiter = make({ ratePerSecond: 1, burst: 1, maxWaitMs: 100 });
    await limiter.acquire();
    await assert.rejects(
      limiter.acquire(),
      (e: unknown) =>
        isWeirError(e, 'ERR_RATE_LIMITED') &&
        (e as unknown as { retryAfterMs: number }).retryAfterMs > 100,
    );
  });

  test('an aborted acquire gives its booked tokens back', async () => {
    const clock = new FakeClock();
    const limiter = make({ ratePerSecond: 1, burst: 1, clock, connectTimeoutMs: 60_000 });
    await limiter.acquire();
    const ac = new AbortController();
    const waiting = limiter.acquire(1, { signal: ac.signal });
    // Booked once the only timer is the wait (~1 s), not the 60 s command deadline.
    for (let i = 0; i < 1000 && !((clock.nextTimerAt ?? 60_000) < 60_000); i++) {
      await new Promise((r) => setImmediate(r));
    }
    ac.abort(new Error('stop'));
    await assert.rejects(waiting, /stop/);
    // Refunded: the next booking is ~1 s ahead again, not ~2 s.
    const key = `${prefix}rate:{r${n - 1}}`;
    for (let i = 0; i < 100; i++) {
      const [sec, usec] = await redis.time();
      const tat = Number(await redis.get(key));
      if (tat - (Number(sec) * 1e6 + Number(usec)) < 1_100_000) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    const [sec, usec] = await redis.time();
    const ahead = Number(await redis.get(key)) - (Number(sec) * 1e6 + Number(usec));
    assert.ok(ahead < 1_100_000, `TAT ${ahead} µs ahead after the refund`);
  });

  test('4 processes over a minute of booked time stay within 1 % of the rate', async () => {
    // 4 processes book 3,000 tokens at 50/s with burst 10: a minute of the server's time,
    // booked in one round trip each. The bookings are the schedule the limiter promises;
    // the span they cover says the rate, without waiting the minute out.
    const key = `minute${n++}`;
    const ws = [0, 1, 2, 3].map(() =>
      worker({ mode: 'book', prefix, key, rate: 50, burst: 10, count: 750 }),
    );
    const results = await Promise.all(ws.map((w) => w.next('done')));
    const dueAt = results.flatMap((r) => r.dueAt as number[]).sort((a, b) => a - b);
    assert.equal(dueAt.length, 3000);
    const span = (dueAt.at(-1)! - dueAt[0]!) / 1000; // seconds of server time
    // After the burst of 10, every further token is due 1/50 s after the one before.
    const rate = (dueAt.length - 10) / span;
    assert.ok(Math.abs(rate - 50) / 50 <= 0.01, `achieved ${rate.toFixed(3)}/s for 50/s`);
    // GCRA's promise: k successive tokens span at least (k - burst + 1) intervals (20 ms),
    // so no window ever runs faster than the rate beyond the burst. 1 ms of rounding.
    for (const k of [10, 100]) {
      for (let i = k; i < dueAt.length; i++) {
        const least = (k - 10 + 1) * 20 - 1;
        assert.ok(
          dueAt[i]! - dueAt[i - k]! >= least,
          `tokens ${i - k}..${i} closer than ${least} ms`,
        );
      }
    }
  });
});

describe('RedisRateLimiter while Redis does not answer', () => {
  const silent: RedisCommands = {
    send: () => new Promise(() => {}),
    subscribe: () => new Promise(() => {}),
    duplicate: () => new Promise(() => {}),
  };

  test("'fail-closed' throws ERR_REDIS_UNAVAILABLE; 'fail-open' lets through; a local limit limits", async () => {
    const clock = new FakeClock();
    const base = { redis: silent, key: 'x', ratePerSecond: 100, clock, connectTimeoutMs: 200 };
    const closed = new RedisRateLimiter(base);
    const refused = assert.rejects(closed.tryAcquire(), (e: unknown) =>
      isWeirError(e, 'ERR_REDIS_UNAVAILABLE'),
    );
    const open = new RedisRateLimiter({ ...base, whenUnavailable: 'fail-open' });
    const allowed = open.tryAcquire();
    const local = new RedisRateLimiter({ ...base, whenUnavailable: { localLimit: 1 } });
    const l1 = local.tryAcquire();
    const l2 = local.tryAcquire();
    await clock.advance(200);
    await refused;
    assert.equal(await allowed, true);
    assert.deepEqual([await l1, await l2], [true, false]);
  });
});
