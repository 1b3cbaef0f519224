import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FakeClock, flush } from '../../src/internal/clock.js';
import { isWeirError } from '../../src/internal/errors.js';
import { createPool } from '../../src/pool/index.js';
import { deferred, factory, track } from '../helpers/resources.js';

const exhausted = (e: unknown): boolean => isWeirError(e, 'ERR_POOL_EXHAUSTED');

// `maxWaiting` bounds the callers waiting for a busy pool. A caller for whom the pool
// creates or validates a resource is not one of them.
describe('maxWaiting counts only callers waiting for a busy pool', () => {
  test('maxWaiting: 0 lends while the pool has room and refuses once it is exhausted', async () => {
    const f = factory();
    const pool = createPool({ create: f.create, max: 1, maxWaiting: 0, clock: new FakeClock() });
    const first = await pool.acquire();
    assert.equal(first.value.id, 1, 'the first caller gets the resource created for it');
    await assert.rejects(pool.acquire(), exhausted);
    assert.equal(pool.stats().exhausted, 1);
    assert.equal(pool.stats().pending, 0);
    first.release();
    const again = await pool.acquire();
    assert.equal(again.value, first.value, 'an idle resource is lent with maxWaiting: 0');
    again.release();
    await pool.close();
  });

  test('a caller arriving while a create for someone else is in flight is refused', async () => {
    const gate = deferred();
    const pool = createPool({
      create: async () => {
        await gate.promise;
        return {};
      },
      max: 1,
      maxWaiting: 0,
      clock: new FakeClock(),
    });
    const first = track(pool.acquire());
    await flush();
    assert.equal(pool.stats().creating, 1);
    await assert.rejects(pool.acquire(), exhausted, 'the only create serves the first caller');
    gate.resolve();
    await flush();
    assert.ok(first.done && first.error === undefined);
    await pool.close();
  });

  test('maxWaiting: 0 admits a caller whose idle resource is being validated for it', async () => {
    const clock = new FakeClock();
    const checked = deferred<boolean>();
    let checks = 0;
    const pool = createPool({
      create: () => ({}),
      validate: () => {
        checks++;
        return checked.promise;
      },
      max: 1,
      maxWaiting: 0,
      clock,
    });
    (await pool.acquire()).release();
    await clock.advance(1_000);
    const p = track(pool.acquire());
    await flush();
    assert.equal(checks, 1, 'the idle resource is validated for this caller');
    assert.equal(p.done, false);
    await assert.rejects(pool.acquire(), exhausted, 'the resource under validation is taken');
    checked.resolve(true);
    await flush();
    assert.ok(p.done && p.error === undefined);
    await pool.close();
  });

  test('one create serves as many callers as a shared resource takes', async () => {
    const pool = createPool({
      create: () => ({}),
      max: 1,
      maxLeasesPerResource: 2,
      maxWaiting: 0,
      clock: new FakeClock(),
    });
    const a = track(pool.acquire());
    const b = track(pool.acquire());
    await assert.rejects(pool.acquire(), exhausted);
    await flush();
    assert.ok(a.done && a.error === undefined && b.done && b.error === undefined);
    await pool.close();
  });

  test('the bound applies beyond the callers that creates will serve', async () => {
    const gate = deferred();
    const pool = createPool({
      create: async () => {
        await gate.promise;
        return {};
      },
      max: 2,
      maxWaiting: 1,
      clock: new FakeClock(),
    });
    const served = [track(pool.acquire()), track(pool.acquire())];
    const waiting = track(pool.acquire());
    await assert.rejects(pool.acquire(), exhausted, 'a second caller for a busy pool');
    assert.equal(pool.stats().pending, 3);
    gate.resolve();
    await flush();
    assert.ok(served.every((s) => s.done && s.error === undefined));
    assert.equal(waiting.done, false, 'it waits for a lease to come back');
    await pool.close();
  });

  test('a pool out of weight budget is exhausted below max', async () => {
    const pool = createPool({
      create: () => ({}),
      max: 10,
      weigh: () => 40,
      maxWeight: 100,
      maxWaiting: 0,
      clock: new FakeClock(),
    });
    const a = await pool.acquire();
    const b = await pool.acquire();
    await assert.rejects(pool.acquire(), exhausted, 'a third 40-unit resource would exceed 100');
    a.release();
    (await pool.acquire()).release();
    b.release();
    await pool.close();
  });
});
