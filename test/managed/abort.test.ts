// Aborts and failures in every phase of an acquire: before it starts, while it waits in
// the queue, while its connect runs, while a check runs, and connects that fail or open
// the breaker. Nothing is left behind: no waiter, no connection, no timer.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FakeClock, flush } from '../../src/internal/clock.js';
import { isWeirError } from '../../src/internal/errors.js';
import { createManagedPool } from '../../src/managed/index.js';
import { deferred, track } from '../helpers/resources.js';
import { fakeManager } from './fake-manager.js';

for (const isBroken of [false, true]) {
  // With isBroken the pool checks what it hands out: the waiting path differs.
  describe(`abort (isBroken ${isBroken ? 'on' : 'off'})`, () => {
    test('an already aborted signal fails at once, even with a free connection', async () => {
      const clock = new FakeClock();
      const f = fakeManager({ isBroken });
      const pool = createManagedPool(f.manager, { clock });
      (await pool.acquire()).release();
      const reason = new Error('caller gave up');
      await assert.rejects(
        pool.acquire({ signal: AbortSignal.abort(reason) }),
        (e) => e === reason,
      );
      assert.equal(pool.stats().leased, 0);
      assert.equal(pool.stats().idle, 1);
      await pool.close();
    });

    test('an abort while queued removes the waiter; the connection later goes idle', async () => {
      const clock = new FakeClock();
      const f = fakeManager({ isBroken });
      const pool = createManagedPool(f.manager, { clock, max: 1 });
      const a = await pool.acquire();
      const ac = new AbortController();
      const p = track(pool.acquire({ signal: ac.signal }));
      await flush();
      assert.equal(pool.stats().pending, 1);
      ac.abort(new Error('stop'));
      await flush();
      assert.match((p.error as Error).message, /stop/);
      assert.equal(pool.stats().pending, 0);
      a.release();
      assert.equal(pool.stats().idle, 1);
      await pool.close();
      assert.equal(clock.pendingTimers, 0);
    });

    test('an abort while connecting fails the caller; the connect finishes and is kept idle', async () => {
      const clock = new FakeClock();
      const gate = deferred();
      const f = fakeManager({ isBroken, before: () => gate.promise });
      const pool = createManagedPool(f.manager, { clock });
      const ac = new AbortController();
      const p = track(pool.acquire({ signal: ac.signal }));
      await flush();
      assert.equal(pool.stats().creating, 1);
      ac.abort(new Error('stop'));
      await flush();
      assert.match((p.error as Error).message, /stop/);
      gate.resolve();
      await flush();
      assert.equal(
        pool.stats().idle,
        1,
        'the connection is not leaked, it waits for the next caller',
      );
      await pool.close();
      assert.equal(f.conns[0]!.closed, 1);
    });

    test('closing the pool aborts the signal of a connect in flight', async () => {
      const clock = new FakeClock();
      const f = fakeManager({
        isBroken,
        before: (_n, signal) =>
          new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
      });
      const pool = createManagedPool(f.manager, { clock });
      const p = track(pool.acquire());
      await flush();
      await pool.close();
      await flush();
      assert.ok(isWeirError(p.error, 'ERR_POOL_CLOSED'));
      assert.equal(f.state.open, 0);
      assert.equal(clock.pendingTimers, 0);
    });

    test('an abort while the check runs fails the caller; the checked connection goes back idle', async () => {
      const clock = new FakeClock();
      const gate = deferred<boolean>();
      const f = fakeManager({ isBroken, check: () => gate.promise });
      const pool = createManagedPool(f.manager, { clock, checkAfterIdleMs: 100 });
      (await pool.acquire()).release();
      await clock.advance(101);
      const ac = new AbortController();
      const p = track(pool.acquire({ signal: ac.signal }));
      await flush();
      assert.ok(f.log.includes('check 1'));
      ac.abort(new Error('stop'));
      await flush();
      assert.match((p.error as Error).message, /stop/);
      gate.resolve(true);
      await flush();
      assert.equal(pool.stats().idle, 1);
      assert.equal(f.conns[0]!.closed, 0);
      await pool.close();
    });

    test('a timeout while queued fails with ERR_POOL_TIMEOUT', async () => {
      const clock = new FakeClock();
      const f = fakeManager({ isBroken });
      const pool = createManagedPool(f.manager, { clock, max: 1, acquireTimeoutMs: 1_000 });
      const a = await pool.acquire();
      const p = track(pool.acquire());
      await clock.advance(1_000);
      assert.ok(isWeirError(p.error, 'ERR_POOL_TIMEOUT'));
      a.release();
      await pool.close();
    });
  });
}

describe('connect failures and the breaker', () => {
  test('failed connects reach the caller with their cause, open the breaker, and a probe closes it', async () => {
    const clock = new FakeClock();
    let fail = true;
    const f = fakeManager({
      before: () => {
        if (fail) throw new Error('ECONNREFUSED');
      },
    });
    const pool = createManagedPool(f.manager, {
      clock,
      breaker: { threshold: 2, halfOpenAfterMs: 1_000 },
      createRetry: { initialDelayMs: 10, maxDelayMs: 10 },
    });
    const states: string[] = [];
    pool.on('breaker', (e) => states.push(e.to));
    const errors: unknown[] = [];
    for (let i = 0; i < 3; i++) {
      const p = track(pool.acquire());
      for (let n = 0; n < 5 && !p.done; n++) await clock.advance(10);
      errors.push(p.error);
    }
    assert.ok(isWeirError(errors[0], 'ERR_POOL_CREATE_FAILED'));
    assert.match(((errors[0] as Error).cause as Error).message, /ECONNREFUSED/);
    assert.ok(isWeirError(errors[1], 'ERR_POOL_CREATE_FAILED'));
    assert.ok(isWeirError(errors[2], 'ERR_CIRCUIT_OPEN'), 'fails fast while open');
    assert.equal(pool.stats().breaker, 'open');
    fail = false;
    await clock.advance(1_000);
    const lease = await pool.acquire();
    lease.release();
    assert.equal(pool.stats().breaker, 'closed');
    assert.deepEqual(states, ['open', 'half-open', 'closed']);
    await pool.close();
    assert.equal(clock.pendingTimers, 0);
  });
});
