import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { describe, test } from 'node:test';
import { flush } from '../../src/internal/clock.js';
import { isWeirError } from '../../src/internal/errors.js';
import { BulkheadFullError, Semaphore } from '../../src/resilience/index.js';

describe('Semaphore', () => {
  test('hands out at most `permits`; tryAcquire never waits', () => {
    const s = new Semaphore(2);
    const a = s.tryAcquire();
    const b = s.tryAcquire();
    assert.ok(a && b);
    assert.equal(s.tryAcquire(), undefined);
    assert.equal(s.available, 0);
    a.release();
    assert.equal(s.available, 1);
  });

  test('waiters are served first come first served, by direct hand-off', async () => {
    const s = new Semaphore(1);
    const first = await s.acquire();
    const order: number[] = [];
    const waits = [1, 2, 3].map((i) =>
      s.acquire().then((p) => {
        order.push(i);
        return p;
      }),
    );
    assert.equal(s.waiting, 3);
    first.release();
    // The released permit went to waiter 1: nobody can barge in with tryAcquire.
    assert.equal(s.tryAcquire(), undefined);
    const p1 = await waits[0]!;
    p1.release();
    const p2 = await waits[1]!;
    p2.release();
    (await waits[2]!).release();
    assert.deepEqual(order, [1, 2, 3]);
    assert.equal(s.available, 1);
    assert.equal(s.waiting, 0);
  });

  test('release is idempotent; Symbol.dispose releases', async () => {
    const s = new Semaphore(2);
    const p = await s.acquire();
    assert.equal(p.held, true);
    p.release();
    p.release();
    p[Symbol.dispose]();
    assert.equal(p.held, false);
    assert.equal(s.available, 2, 'a second release is not a double return');
    {
      using q = await s.acquire();
      assert.equal(s.available, 1);
      assert.ok(q.held);
    }
    assert.equal(s.available, 2);
  });

  test('an aborted wait rejects with the reason and leaves the queue', async () => {
    const s = new Semaphore(1);
    const held = await s.acquire();
    const ac = new AbortController();
    const reason = new Error('client went away');
    const aborted = s.acquire({ signal: ac.signal });
    const next = s.acquire();
    assert.equal(s.waiting, 2);
    ac.abort(reason);
    await assert.rejects(aborted, reason);
    assert.equal(s.waiting, 1);
    held.release();
    const p = await next;
    assert.ok(p.held);
    p.release();
    assert.equal(s.available, 1);
  });

  test('an already aborted signal rejects at once and takes nothing', async () => {
    const s = new Semaphore(1);
    const reason = new Error('stop');
    await assert.rejects(s.acquire({ signal: AbortSignal.abort(reason) }), reason);
    await assert.rejects(
      s.execute(() => 1, { signal: AbortSignal.abort(reason) }),
      reason,
    );
    assert.equal(s.available, 1);
  });

  test('beyond maxWaiting callers are refused with ERR_BULKHEAD_FULL', async () => {
    const s = new Semaphore(1, { maxWaiting: 1, name: 'db' });
    const held = await s.acquire();
    const queued = s.acquire();
    const err = await s.acquire().catch((e: unknown) => e);
    assert.ok(err instanceof BulkheadFullError);
    assert.ok(isWeirError(err, 'ERR_BULKHEAD_FULL'));
    assert.equal(err.permits, 1);
    assert.equal(err.waiting, 1);
    assert.match(err.message, /"db" is full/);
    held.release();
    (await queued).release();
  });

  test('maxWaiting 0 is a pure bulkhead', async () => {
    const s = new Semaphore(1, { maxWaiting: 0 });
    const held = s.tryAcquire()!;
    await assert.rejects(s.acquire(), BulkheadFullError);
    held.release();
  });

  test('execute bounds concurrency and releases on success and on throw', async () => {
    const s = new Semaphore(3);
    let running = 0;
    let peak = 0;
    const task = async (i: number) => {
      running++;
      peak = Math.max(peak, running);
      await flush(1);
      running--;
      if (i % 4 === 0) throw new Error(`task ${i}`);
      return i;
    };
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) => s.execute(() => task(i))),
    );
    assert.equal(peak, 3);
    assert.equal(results.filter((r) => r.status === 'rejected').length, 5);
    assert.equal(s.available, 3);
    assert.equal(s.waiting, 0);
  });

  test('execute passes the signal on', async () => {
    const s = new Semaphore(1);
    const ac = new AbortController();
    assert.equal(await s.execute(({ signal }) => signal, { signal: ac.signal }), ac.signal);
    assert.equal(await s.execute(({ signal }) => signal), undefined);
  });

  test('random aborts never lose or duplicate a permit', async () => {
    const s = new Semaphore(2, { maxWaiting: 100 });
    let seed = 42;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const controllers: AbortController[] = [];
    const all: Promise<unknown>[] = [];
    for (let i = 0; i < 200; i++) {
      const ac = new AbortController();
      controllers.push(ac);
      all.push(s.execute(() => flush(1), { signal: ac.signal }).catch(() => undefined));
      if (rnd() < 0.3) controllers[Math.floor(rnd() * controllers.length)]!.abort();
    }
    await Promise.all(all);
    assert.equal(s.available, 2);
    assert.equal(s.waiting, 0);
  });

  test('a long-lived signal keeps no listener once its waits are over', async () => {
    const s = new Semaphore(1);
    const ac = new AbortController();
    const held = await s.acquire({ signal: ac.signal });
    const waits = [1, 2, 3].map(() => s.acquire({ signal: ac.signal }));
    // One listener for the signal, however many waits share it (internal/signals.ts).
    assert.equal(getEventListeners(ac.signal, 'abort').length, 1);
    held.release();
    for (const w of waits) (await w).release();
    assert.equal(getEventListeners(ac.signal, 'abort').length, 0);
  });

  test('validates options', () => {
    assert.throws(() => new Semaphore(0), /`permits`.*>= 1/);
    assert.throws(() => new Semaphore(1.5), RangeError);
    assert.throws(() => new Semaphore(1, { maxWaiting: -1 }), /`maxWaiting`/);
    assert.throws(() => new Semaphore(1, { name: 1 as unknown as string }), /`name`/);
    assert.doesNotThrow(() => new Semaphore(1, { maxWaiting: Number.POSITIVE_INFINITY }));
  });
});
