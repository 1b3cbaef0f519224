import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FakeClock, flush } from '../../src/internal/clock.js';
import { isWeirError } from '../../src/internal/errors.js';
import { createManagedPool, PooledClient, SharedManagedPool } from '../../src/managed/index.js';
import { deferred, track } from '../helpers/resources.js';
import { type Conn, fakeManager } from './fake-manager.js';

describe('ManagedPool lifecycle', () => {
  test('connects on first use, reuses the connection, closes it on drain, leaves no timer', async () => {
    const clock = new FakeClock();
    const f = fakeManager();
    const pool = createManagedPool(f.manager, { max: 2, clock, name: 'db' });
    const released: number[] = [];
    pool.on('release', (e) => released.push(e.resource.id));
    const a = await pool.acquire();
    assert.equal(a.value.id, 1);
    a.release();
    const b = await pool.acquire();
    assert.equal(b.value, a.value, 'the idle connection is reused');
    b.release();
    const s = pool.stats();
    assert.equal(s.name, 'db');
    assert.equal(pool.name, 'db');
    assert.deepEqual([s.size, s.idle, s.created, s.acquired, s.released], [1, 1, 1, 2, 2]);
    assert.deepEqual(released, [1, 1]);
    await pool.drain();
    assert.deepEqual(f.log, ['connect #1', 'open 1', 'close 1']);
    await assert.rejects(pool.acquire(), (e: unknown) => isWeirError(e, 'ERR_POOL_CLOSED'));
    assert.equal(clock.pendingTimers, 0);
  });

  test('use() releases after fn, and closes the connection on a BrokenResourceError', async () => {
    const clock = new FakeClock();
    const f = fakeManager({ isBroken: true });
    const pool = createManagedPool(f.manager, { clock });
    assert.equal(await pool.use((c) => c.id * 10), 10);
    const { BrokenResourceError } = await import('../../src/pool/index.js');
    await assert.rejects(
      pool.use(() => {
        throw new BrokenResourceError('protocol error');
      }),
      /protocol error/,
    );
    assert.equal(f.conns[0]!.closed, 1);
    await assert.rejects(
      pool.use(() => Promise.reject(new Error('app error'))),
      /app error/,
    );
    assert.equal(f.conns[1]!.closed, 0, 'an ordinary error returns the connection');
    assert.equal(pool.stats().idle, 1);
    await pool.close();
  });

  test('min connections are opened at start, before the pool is even returned', async () => {
    const clock = new FakeClock();
    const f = fakeManager({ refs: true });
    const pool = createManagedPool(f.manager, { min: 2, clock, allowExitOnIdle: true });
    await flush();
    assert.equal(pool.stats().idle, 2);
    assert.deepEqual(f.log.filter((l) => l.startsWith('unref')).length, 2);
    // A retire reported by a connection opened during construction still reaches the pool.
    f.conns[0]!.retire(new Error('server closed it'));
    assert.equal(f.conns[0]!.closed, 1);
    await pool.close();
    await flush();
    assert.equal(clock.pendingTimers, 0);
  });
});

