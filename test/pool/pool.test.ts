import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FakeClock, flush } from '../../src/internal/clock.js';
import { isWeirError } from '../../src/internal/errors.js';
import { BrokenResourceError, createPool } from '../../src/pool/index.js';
import { factory, track } from '../helpers/resources.js';

describe('acquire and release', () => {
  test('reuses a released resource, warmest first (LIFO)', async () => {
    const f = factory();
    const pool = createPool({
      create: f.create,
      destroy: f.destroy,
      max: 3,
      clock: new FakeClock(),
    });
    const a = await pool.acquire();
    const b = await pool.acquire();
    a.release();
    b.release();
    const c = await pool.acquire();
    assert.equal(c.value, b.value, 'the most recently returned resource is reused first');
    c.release();
    assert.equal(f.created, 2);
    await pool.close();
    assert.equal(f.destroyed, 2);
  });

  test('idleOrder fifo reuses the longest idle resource first', async () => {
    const f = factory();
    const pool = createPool({
      create: f.create,
      max: 3,
      idleOrder: 'fifo',
      clock: new FakeClock(),
    });
    const a = await pool.acquire();
    const b = await pool.acquire();
    a.release();
    b.release();
    const c = await pool.acquire();
    assert.equal(c.value, a.value);
    c.release();
    await pool.close();
  });

  test('pre-warms min resources at start', async () => {
    const f = factory();
    const pool = createPool({ create: f.create, min: 3, max: 5, clock: new FakeClock() });
    await flush();
    assert.equal(f.created, 3);
    assert.equal(pool.stats().idle, 3);
    await pool.close();
  });

  test('a released resource goes straight to the oldest waiter', async () => {
    const f = factory();
    const pool = createPool({ create: f.create, max: 1, clock: new FakeClock() });
    const held = await pool.acquire();
    const first = track(pool.acquire());
    const second = track(pool.acquire());
    await flush();
    assert.equal(pool.stats().pending, 2);
    held.release();
    assert.equal(pool.stats().idle, 0, 'never passes through the idle list');
    await flush();
    assert.equal(first.done, true);
    assert.equal(second.done, false);
    assert.equal((first.value as { value: unknown }).value, held.value);
    (first.value as { release(): void }).release();
    await flush();
    assert.equal(second.done, true);
    assert.equal(f.created, 1);
    await pool.close();
  });

  test('double release is a no-op, never a double return', async () => {
    const f = factory();
    const pool = createPool({ create: f.create, max: 2, clock: new FakeClock() });
    const a = await pool.acquire();
    a.release();
    a.release();
    a.destroy();
    const s = pool.stats();
    assert.equal(s.idle, 1);
    assert.equal(s.leased, 0);
    assert.equal(s.released, 1);
    const b = await pool.acquire();
    const c = await pool.acquire();
    assert.notEqual(b.value, c.value, 'the resource was not put back twice');
    await pool.close();
  });

  test('await using releases the lease', async () => {
    const f = factory();
    const pool = createPool({ create: f.create, max: 1, clock: new FakeClock() });
    {
      await using lease = await pool.acquire();
      assert.equal(pool.stats().leased, 1);
      assert.ok(lease.value);
    }
    assert.equal(pool.stats().leased, 0);
    await pool.close();
  });

  test('waiters are served by priority, then first come first served', async () => {
    const f = factory();
    const pool = createPool({ create: f.create, max: 1, clock: new FakeClock() });
    const held = await pool.acquire();
    const order: string[] = [];
    const mk = (name: string, priority?: number) =>
      pool.acquire(priority === undefined ? undefined : { priority }).then((l) => {
        order.push(name);
        l.release();
      });
    const all = [mk('a'), mk('b'), mk('urgent', 10), mk('c'), mk('high', 5)];
    held.release();
    await Promise.all(all);
    assert.deepEqual(order, ['urgent', 'high', 'a', 'b', 'c']);
    await pool.close();
  });

  test('use() releases on success and on error, destroys on BrokenResourceError', async () => {
    const f = factory();
    const pool = createPool({
      create: f.create,
      destroy: f.destroy,
      max: 1,
      clock: new FakeClock(),
    });
    assert.equal(await pool.use((r) => r.id), 1);
    await assert.rejects(
      pool.use(() => {
        throw new Error('app bug');
      }),
      /app bug/,
    );
    assert.equal(f.destroyed, 0, 'an ordinary error does not condemn the resource');
    await assert.rejects(
      pool.use(() => {
        throw new BrokenResourceError();
      }),
      (e: unknown) => isWeirError(e, 'ERR_RESOURCE_BROKEN'),
    );
    await flush();
    assert.equal(f.destroyed, 1);
    assert.equal(await pool.use((r) => r.id), 2);
    await pool.close();
  });

  test('maxUses retires a resource after that many leases', async () => {
    const f = factory();
    const pool = createPool({
      create: f.create,
      destroy: f.destroy,
      max: 1,
      maxUses: 2,
      clock: new FakeClock(),
    });
    for (let i = 0; i < 4; i++) (await pool.acquire()).release();
    await flush();
    assert.equal(f.created, 2);
    assert.equal(f.destroyed, 2);
    await pool.close();
  });
});

