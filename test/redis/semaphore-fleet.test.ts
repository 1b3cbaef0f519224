// RedisSemaphore across several processes: the limit holds, the queue is FIFO across
// processes, and a holder killed with SIGKILL gives its slot back within its lease.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Redis } from 'ioredis';
import { RedisSemaphore } from '../../src/redis/index.js';
import { cleanup, client, skip, uniquePrefix, type Worker, worker } from './helpers.js';

describe('RedisSemaphore across processes', { skip }, () => {
  let redis: Redis;
  const prefix = uniquePrefix();
  const workers: Worker[] = [];
  const start = (config: Record<string, unknown>): Worker => {
    const w = worker({ prefix, ...config });
    workers.push(w);
    return w;
  };

  before(() => {
    redis = client();
  });
  after(async () => {
    for (const w of workers) w.child.kill('SIGKILL');
    await cleanup(redis, prefix);
    redis.disconnect();
  });

  test('4 processes x 2,500 acquisitions (10,000 in all) never exceed the limit', async () => {
    const ws = [0, 1, 2, 3].map(() =>
      start({ mode: 'loop', key: 'limit', limit: 3, count: 2500, concurrency: 3 }),
    );
    const results = await Promise.all(ws.map((w) => w.next('done')));
    for (const r of results) {
      assert.equal(r.over, 0, 'a holder saw more than `limit` holders at once');
      assert.ok(Number(r.maxSeen) <= 3);
      assert.equal(r.tokensDecreased, 0, 'fencing tokens increase from one grant to the next');
    }
    // Contention did happen: some process saw the limit reached.
    assert.ok(results.some((r) => Number(r.maxSeen) === 3));
    assert.equal(await redis.get(`${prefix}counter`), '0');
  });

  test('FIFO across processes: waiters are granted in the order they joined the queue', async () => {
    // Tolerance stated: exact order, for waiters that join the queue one after another
    // (each starts once the previous one is queued).
    const s = new RedisSemaphore({ redis, prefix, key: 'fifo', limit: 1 });
    const held = await s.acquire();
    const names = ['a', 'b', 'c', 'd'];
    const ws: Worker[] = [];
    for (const [i, name] of names.entries()) {
      const w = start({ mode: 'queue', key: 'fifo', limit: 1, name, position: i + 1 });
      await w.next('queued');
      ws.push(w);
    }
    await held.release();
    await Promise.all(ws.map((w) => w.next('granted')));
    assert.deepEqual(await redis.lrange(`${prefix}order`, 0, -1), names);
    await s.close();
  });

  test('a holder killed with SIGKILL gives its slot back within leaseMs plus one renewal', async () => {
    const leaseMs = 1000;
    const holder = start({ mode: 'hold', key: 'kill', limit: 1, leaseMs });
    const { token } = await holder.next('held');
    const s = new RedisSemaphore({ redis, prefix, key: 'kill', limit: 1, leaseMs });
    assert.equal(await s.tryAcquire(), undefined);
    holder.child.kill('SIGKILL');
    assert.equal(await holder.exited, 'SIGKILL');
    // The bound the semaphore promises, plus room for scheduling on a loaded machine.
    const p = await s.acquire({ timeoutMs: leaseMs + Math.floor(leaseMs / 3) + 1500 });
    assert.ok(p.fencingToken > Number(token));
    await p.release();
    await s.close();
  });
});