describe('check on borrow after idle', () => {
  test('a connection idle past checkAfterIdleMs is checked; a failing one is closed and replaced', async () => {
    const clock = new FakeClock();
    const failing = new Set<number>();
    const f = fakeManager({ check: (c) => !failing.has(c.id) });
    const pool = createManagedPool(f.manager, { clock, checkAfterIdleMs: 500 });
    (await pool.acquire()).release();
    (await pool.acquire()).release();
    assert.ok(!f.log.includes('check 1'), 'a recently used connection is handed out unchecked');
    await clock.advance(501);
    const a = await pool.acquire();
    assert.equal(a.value.id, 1);
    assert.equal(f.log.filter((l) => l === 'check 1').length, 1);
    a.release();
    await clock.advance(501);
    failing.add(1);
    const b = await pool.acquire();
    assert.equal(b.value.id, 2, 'the connection that failed its check was not handed out');
    assert.equal(f.conns[0]!.closed, 1);
    assert.equal(pool.stats().validationFailures, 1);
    b.release();
    await pool.close();
  });

  test('the old option name validateAfterIdleMs still works, and a throwing check fails it', async () => {
    const clock = new FakeClock();
    let throwOnce = true;
    const f = fakeManager({
      check: () => {
        if (throwOnce) {
          throwOnce = false;
          throw new Error('ping failed');
        }
        return true;
      },
    });
    const pool = createManagedPool(f.manager, { clock, validateAfterIdleMs: 100 });
    (await pool.acquire()).release();
    await clock.advance(101);
    const lease = await pool.acquire();
    assert.equal(lease.value.id, 2);
    assert.equal(f.conns[0]!.closed, 1);
    lease.release();
    await pool.close();
  });

  test('a check that passes for a connection that broke meanwhile still fails', async () => {
    const clock = new FakeClock();
    const f = fakeManager({
      isBroken: true,
      check: async (c) => {
        c.broken = true;
        return true;
      },
    });
    const pool = createManagedPool(f.manager, { clock, checkAfterIdleMs: 0 });
    (await pool.acquire()).release();
    await clock.advance(1);
    const lease = await pool.acquire();
    assert.equal(lease.value.id, 2);
    lease.release();
    await pool.close();
  });
});

describe('reset on return', () => {
  test('a synchronous reset runs once per return and costs the next borrower no tick', async () => {
    const clock = new FakeClock();
    const f = fakeManager({ reset: true });
    const pool = createManagedPool(f.manager, { clock });
    const a = await pool.acquire();
    a.release();
    const again = pool.tryAcquire();
    assert.ok(again !== null, 'back and free in the same tick');
    again.release();
    assert.equal(f.log.filter((l) => l === 'reset 1').length, 2);
    await pool.close();
  });

  test('an asynchronous reset holds the connection until it finishes; one that throws closes it', async () => {
    const clock = new FakeClock();
    const gate = deferred();
    let fail = false;
    const f = fakeManager({
      reset: async () => {
        await gate.promise;
        if (fail) throw new Error('ROLLBACK failed');
      },
    });
    const pool = createManagedPool(f.manager, { clock, max: 1 });
    const destroyed: { reason: string; cause?: unknown }[] = [];
    pool.on('destroy', (e) => destroyed.push(e));
    const a = await pool.acquire();
    a.release();
    assert.equal(pool.tryAcquire(), null, 'not free while it resets');
    const next = track(pool.acquire());
    await flush();
    assert.equal(next.done, false);
    gate.resolve();
    await flush();
    assert.equal(next.value?.value.id, 1);
    fail = true;
    next.value!.release();
    await flush();
    assert.equal(f.conns[0]!.closed, 1);
    assert.equal(destroyed[0]?.reason, 'reset');
    await pool.close();
  });
});

describe('drain and close with leases out', () => {
  test('drain waits for the lease, then closes every connection once', async () => {
    const clock = new FakeClock();
    const f = fakeManager();
    const pool = createManagedPool(f.manager, { clock });
    const a = await pool.acquire();
    const b = await pool.acquire();
    b.release();
    const waiter = track(pool.acquire());
    await flush();
    assert.equal(waiter.value?.value.id, 2, 'the idle connection served it');
    waiter.value!.release();
    const drained = track(pool.drain({ timeoutMs: 5_000 }));
    await flush();
    assert.equal(drained.done, false);
    assert.equal(f.conns[1]!.closed, 1, 'the idle one closes at once');
    assert.equal(f.conns[0]!.closed, 0, 'the leased one stays until it comes back');
    a.release();
    await flush();
    assert.equal(drained.done, true);
    assert.deepEqual(
      f.conns.map((c) => c.closed),
      [1, 1],
    );
    assert.equal(clock.pendingTimers, 0);
  });

  test('close forces: leased connections close, waiters fail, a later release is a no-op', async () => {
    const clock = new FakeClock();
    const f = fakeManager({ isBroken: true });
    const pool = createManagedPool(f.manager, { clock, max: 1 });
    const a = await pool.acquire();
    const waiter = track(pool.acquire());
    await pool.close();
    await flush();
    assert.ok(isWeirError(waiter.error, 'ERR_POOL_CLOSED'));
    assert.equal(f.conns[0]!.closed, 1);
    a.release();
    assert.equal(f.conns[0]!.closed, 1);
    assert.equal(pool.stats().state, 'closed');
    assert.equal(clock.pendingTimers, 0);
  });
});