describe('waiting', () => {
  test('abort while waiting rejects with the reason and leaves no waiter or timer', async () => {
    const clock = new FakeClock();
    const f = factory();
    const pool = createPool({ create: f.create, max: 1, clock });
    const held = await pool.acquire();
    const before = clock.pendingTimers;
    const ac = new AbortController();
    const p = pool.acquire({ signal: ac.signal });
    await flush();
    assert.equal(pool.stats().pending, 1);
    const reason = new Error('user gave up');
    ac.abort(reason);
    await assert.rejects(p, (e) => e === reason);
    assert.equal(pool.stats().pending, 0);
    assert.equal(clock.pendingTimers, before, 'the deadline timer is gone with the last waiter');
    held.release();
    assert.equal(pool.stats().idle, 1, 'the released resource did not go to the aborted waiter');
    await pool.close();
  });

  test('an already aborted signal rejects at once', async () => {
    const pool = createPool({ create: factory().create, clock: new FakeClock() });
    const reason = new Error('before');
    await assert.rejects(pool.acquire({ signal: AbortSignal.abort(reason) }), (e) => e === reason);
    assert.equal(pool.stats().created, 0);
    await pool.close();
  });

  test('timeout says how many were leased, idle, creating and waiting', async () => {
    const clock = new FakeClock();
    const pool = createPool({ create: factory().create, max: 2, acquireTimeoutMs: 1000, clock });
    const a = await pool.acquire();
    const b = await pool.acquire();
    const p = track(pool.acquire());
    const q = track(pool.acquire({ timeoutMs: 3000 }));
    await clock.advance(999);
    assert.equal(p.done, false);
    await clock.advance(1);
    assert.equal(p.done, true);
    const e = p.error as Error & { code: string };
    assert.equal(e.code, 'ERR_POOL_TIMEOUT');
    assert.match(e.message, /after 1000 ms/);
    assert.match(e.message, /2 leased, 0 idle, 0 being created, 2 waiting; max 2/);
    assert.equal(q.done, false, 'a longer per-call timeout is honoured');
    await clock.advance(2000);
    assert.equal((q.error as { code: string }).code, 'ERR_POOL_TIMEOUT');
    assert.equal(pool.stats().timeouts, 2);
    assert.equal(clock.pendingTimers, 1, 'only the housekeeping timer remains');
    a.release();
    b.release();
    await pool.close();
    assert.equal(clock.pendingTimers, 0);
  });

  test('maxWaiting refuses at once with ERR_POOL_EXHAUSTED', async () => {
    const pool = createPool({
      create: factory().create,
      max: 1,
      maxWaiting: 1,
      clock: new FakeClock(),
    });
    const held = await pool.acquire();
    const waiting = pool.acquire();
    await assert.rejects(pool.acquire(), (e: unknown) => isWeirError(e, 'ERR_POOL_EXHAUSTED'));
    assert.equal(pool.stats().exhausted, 1);
    held.release();
    (await waiting).release();
    await pool.close();
  });

  test('stats report wait percentiles over recent acquires', async () => {
    const clock = new FakeClock();
    const pool = createPool({ create: factory().create, max: 1, statsSampleEvery: 1, clock });
    const held = await pool.acquire();
    const p = pool.acquire();
    await clock.advance(40);
    held.release();
    (await p).release();
    const s = pool.stats();
    assert.equal(s.waitMs.samples, 2);
    assert.equal(s.waitMs.max, 40);
    assert.equal(s.waitMs.p50, 40);
    assert.equal(s.acquired, 2);
    await pool.close();
  });

  test('leak detection reports the stack of the acquirer', async () => {
    const clock = new FakeClock();
    const pool = createPool({ create: factory().create, max: 1, leakDetectionMs: 5000, clock });
    const leaks: { heldMs: number; stack: string }[] = [];
    pool.on('leak', (e) => leaks.push(e));
    const lease = await pool.acquire();
    await clock.advance(4999);
    assert.equal(leaks.length, 0);
    await clock.advance(1);
    assert.equal(leaks.length, 1);
    assert.equal(leaks[0]!.heldMs, 5000);
    assert.match(leaks[0]!.stack, /pool\.test\.ts/);
    lease.release();
    const again = await pool.acquire();
    again.release();
    await clock.advance(10_000);
    assert.equal(leaks.length, 1, 'a lease released in time is not reported');
    await pool.close();
  });
});

