// A broken connection is never handed out and never returned to the idle set, whichever
// way the pool learns of it: isBroken on borrow or return, the retire callback of connect
// (before or after the connect resolved), or a check.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FakeClock, flush } from '../../src/internal/clock.js';
import { isWeirError } from '../../src/internal/errors.js';
import { createManagedPool, type Manager } from '../../src/managed/index.js';
import { track } from '../helpers/resources.js';
import { type Conn, fakeManager } from './fake-manager.js';

describe('isBroken', () => {
  test('an idle connection that broke is closed on borrow and another one connected', async () => {
    const clock = new FakeClock();
    const f = fakeManager({ isBroken: true });
    const pool = createManagedPool(f.manager, { clock });
    (await pool.acquire()).release();
    f.conns[0]!.broken = true;
    assert.equal(pool.tryAcquire(), null, 'tryAcquire closes it and finds nothing else');
    assert.equal(f.conns[0]!.closed, 1);
    (await pool.acquire()).release();
    f.conns[1]!.broken = true;
    const c = await pool.acquire();
    assert.equal(c.value.id, 3);
    assert.equal(f.conns[1]!.closed, 1);
    c.release();
    await pool.close();
  });

  test('a connection that broke while leased is closed on return, not kept idle', async () => {
    const clock = new FakeClock();
    const f = fakeManager({ isBroken: true, reset: true });
    const pool = createManagedPool(f.manager, { clock });
    const destroyed: { reason: string; cause?: unknown }[] = [];
    pool.on('destroy', (e) => destroyed.push(e));
    const a = await pool.acquire();
    a.value.broken = true;
    a.release();
    assert.equal(a.value.closed, 1);
    assert.equal(pool.stats().idle, 0);
    assert.ok(!f.log.includes('reset 1'), 'a broken connection is not reset');
    await flush();
    assert.equal(destroyed[0]?.reason, 'reset');
    assert.ok(isWeirError(destroyed[0]?.cause, 'ERR_RESOURCE_BROKEN'));
    await pool.close();
  });

  test('a connection that breaks as it is handed to a waiter is closed and the wait goes on', async () => {
    const clock = new FakeClock();
    // A reset that leaves the connection broken without throwing: it breaks between the
    // return check and the hand-over, where the core asks `isBroken` once more.
    const f = fakeManager({
      isBroken: true,
      reset: (c) => {
        c.broken = true;
      },
    });
    const pool = createManagedPool(f.manager, { clock, max: 1 });
    const a = await pool.acquire();
    const waiter = track(pool.acquire({ timeoutMs: 5_000 }));
    a.release();
    await flush();
    assert.equal(waiter.value?.value.id, 2, 'the waiter got a fresh connection');
    assert.equal(f.conns[0]!.closed, 1);
    waiter.value!.release();
    await pool.close();
  });

  test('a connect that returns a broken connection fails, and the connection is closed', async () => {
    const clock = new FakeClock();
    const f = fakeManager();
    const manager: Manager<Conn> = {
      ...f.manager,
      connect: async (signal, retire) => {
        const c = await f.manager.connect(signal, retire);
        c.broken = c.id === 1;
        return c;
      },
      isBroken: (c) => c.broken,
    };
    const pool = createManagedPool(manager, { clock, breaker: false });
    const e = await pool.acquire().catch((error: unknown) => error);
    assert.ok(isWeirError(e, 'ERR_POOL_CREATE_FAILED'));
    assert.ok(isWeirError((e as Error).cause, 'ERR_RESOURCE_BROKEN'));
    assert.equal(f.conns[0]!.closed, 1);
    await clock.advance(200);
    assert.equal((await pool.acquire()).value.id, 2);
    await pool.close();
  });
});

describe('retire from the connection', () => {
  test('an idle connection that reports itself broken is closed at once; a leased one on return', async () => {
    const clock = new FakeClock();
    const f = fakeManager();
    const pool = createManagedPool(f.manager, { clock });
    const a = await pool.acquire();
    const b = await pool.acquire();
    a.release();
    f.conns[0]!.retire(new Error('ECONNRESET'));
    assert.equal(f.conns[0]!.closed, 1);
    f.conns[1]!.retire();
    assert.equal(f.conns[1]!.closed, 0, 'not while it is leased');
    b.release();
    assert.equal(f.conns[1]!.closed, 1);
    assert.equal(pool.stats().size, 0);
    f.conns[1]!.retire();
    await flush();
    assert.equal(f.conns[1]!.closed, 1, 'a retire after the close is a no-op');
    await pool.close();
  });

  test('a retire while connecting fails that connect with its reason and closes the connection', async () => {
    const clock = new FakeClock();
    const f = fakeManager({
      before: (attempt, _signal, retire) => {
        if (attempt === 1) retire(new Error('reset while connecting'));
      },
    });
    const pool = createManagedPool(f.manager, { clock, breaker: false });
    const e = await pool.acquire().catch((error: unknown) => error);
    assert.ok(isWeirError(e, 'ERR_POOL_CREATE_FAILED'));
    assert.match(((e as Error).cause as Error).message, /reset while connecting/);
    assert.equal(f.conns[0]!.closed, 1);
    assert.equal(f.state.open, 0);
    await pool.close();
  });

  test('a retire right after the connect resolved, before the pool holds it, still retires it', async () => {
    // The gap between the connect resolving and the pool taking the connection spans a few
    // promise jobs: land the retire at every depth through it, and past it.
    for (let depth = 0; depth < 8; depth++) {
      const clock = new FakeClock();
      const f = fakeManager();
      const manager: Manager<Conn> = {
        ...f.manager,
        connect: async (signal, retire) => {
          const c = await f.manager.connect(signal, retire);
          const later = (n: number): void =>
            n === 0
              ? retire(new Error('closed by the server'))
              : queueMicrotask(() => later(n - 1));
          // Only the first: a pool that keeps `min` would replace every one retired.
          if (c.id === 1) later(depth);
          return c;
        },
      };
      const pool = createManagedPool(manager, { clock, min: 1, breaker: false });
      await flush();
      assert.equal(f.conns[0]!.closed, 1, `retired ${depth} jobs after the connect resolved`);
      await pool.close();
    }
  });
});