describe('permits', () => {
  test('an external permit limit bounds the connections; permits come back on close and on failed connects', async () => {
    const clock = new FakeClock();
    let inUse = 0;
    let peak = 0;
    const waiting: (() => void)[] = [];
    const permits = {
      acquire: async ({ signal }: { signal: AbortSignal }) => {
        while (inUse >= 2) {
          await new Promise<void>((r) => waiting.push(r));
          signal.throwIfAborted();
        }
        inUse++;
        peak = Math.max(peak, inUse);
        return {
          release: () => {
            inUse--;
            waiting.shift()?.();
          },
        };
      },
    };
    let fail = false;
    const f = fakeManager({
      before: () => {
        if (fail) throw new Error('refused');
      },
    });
    const pool = createManagedPool(f.manager, { clock, max: 3, permits, breaker: false });
    const a = await pool.acquire();
    const b = await pool.acquire();
    const c = track(pool.acquire());
    await flush();
    assert.equal(c.done, false, 'the third connect waits for a permit');
    a.release();
    await flush();
    assert.equal(c.value?.value.id, 1, 'served by the returned connection');
    assert.equal(peak, 2);
    b.release();
    c.value!.release();
    for (const conn of f.conns) conn.retire();
    await flush();
    // The connect started for the third borrower got its permit meanwhile and opened.
    assert.equal(f.state.open, 1);
    assert.equal(inUse, 1, 'one permit per open connection');
    for (const conn of f.conns) conn.retire();
    await flush();
    assert.equal(inUse, 0);
    // A failed connect gives its permit back.
    fail = true;
    await assert.rejects(pool.acquire(), (e: unknown) => isWeirError(e, 'ERR_POOL_CREATE_FAILED'));
    assert.equal(inUse, 0);
    await pool.close();
    assert.equal(inUse, 0);
  });
});

describe('shared pools', () => {
  test('a shared pool lends one connection to several borrowers; setLeaseLimit changes it', async () => {
    const clock = new FakeClock();
    const f = fakeManager({ reset: true });
    const pool = createManagedPool(f.manager, { clock, shared: { maxLeases: 2 } });
    assert.ok(pool instanceof SharedManagedPool);
    const a = await pool.acquire();
    const b = await pool.acquire();
    assert.equal(a.value, b.value);
    const c = await pool.acquire();
    assert.equal(c.value.id, 2);
    assert.equal(pool.setLeaseLimit(a.value, 3), true);
    const d = await pool.acquire();
    assert.equal(d.value.id, 1, 'the busiest connection with room is shared first');
    a.release();
    b.release();
    assert.ok(!f.log.includes('reset 1'), 'reset waits for the last lease');
    d.release();
    assert.ok(f.log.includes('reset 1'));
    c.release();
    await pool.close();
  });
});

