import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FakeClock, flush } from '../../src/internal/clock.js';
import { createPool } from '../../src/pool/index.js';
import { factory, type Res, track } from '../helpers/resources.js';

// A per-resource lease limit: an HTTP/2 session serves as many streams as its server allows,
// an HTTP/1.1 connection one request, and the server's limit arrives after connecting.
describe('per-resource lease limit', () => {
  test('leaseLimit is read at create; a create in flight serves as many waiters as the last resource took', async () => {
    const clock = new FakeClock();
    const f = factory();
    const limits = new Map<number, number>([
      [1, 3],
      [2, 1],
    ]);
    const pool = createPool<Res>({
      create: f.create,
      max: 4,
      // Before any resource exists, the estimate of how many waiters one create serves.
      maxLeasesPerResource: 3,
      leaseLimit: (r) => limits.get(r.id) ?? 1,
      clock,
    });
    const first = await Promise.all([1, 2, 3].map(() => pool.acquire()));
    assert.deepEqual(
      first.map((l) => l.value.id),
      [1, 1, 1],
    );
    assert.equal(f.created, 1, 'one create served all three: no create per waiter');
    const fourth = await pool.acquire();
    assert.equal(fourth.value.id, 2);
    const fifth = await pool.acquire();
    assert.equal(fifth.value.id, 3, 'resource 2 takes one borrower');
    for (const l of [...first, fourth, fifth]) l.release();
    await pool.close();
  });

  test('setLeaseLimit raises room at once and lowers it as leases return', async () => {
    const clock = new FakeClock();
    const f = factory();
    const pool = createPool<Res>({ create: f.create, max: 1, leaseLimit: () => 1, clock });
    const a = await pool.acquire();
    const b = track(pool.acquire());
    const c = track(pool.acquire());
    await flush();
    assert.equal(b.done, false);
    assert.equal(pool.setLeaseLimit(a.value, 3), true);
    await flush();
    assert.equal(b.done && c.done, true, 'raised: waiters are served from the same resource');
    assert.equal(pool.stats().leased, 3);
    pool.setLeaseLimit(a.value, 1);
    const d = track(pool.acquire());
    a.release();
    await flush();
    assert.equal(d.done, false, 'still over the lowered limit');
    b.value!.release();
    c.value!.release();
    await flush();
    assert.equal(d.done, true);
    assert.equal(pool.stats().leased, 1);
    d.value!.release();
    assert.equal(pool.setLeaseLimit({ id: 99, destroyed: 0 }, 2), false);
    assert.throws(() => pool.setLeaseLimit(a.value, 0), RangeError);
    await pool.close();
  });

  test('shared room is looked for among resources that may be shared, tracked through setLeaseLimit and destroy', async () => {
    const clock = new FakeClock();
    const f = factory();
    // One-lease resources (HTTP/1.1) are never searched for room; one raised later is.
    const pool = createPool<Res>({ create: f.create, max: 3, leaseLimit: () => 1, clock });
    const a = await pool.acquire();
    const b = await pool.acquire();
    assert.equal(pool.tryAcquire(), null, 'no idle resource, none with room');
    pool.setLeaseLimit(b.value, 2);
    const b2 = pool.tryAcquire();
    assert.equal(b2?.value, b.value, 'the raised resource takes a second borrower at once');
    assert.equal(pool.tryAcquire(), null, 'and no third');
    pool.setLeaseLimit(b.value, 3);
    b2!.release();
    pool.setLeaseLimit(b.value, 1);
    assert.equal(pool.tryAcquire(), null, 'lowered to one: no room while leased');
    // A shared resource destroyed while leased is not offered again.
    pool.setLeaseLimit(a.value, 4);
    a.destroy();
    await flush();
    const next = await pool.acquire();
    assert.notEqual(next.value, a.value);
    b.release();
    next.release();
    await pool.close();
  });
});
