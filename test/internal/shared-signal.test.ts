// One AbortSignal shared by many waits (a request's signal passed to every call it makes,
// a shutdown signal passed to every worker) used to get one 'abort' listener per wait:
// past ten, Node printed MaxListenersExceededWarning, and each removal scanned the list.
// weir now keeps one listener per signal, whatever the number of waits.
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { Channel, recv, select } from '../../src/channel/index.js';
import { FakeClock } from '../../src/internal/clock.js';
import { onAbort } from '../../src/internal/signals.js';
import { createPool } from '../../src/pool/index.js';
import { RateLimiter, retry, Semaphore, withTimeout } from '../../src/resilience/index.js';
import { createSseStream } from '../../src/sse/index.js';
import { stream } from '../../src/stream/index.js';

const N = 1_000;
const listeners = (signal: AbortSignal): number => getEventListeners(signal, 'abort').length;
const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

let warnings: Error[] = [];
const onWarning = (w: Error): void => {
  warnings.push(w);
};
beforeEach(() => {
  warnings = [];
  process.on('warning', onWarning);
});
afterEach(() => {
  process.off('warning', onWarning);
});

describe('1,000 concurrent waits on one AbortSignal', () => {
  test('onAbort: one listener, and every callback runs once, in order', async () => {
    const controller = new AbortController();
    const seen: number[] = [];
    const disposers = Array.from({ length: N }, (_, i) =>
      onAbort(controller.signal, () => {
        seen.push(i);
        // Removing a later wait from inside an earlier one's callback skips it.
        if (i === 0) disposers[1]!();
      }),
    );
    assert.equal(listeners(controller.signal), 1);
    disposers[2]!();
    const late = onAbort(controller.signal, () => seen.push(-1));
    controller.abort(new Error('stop'));
    assert.equal(seen.length, N - 1, 'the two disposed callbacks did not run');
    assert.deepEqual(seen.slice(0, 3), [0, 3, 4]);
    assert.equal(seen.at(-1), -1);
    assert.equal(listeners(controller.signal), 0);
    late();
    for (const d of disposers) d(); // after the abort: no-ops
    await tick();
    assert.deepEqual(warnings, []);
  });

  test('disposing every wait removes the listener, and a new wait adds one again', () => {
    const controller = new AbortController();
    const disposers = Array.from({ length: N }, () => onAbort(controller.signal, () => {}));
    for (const d of disposers) d();
    assert.equal(listeners(controller.signal), 0);
    const again = onAbort(controller.signal, () => {});
    assert.equal(listeners(controller.signal), 1);
    again();
    assert.equal(listeners(controller.signal), 0);
  });

  test('a callback that throws does not keep the others from running', () => {
    const controller = new AbortController();
    let ran = 0;
    onAbort(controller.signal, () => {
      throw new Error('boom');
    });
    onAbort(controller.signal, () => ran++);
    // The throw is rethrown from a microtask, as an EventTarget reports a listener's;
    // caught here so that the test runner does not see an uncaught exception.
    const queued: (() => void)[] = [];
    const real = globalThis.queueMicrotask;
    globalThis.queueMicrotask = (job) => void queued.push(job);
    try {
      controller.abort();
    } finally {
      globalThis.queueMicrotask = real;
    }
    assert.equal(ran, 1);
    assert.equal(queued.length, 1);
    assert.throws(queued[0]!, { message: 'boom' });
  });

  test('pool acquires, channel receives, selects, semaphore and limiter waits, retries, timeouts, stream terminals', async () => {
    const controller = new AbortController();
    const { signal } = controller;
    const clock = new FakeClock();
    const pool = createPool({ create: () => ({}), max: 1, maxWaiting: N, clock });
    const held = await pool.acquire();
    const ch = new Channel<number>();
    const sem = new Semaphore(1, { maxWaiting: N });
    const semHeld = await sem.acquire();
    const limiter = new RateLimiter({ ratePerSecond: 1, burst: 1, maxWaiting: N, clock });
    limiter.tryAcquire();
    const never = new Promise<never>(() => {});
    const waits: Promise<unknown>[] = [];
    for (let i = 0; i < N / 10; i++) {
      waits.push(pool.acquire({ signal }));
      waits.push(ch.receive({ signal }));
      waits.push(select([recv(ch)], { signal }));
      waits.push(sem.acquire({ signal }));
      waits.push(limiter.acquire(1, { signal }));
      waits.push(retry(() => Promise.reject(new Error('again')), { attempts: 3, clock, signal }));
      waits.push(withTimeout(() => never, 60_000, { clock, signal }));
      waits.push(stream([never]).toArray({ signal }));
      waits.push(
        stream([1])
          .map(() => never)
          .first({ signal }),
      );
      waits.push(ch.values({ signal }).next());
    }
    const outcomes = Promise.allSettled(waits);
    await clock.advance(0);
    await tick();
    assert.ok(listeners(signal) <= 1, `${listeners(signal)} abort listeners on the signal`);
    assert.deepEqual(warnings, []);
    const reason = new Error('shutting down');
    controller.abort(reason);
    const settled = await outcomes;
    assert.equal(settled.length, N);
    for (const s of settled) {
      assert.equal(s.status, 'rejected');
      assert.equal((s as PromiseRejectedResult).reason, reason);
    }
    assert.equal(listeners(signal), 0);
    assert.deepEqual(warnings, []);
    held.release();
    semHeld.release();
    await pool.close();
  });

  test('waits that settle normally leave no listener behind', async () => {
    const { signal } = new AbortController();
    const pool = createPool({ create: () => ({}), max: 1, maxWaiting: N, clock: new FakeClock() });
    const first = await pool.acquire();
    const ch = new Channel<number>();
    const sem = new Semaphore(1, { maxWaiting: N });
    const semHeld = await sem.acquire();
    const leases = Array.from({ length: N / 2 }, () => pool.acquire({ signal }));
    const received = Array.from({ length: N / 4 }, () => ch.receive({ signal }));
    const permits = Array.from({ length: N / 4 }, () => sem.acquire({ signal }));
    await tick();
    assert.equal(listeners(signal), 1);
    first.release();
    for (const p of leases) (await p).release();
    for (let i = 0; i < N / 4; i++) await ch.send(i);
    await Promise.all(received);
    semHeld.release();
    for (const p of permits) (await p).release();
    assert.equal(listeners(signal), 0, 'every settled wait removed itself');
    await tick();
    assert.deepEqual(warnings, []);
    await pool.close();
  });

  test('web SSE streams closed before their outer signal aborts take their waits off it', () => {
    const { signal } = new AbortController();
    const clock = new FakeClock();
    const streams = Array.from({ length: 20 }, () => createSseStream({ signal }, { clock }));
    assert.equal(listeners(signal), 1);
    for (const s of streams) s.close();
    assert.equal(listeners(signal), 0, 'a closed stream used to stay registered until the abort');
  });
});