describe('options', () => {
  const f = fakeManager();
  test('sharing options are refused on an exclusive pool, with the reason', () => {
    assert.throws(
      () => createManagedPool(f.manager, { maxLeasesPerResource: 2 } as never),
      (e: unknown) => e instanceof TypeError && /maxLeasesPerResource.*shared/.test(e.message),
    );
    assert.throws(
      () => createManagedPool(f.manager, { leaseLimit: () => 2 } as never),
      /`leaseLimit`/,
    );
    assert.throws(() => createManagedPool(f.manager, { weigh: () => 1 } as never), /`weigh`/);
    assert.throws(() => createManagedPool(f.manager, { create: () => 1 } as never), /`create`/);
  });

  test('bad values name the option the caller wrote', () => {
    assert.throws(
      () => createManagedPool(f.manager, { connectTimeoutMs: 0 }),
      (e: unknown) => e instanceof RangeError && /`connectTimeoutMs`/.test(e.message),
    );
    assert.throws(
      () => createManagedPool(f.manager, { validateAfterIdleMs: -1 }),
      /`validateAfterIdleMs`/,
    );
    assert.throws(() => createManagedPool(f.manager, { checkIntervalMs: 0 }), /`checkIntervalMs`/);
    assert.throws(() => createManagedPool(f.manager, { closeTimeoutMs: -1 }), /`closeTimeoutMs`/);
    assert.throws(
      () => createManagedPool(f.manager, { connectTimeoutMs: 10, createTimeoutMs: 20 }),
      /`connectTimeoutMs` or its old name `createTimeoutMs`/,
    );
    assert.throws(() => createManagedPool(f.manager, { max: 0 }), /`max`/);
    assert.throws(
      () => createManagedPool(f.manager, { allowExitOnIdle: 'yes' as never }),
      /`allowExitOnIdle`/,
    );
    assert.throws(
      () => createManagedPool(f.manager, { allowExitOnIdle: true }),
      /ref\(\) and unref\(\)/,
    );
    assert.throws(
      () => createManagedPool(f.manager, { shared: { maxLeases: 0 } }),
      /`shared.maxLeases`/,
    );
    assert.throws(
      () => createManagedPool(f.manager, { permits: {} as never }),
      /`permits.acquire`/,
    );
  });

  test('a manager without connect or close is refused', () => {
    assert.throws(() => createManagedPool(null as never), /`manager`/);
    assert.throws(() => createManagedPool({ close() {} } as never), /`manager.connect`/);
    assert.throws(
      () => createManagedPool({ connect() {}, close() {}, check: 1 } as never),
      /`manager.check`/,
    );
  });

  test('the old name createTimeoutMs and the new connectTimeoutMs both time out the connect', async () => {
    for (const options of [{ createTimeoutMs: 100 }, { connectTimeoutMs: 100 }]) {
      const clock = new FakeClock();
      const late = deferred();
      const g = fakeManager({ before: () => late.promise });
      const pool = createManagedPool(g.manager, { clock, ...options });
      const p = track(pool.acquire());
      await clock.advance(100);
      assert.ok(isWeirError(p.error, 'ERR_POOL_CREATE_TIMEOUT'), JSON.stringify(options));
      late.resolve();
      await flush();
      assert.equal(g.conns[0]!.closed, 1, 'the late connection is closed');
      await pool.close();
    }
  });
});

describe('PooledClient', () => {
  test('a client built on it gets stats, drain, close and await using, and adds its verbs', async () => {
    const clock = new FakeClock();
    const f = fakeManager();
    class EchoClient extends PooledClient<Conn> {
      constructor() {
        super(createManagedPool(f.manager, { clock, name: 'echo' }));
      }
      echo(text: string): Promise<string> {
        return this.pool.use((c) => `${c.id}:${text}`);
      }
    }
    {
      await using client = new EchoClient();
      assert.equal(await client.echo('hi'), '1:hi');
      assert.equal(client.stats().name, 'echo');
      assert.equal(client.stats().idle, 1);
    }
    assert.equal(f.conns[0]!.closed, 1, 'await using drained it');
    const other = new EchoClient();
    await other.echo('x');
    await other.close();
    await other.drain();
    assert.equal(other.stats().state, 'closed');
  });
});
