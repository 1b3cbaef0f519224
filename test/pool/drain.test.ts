import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FakeClock, flush } from '../../src/internal/clock.js';
import { isWeirError } from '../../src/internal/errors.js';
import { createPool } from '../../src/pool/index.js';
import { factory, track } from '../helpers/resources.js';

describe('drain and close', () => {
  test('drain fails queued waiters, waits for leases, then destroys everything', async () => {
    const clock = new FakeClock();
    const f = factory();
    const pool = createPool({ create: f.create, destroy: f.destroy, max: 2, clock });
    const a = await pool.acquire();
    const b = await pool.acquire();
    const waiter = track(pool.acquire());
    const drained = track(pool.drain({ timeoutMs: 10_000 }));
    await flush();
    assert.ok(isWeirError(waiter.error, 'ERR_POOL_CLOSED'), 'queued waiters settle, never hang');
    await assert.rejects(pool.acquire(), (e: unknown) => isWeirError(e, 'ERR_POOL_CLOSED'));
    assert.equal(drained.done, false);
    a.release();
    await flush();
    assert.equal(a.value.destroyed, 1, 'a lease returned during drain is destroyed');
    assert.equal(drained.done, false);
    b.release();
    await flush();
    assert.equal(drained.done, true);
    assert.equal(f.alive.size, 0);
    assert.equal(pool.stats().state, 'closed');
    assert.equal(clock.pendingTimers, 0, 'no timer left behind');
    b.release();
    a.destroy();
    assert.equal(f.destroyed, 2, 'release after drain is a no-op');
  });

  test('drain times out and forces destruction of leases still out', async () => {
    const clock = new FakeClock();
    const f = factory();
    const pool = createPool({ create: f.create, destroy: f.destroy, max: 1, clock });
    const a = await pool.acquire();
    const drained = track(pool.drain({ timeoutMs: 1000 }));
    await clock.advance(999);
    assert.equal(drained.done, false);
    await clock.advance(1);
    assert.equal(drained.done, true);
    assert.equal(a.value.destroyed, 1);
    a.release();
    assert.equal(a.value.destroyed, 1, 'the late release does not destroy twice');
  });

  test('close forces at once, also during a graceful drain; both are idempotent', async () => {
    const clock = new FakeClock();
    const f = factory();
    const pool = createPool({ create: f.create, destroy: f.destroy, max: 1, clock });
    const a = await pool.acquire();
    const d1 = pool.drain({ timeoutMs: 60_000 });
    const d2 = pool.close();
    assert.equal(d1, d2);
    await d2;
    assert.equal(a.value.destroyed, 1);
    await pool.close();
    await pool.drain();
  });

  test('a destroy that never returns does not hang shutdown', async () => {
    const clock = new FakeClock();
    const f = factory();
    const pool = createPool({
      create: f.create,
      destroy: () => new Promise<void>(() => {}),
      destroyTimeoutMs: 2000,
      max: 1,
      clock,
    });
    const errors: unknown[] = [];
    pool.on('destroy', (e) => errors.push(e.error));
    (await pool.acquire()).release();
    const closed = track(pool.close());
    await clock.advance(1999);
    assert.equal(closed.done, false);
    await clock.advance(1);
    assert.equal(closed.done, true);
    assert.match(String(errors[0]), /destroy did not finish within 2000 ms/);
  });

  test('a create in flight at close is aborted, and destroyed if it arrives anyway', async () => {
    const clock = new FakeClock();
    let finish!: (v: { id: number }) => void;
    let signal!: AbortSignal;
    const destroyed: unknown[] = [];
    const pool = createPool({
      create: (s) => {
        signal = s;
        return new Promise<{ id: number }>((r) => {
          finish = r;
        });
      },
      destroy: (r) => {
        destroyed.push(r);
      },
      clock,
    });
    const waiter = track(pool.acquire());
    await flush();
    await pool.close();
    assert.equal(signal.aborted, true);
    assert.ok(isWeirError(waiter.error, 'ERR_POOL_CLOSED'));
    finish({ id: 1 });
    await flush();
    assert.deepEqual(destroyed, [{ id: 1 }], 'a late resource is destroyed, never leaked');
  });

  test('await using drains the pool', async () => {
    const f = factory();
    {
      await using pool = createPool({
        create: f.create,
        destroy: f.destroy,
        clock: new FakeClock(),
      });
      (await pool.acquire()).release();
    }
    assert.equal(f.alive.size, 0);
  });
});

describe('shared leases', () => {
  test('one resource serves up to maxLeasesPerResource borrowers; the busiest with room is preferred', async () => {
    const clock = new FakeClock();
    const f = factory();
    const pool = createPool({
      create: f.create,
      destroy: f.destroy,
      max: 3,
      maxLeasesPerResource: 3,
      clock,
    });
    const l = await Promise.all([1, 2, 3, 4].map(() => pool.acquire()));
    assert.deepEqual(
      l.map((x) => x.value.id),
      [1, 1, 1, 2],
    );
    assert.equal(f.created, 2);
    l[0]!.release();
    const next = await pool.acquire();
    assert.equal(next.value.id, 1, 'fills the busiest resource so others can go idle');
    const s = pool.stats();
    assert.equal(s.leased, 4);
    assert.equal(s.active, 2);
    for (const x of [...l.slice(1), next]) x.release();
    assert.equal(pool.stats().idle, 2);
    await pool.close();
  });

  test('a released share goes to waiters and a new resource serves several waiters', async () => {
    const clock = new FakeClock();
    const f = factory();
    const pool = createPool({ create: f.create, max: 1, maxLeasesPerResource: 2, clock });
    const a = await pool.acquire();
    const b = await pool.acquire();
    const c = track(pool.acquire());
    const d = track(pool.acquire());
    await flush();
    a.release();
    b.release();
    await flush();
    assert.equal(c.done && d.done, true);
    assert.equal(pool.stats().leased, 2);
    await pool.close();
  });

  test('a destroyed share retires the resource once every borrower returned', async () => {
    const clock = new FakeClock();
    const f = factory();
    const pool = createPool({
      create: f.create,
      destroy: f.destroy,
      max: 2,
      maxLeasesPerResource: 2,
      clock,
    });
    const a = await pool.acquire();
    const b = await pool.acquire();
    a.destroy(new Error('GOAWAY'));
    assert.equal(f.destroyed, 0, 'the other borrower keeps it');
    const c = await pool.acquire();
    assert.equal(c.value.id, 2, 'a retiring resource takes no new borrowers');
    b.release();
    assert.equal(f.destroyed, 1);
    c.release();
    await pool.close();
  });
});
