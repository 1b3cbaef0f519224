import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FakeClock, flush } from '../../src/internal/clock.js';
import { createPool, type Pool } from '../../src/pool/index.js';
import { factory, type Res } from '../helpers/resources.js';

/** `workers` borrowers that each hold a lease for `holdMs` of fake time, until stopped. */
function load(pool: Pool<Res>, clock: FakeClock, workers: number, holdMs: number) {
  let running = true;
  const ac = new AbortController();
  const loops = Array.from({ length: workers }, async () => {
    while (running) {
      const lease = await pool.acquire({ signal: ac.signal }).catch(() => null);
      if (lease === null) continue;
      await new Promise<void>((r) => clock.setTimeout(r, holdMs));
      lease.release();
    }
  });
  return async () => {
    running = false;
    ac.abort();
    await clock.advance(holdMs);
    await Promise.all(loops);
  };
}

describe('autoscaling', () => {
  test('raises max while waits miss the target and lowers it when utilisation stays low', async () => {
    const clock = new FakeClock();
    const f = factory();
    const pool = createPool({
      create: f.create,
      destroy: f.destroy,
      max: 2,
      acquireTimeoutMs: Number.POSITIVE_INFINITY,
      autoscale: { min: 2, max: 6, targetWaitMs: 100, intervalMs: 10_000 },
      clock,
    });
    const reasons: string[] = [];
    const maxes: number[] = [];
    pool.on('resize', (e) => {
      reasons.push(e.reason);
      maxes.push(e.to.max);
    });
    const stop = load(pool, clock, 8, 200);
    for (let t = 0; t < 60_000; t += 100) await clock.advance(100);
    assert.deepEqual(
      maxes,
      [3, 4, 5, 6],
      'up by 1.2x (at least 1) per interval, capped at autoscale.max',
    );
    assert.match(reasons[0]!, /^autoscale: p99 wait \d+(\.\d)? ms > target 100 ms$/);
    assert.equal(pool.max, 6);
    await stop();
    for (let t = 0; t < 60_000; t += 1000) await clock.advance(1000);
    assert.deepEqual(
      maxes.slice(4),
      [4, 3, 2],
      'down by 0.8x per quiet interval, to autoscale.min',
    );
    assert.match(reasons.at(-1)!, /^autoscale: utilisation 0% < 30%$/);
    assert.ok(f.alive.size <= 2, 'surplus resources were retired');
    await pool.close();
    assert.equal(clock.pendingTimers, 0);
  });

  test('leaves max alone when waits meet the target and the pool is busy', async () => {
    const clock = new FakeClock();
    const pool = createPool({
      create: factory().create,
      max: 4,
      autoscale: { min: 1, max: 8, intervalMs: 1000 },
      clock,
    });
    const stop = load(pool, clock, 3, 50);
    for (let t = 0; t < 10_000; t += 50) await clock.advance(50);
    await stop();
    assert.equal(pool.max, 4);
    await pool.close();
  });

  test('bad autoscale bounds are named', () => {
    const create = () => 1;
    assert.throws(
      () => createPool({ create, max: 20, autoscale: { min: 1, max: 10 } }),
      /`max` \(20\) to lie within/,
    );
    assert.throws(
      () => createPool({ create, autoscale: { min: 5, max: 2 } }),
      /`autoscale.min` \(5\)/,
    );
  });
});

describe('weight budget', () => {
  test('does not create past maxWeight, evicts idle resources to make room, reports weight', async () => {
    const clock = new FakeClock();
    const f = factory();
    const weights = new Map<number, number>();
    const pool = createPool({
      create: f.create,
      destroy: f.destroy,
      max: 10,
      weigh: (r) => weights.get(r.id) ?? 40,
      maxWeight: 100,
      clock,
    });
    const a = await pool.acquire();
    const b = await pool.acquire();
    assert.equal(pool.stats().weight, 80);
    let cDone = false;
    const c = pool.acquire().then((l) => {
      cDone = true;
      return l;
    });
    await flush();
    assert.equal(cDone, false, 'a third 40-unit resource would exceed 100');
    assert.equal(f.created, 2);
    a.release();
    const got = await c;
    assert.equal(got.value, a.value, 'the waiter got a returned resource instead');
    got.release();
    b.release();
    // One resource grows to 90 units while in use: over budget, so the idle one goes.
    const d = await pool.acquire();
    weights.set(d.value.id, 90);
    d.release();
    assert.equal(pool.stats().weight, 90);
    assert.equal(f.alive.size, 1);
    await pool.close();
    assert.equal(pool.stats().weight, 0);
  });

  test('weigh and maxWeight go together', () => {
    assert.throws(() => createPool({ create: () => 1, weigh: () => 1 }), /go together/);
    assert.throws(
      () => createPool({ create: () => 1, weigh: () => 1, maxWeight: 0 }),
      /`maxWeight` to be a number > 0/,
    );
  });
});