describe('options', () => {
  const create = async () => 1;
  const cases: [object, RegExp][] = [
    [{ create, max: 0 }, /`max` to be an integer >= 1, got 0 \(number\)/],
    [{ create, min: 5, max: 2 }, /`min` \(5\) to be <= `max` \(2\)/],
    [{ create, acquireTimeoutMs: -1 }, /`acquireTimeoutMs`/],
    [{ create: 'nope' }, /`create` to be a function/],
    [{ create, idleOrder: 'random' }, /`idleOrder`/],
    [{ create, maxLeasesPerResource: 1.5 }, /`maxLeasesPerResource`/],
    [{ create, createTimeoutMs: Number.NaN }, /`createTimeoutMs`/],
    [{ create, statsSampleEvery: 3 }, /`statsSampleEvery` to be a power of two/],
  ];
  for (const [options, message] of cases) {
    test(`rejects ${JSON.stringify(options)}`, () => {
      assert.throws(() => createPool(options as never), message);
    });
  }

  test('bad acquire options are named', async () => {
    const pool = createPool({ create, max: 1, clock: new FakeClock() });
    const held = await pool.acquire();
    await assert.rejects(pool.acquire({ timeoutMs: -5 }), /`timeoutMs`/);
    await assert.rejects(pool.acquire({ signal: 'x' as never }), /`signal`/);
    assert.equal(pool.stats().pending, 0);
    held.release();
    await pool.close();
  });
});

describe('tryAcquire (internal: the synchronous fast path)', () => {
  test('borrows only a ready resource, never creates, and never jumps the queue', async () => {
    const f = factory();
    const clock = new FakeClock();
    const pool = createPool({ create: f.create, max: 1, clock });
    assert.equal(pool.tryAcquire(), null, 'nothing idle');
    await flush();
    assert.equal(f.created, 0, 'a miss starts no create');

    const first = await pool.acquire();
    assert.equal(pool.tryAcquire(), null, 'the only resource is leased');
    const queued = track(pool.acquire());
    first.release();
    await flush();
    assert.ok(queued.done, 'the queued caller got the resource');
    assert.equal(pool.tryAcquire(), null);
    (queued.value as { release(): void }).release();

    const lease = pool.tryAcquire();
    assert.ok(lease !== null);
    assert.equal(lease.value, first.value);
    assert.equal(pool.stats().leased, 1);
    lease.release();
    assert.equal(pool.stats().idle, 1);
    await pool.close();
    assert.equal(pool.tryAcquire(), null, 'a closed pool lends nothing');
  });

  test('a resource due for validation is left to acquire', async () => {
    const clock = new FakeClock();
    let checks = 0;
    const pool = createPool({
      create: () => ({}),
      validate: () => {
        checks++;
        return true;
      },
      max: 1,
      clock,
    });
    (await pool.acquire()).release();
    await clock.advance(100);
    const fresh = pool.tryAcquire();
    assert.ok(fresh !== null, 'idle for less than validateAfterIdleMs: lent as is');
    fresh.release();
    await clock.advance(1_000);
    assert.equal(pool.tryAcquire(), null);
    const lease = await pool.acquire();
    assert.equal(checks, 1, 'acquire validated it');
    lease.release();
    await pool.close();
  });
});
