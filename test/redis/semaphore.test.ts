import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Redis } from 'ioredis';
import { createClient } from 'redis';
import { FakeClock, flush } from '../../src/internal/clock.js';
import { isWeirError } from '../../src/internal/errors.js';
import {
  fromNodeRedis,
  type RedisCommands,
  RedisSemaphore,
  type RedisSemaphoreOptions,
} from '../../src/redis/index.js';
import { cleanup, client, skip, uniquePrefix } from './helpers.js';

describe('RedisSemaphore against a real Redis', { skip }, () => {
  let redis: Redis;
  const prefix = uniquePrefix();
  let n = 0;
  const open: RedisSemaphore[] = [];
  const make = (o: Partial<RedisSemaphoreOptions> = {}): RedisSemaphore => {
    const s = new RedisSemaphore({ redis, prefix, key: `k${n++}`, limit: 2, ...o });
    open.push(s);
    return s;
  };

  before(() => {
    redis = client();
  });
  after(async () => {
    for (const s of open) await s.close();
    await cleanup(redis, prefix);
    redis.disconnect();
  });

  test('holds at most `limit` permits; fencing tokens increase; tryAcquire never queues', async () => {
    const s = make();
    const a = await s.acquire();
    const b = await s.acquire();
    assert.ok(b.fencingToken > a.fencingToken);
    assert.equal(await s.tryAcquire(), undefined);
    assert.deepEqual(await s.count(), { held: 2, waiting: 0 });
    await a.release();
    await a.release(); // idempotent: no double return
    const c = await s.tryAcquire();
    assert.ok(c !== undefined && c.fencingToken > b.fencingToken);
    assert.equal(await s.tryAcquire(), undefined);
    await b.release();
    await c.release();
    assert.deepEqual(await s.count(), { held: 0, waiting: 0 });
  });

  test('waiters are served in arrival order, woken by the hand-over', async () => {
    const s = make({ limit: 1 });
    const first = await s.acquire();
    const order: number[] = [];
    const waits = [0, 1, 2, 3].map((i) =>
      s.acquire().then(async (p) => {
        order.push(i);
        await p.release();
      }),
    );
    // Let each waiter reach the queue in turn: arrival order is the order of the scripts.
    for (let i = 0; i < 200 && (await s.count()).waiting < 4; i++) await flush();
    assert.equal((await s.count()).waiting, 4);
    await first.release();
    await Promise.all(waits);
    assert.deepEqual(order, [0, 1, 2, 3]);
  });

  test('an aborted wait leaves the queue in Redis too, and the next waiter moves up', async () => {
    const s = make({ limit: 1 });
    const held = await s.acquire();
    const ac = new AbortController();
    const aborted = s.acquire({ signal: ac.signal });
    const next = s.acquire();
    for (let i = 0; i < 200 && (await s.count()).waiting < 2; i++) await flush();
    ac.abort(new Error('gone'));
    await assert.rejects(aborted, /gone/);
    await held.release();
    const p = await next;
    assert.deepEqual(await s.count(), { held: 1, waiting: 0 });
    await p.release();
    assert.equal(s.waiting, 0);
  });

  test('an already aborted signal rejects before anything is queued', async () => {
    const s = make();
    const ac = new AbortController();
    ac.abort(new Error('early'));
    await assert.rejects(s.acquire({ signal: ac.signal }), /early/);
    assert.deepEqual(await s.count(), { held: 0, waiting: 0 });
  });

  test('timeoutMs gives up with ERR_REDIS_ACQUIRE_TIMEOUT on the injected clock', async () => {
    const clock = new FakeClock();
    // connectTimeoutMs beyond the advance: the real server's answers take no fake time.
    const s = make({ limit: 1, clock, connectTimeoutMs: 60_000 });
    const held = await s.acquire();
    const waiting = s.acquire({ timeoutMs: 5000 });
    const refused = assert.rejects(waiting, (e: unknown) =>
      isWeirError(e, 'ERR_REDIS_ACQUIRE_TIMEOUT'),
    );
    for (let i = 0; i < 200 && (await s.count()).waiting < 1; i++) await flush();
    await clock.advance(4999);
    assert.equal(s.waiting, 1);
    await clock.advance(1);
    await refused;
    for (let i = 0; i < 200 && (await s.count()).waiting > 0; i++) await flush();
    assert.deepEqual(await s.count(), { held: 1, waiting: 0 });
    await held.release();
  });

  test('a lease renewed too late is lost: the permit signal aborts with ERR_REDIS_LEASE_LOST', async () => {
    const clock = new FakeClock();
    const s = make({ limit: 1, clock, leaseMs: 3000, renewEveryMs: 1000 });
    const p = await s.acquire();
    // Another process decided the lease had run out (as Redis does after leaseMs).
    await redis.del(`${prefix}sem:{k${n - 1}}:holders`);
    const lost = new Promise((resolve) => p.signal.addEventListener('abort', resolve));
    await clock.advance(1000);
    await lost;
    assert.ok(isWeirError(p.signal.reason, 'ERR_REDIS_LEASE_LOST'));
    assert.equal(s.held, 0);
    await p.release();
  });

  test('a held lease is renewed every renewEveryMs and outlives leaseMs', async () => {
    const clock = new FakeClock();
    const s = make({ limit: 1, clock, leaseMs: 1000, renewEveryMs: 300 });
    const p = await s.acquire();
    const key = `${prefix}sem:{k${n - 1}}:holders`;
    const before = Number((await redis.zrange(key, 0, 0, 'WITHSCORES'))[1]);
    await new Promise((r) => setTimeout(r, 5)); // let the server's clock move on
    await clock.advance(300);
    for (let i = 0; i < 200; i++) {
      const score = Number((await redis.zrange(key, 0, 0, 'WITHSCORES'))[1]);
      if (score > before) break;
      await flush();
    }
    const renewed = Number((await redis.zrange(key, 0, 0, 'WITHSCORES'))[1]);
    assert.ok(renewed > before, `lease expiry moved from ${before} to ${renewed}`);
    assert.equal(p.signal.aborted, false);
    await p.release();
  });

  test('a waiter whose process vanished does not block the queue', async () => {
    const s = make({ limit: 1, leaseMs: 200 });
    const held = await s.acquire();
    // A waiter entry with no heartbeat behind it, as a killed process leaves.
    const base = `${prefix}sem:{k${n - 1}}:`;
    await redis.zadd(`${base}queue`, 0, 'ghost');
    await redis.zadd(`${base}alive`, 1, 'ghost');
    const next = s.acquire();
    await held.release();
    const p = await next;
    assert.equal(await redis.zscore(`${base}queue`, 'ghost'), null);
    await p.release();
  });

  test('SCRIPT FLUSH mid-run: every acquire and release still succeeds', async () => {
    const s = make({ limit: 3 });
    let failures = 0;
    const run = async (): Promise<void> => {
      for (let i = 0; i < 100; i++) {
        try {
          const p = await s.acquire();
          await p.release();
        } catch {
          failures++;
        }
      }
    };
    const flusher = client();
    const flushing = (async () => {
      for (let i = 0; i < 10; i++) {
        await flusher.script('FLUSH');
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    await Promise.all([run(), run(), run(), run(), flushing]);
    flusher.disconnect();
    assert.equal(failures, 0);
  });

  test('works through a node-redis 5 client', async () => {
    const nr = await createClient({ url: 'redis://127.0.0.1:6379' }).connect();
    try {
      const commands: RedisCommands = fromNodeRedis(nr as never);
      const s = new RedisSemaphore({ redis: commands, prefix, key: `nr${n++}`, limit: 1 });
      open.push(s);
      const a = await s.acquire();
      const waiting = s.acquire();
      for (let i = 0; i < 200 && (await s.count()).waiting < 1; i++) await flush();
      await a.release();
      const b = await waiting;
      assert.ok(b.fencingToken > a.fencingToken);
      await b.release();
      await s.close();
    } finally {
      await nr.close();
    }
  });

  test('close() rejects waiters with ERR_REDIS_CLOSED and releases held permits', async () => {
    const s = make({ limit: 1 });
    const held = await s.acquire();
    const waiting = s.acquire();
    const closed = assert.rejects(waiting, (e: unknown) => isWeirError(e, 'ERR_REDIS_CLOSED'));
    for (let i = 0; i < 200 && (await s.count()).waiting < 1; i++) await flush();
    await s.close();
    await closed;
    assert.equal(held.held, false);
    await assert.rejects(s.acquire(), (e: unknown) => isWeirError(e, 'ERR_REDIS_CLOSED'));
    const other = make({ limit: 1, key: `k${n - 1}` });
    for (let i = 0; i < 200 && (await other.count()).waiting > 0; i++) await flush();
    assert.deepEqual(await other.count(), { held: 0, waiting: 0 });
  });
});

// A Redis that never answers: every wait must still end within connectTimeoutMs.
function silentRedis(): RedisCommands {
  const never = new Promise<never>(() => {});
  return {
    send: () => never,
    subscribe: () => never,
    duplicate: () => never,
  };
}

describe('RedisSemaphore while Redis does not answer', () => {
  test("'fail-closed' (the default) rejects with ERR_REDIS_UNAVAILABLE after connectTimeoutMs", async () => {
    const clock = new FakeClock();
    const s = new RedisSemaphore({
      redis: silentRedis(),
      key: 'x',
      limit: 1,
      clock,
      connectTimeoutMs: 500,
    });
    const refused = assert.rejects(s.acquire(), (e: unknown) =>
      isWeirError(e, 'ERR_REDIS_UNAVAILABLE'),
    );
    await clock.advance(499);
    let settled = false;
    void s.tryAcquire().catch(() => {
      settled = true;
    });
    await clock.advance(1);
    await refused;
    await clock.advance(500);
    assert.equal(settled, true);
    await s.close();
  });

  test("'fail-open' grants a degraded permit after connectTimeoutMs", async () => {
    const clock = new FakeClock();
    const s = new RedisSemaphore({
      redis: silentRedis(),
      key: 'x',
      limit: 1,
      clock,
      connectTimeoutMs: 500,
      whenUnavailable: 'fail-open',
    });
    const p = s.acquire();
    await clock.advance(500);
    const permit = await p;
    assert.equal(permit.degraded, true);
    assert.equal(permit.fencingToken, 0);
    await permit.release();
    await s.close();
  });

  test('{ localLimit } falls back to a limit inside this process', async () => {
    const clock = new FakeClock();
    const s = new RedisSemaphore({
      redis: silentRedis(),
      key: 'x',
      limit: 10,
      clock,
      connectTimeoutMs: 100,
      whenUnavailable: { localLimit: 2 },
    });
    const a = s.acquire();
    const b = s.acquire();
    const c = s.acquire();
    let cDone = false;
    void c.then(() => {
      cDone = true;
    });
    await clock.advance(100);
    const [pa, pb] = await Promise.all([a, b]);
    assert.equal(pa.degraded && pb.degraded, true);
    await flush();
    assert.equal(cDone, false, 'the third caller waits for the local limit');
    await pa.release();
    const pc = await c;
    assert.equal(pc.degraded, true);
    const tried = assert.rejects(s.tryAcquire(), (e: unknown) =>
      isWeirError(e, 'ERR_REDIS_UNAVAILABLE'),
    );
    await clock.advance(100);
    await tried;
    await pb.release();
    await pc.release();
    await s.close();
  });

  test('bad options throw naming the option', () => {
    const redis = silentRedis();
    assert.throws(() => new RedisSemaphore({ redis, key: 'x', limit: 0 }), /`limit`/);
    assert.throws(() => new RedisSemaphore({ redis, key: 'a{b}', limit: 1 }), /`key`/);
    assert.throws(
      () => new RedisSemaphore({ redis, key: 'x', limit: 1, leaseMs: 100, renewEveryMs: 100 }),
      /`renewEveryMs`/,
    );
    assert.throws(
      () => new RedisSemaphore({ redis, key: 'x', limit: 1, leaseMS: 5 } as never),
      /did you mean `leaseMs`/,
    );
    assert.throws(() => new RedisSemaphore({ redis: {}, key: 'x', limit: 1 }), /`redis`/);
    assert.throws(
      () => new RedisSemaphore({ redis, key: 'x', limit: 1, whenUnavailable: 'open' as never }),
      /`whenUnavailable`/,
    );
  });
});
