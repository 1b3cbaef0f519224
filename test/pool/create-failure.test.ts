import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FakeClock, flush } from '../../src/internal/clock.js';
import { isWeirError } from '../../src/internal/errors.js';
import { createPool } from '../../src/pool/index.js';
import { factory, track } from '../helpers/resources.js';

describe('create failures', () => {
  test('a rejected create fails the waiter that caused it, with the cause', async () => {
    const clock = new FakeClock();
    const boom = new Error('connection refused');
    const f = factory({ failWith: () => boom });
    const pool = createPool({ create: f.create, max: 2, clock });
    const err = await pool.acquire().catch((e: unknown) => e);
    assert.ok(isWeirError(err, 'ERR_POOL_CREATE_FAILED'));
    assert.equal((err as Error).cause, boom);
    assert.match((err as Error).message, /connection refused/);
    assert.equal(pool.stats().createErrors, 1);
    assert.equal(pool.stats().pending, 0);
    await pool.close();
  });

  test('others are retried with exponential backoff through timers', async () => {
    const clock = new FakeClock();
    let failures = 2;
    const f = factory({ failWith: () => (failures-- > 0 ? new Error('down') : undefined) });
    const pool = createPool({
      create: f.create,
      max: 1,
      random: () => 1,
      createRetry: { initialDelayMs: 100, maxDelayMs: 1000 },
      breaker: false,
      clock,
    });
    const delays: number[] = [];
    pool.on('createError', (e) => delays.push(e.retryInMs));
    const first = track(pool.acquire());
    const second = track(pool.acquire());
    const third = track(pool.acquire());
    await flush();
    assert.ok(
      isWeirError(first.error, 'ERR_POOL_CREATE_FAILED'),
      'the cause of the first create fails',
    );
    assert.equal(second.done, false, 'the others wait for a retry');
    await clock.advance(100);
    assert.ok(isWeirError(second.error, 'ERR_POOL_CREATE_FAILED'));
    assert.equal(third.done, false);
    await clock.advance(199);
    assert.equal(third.done, false);
    await clock.advance(1);
    assert.equal(third.done, true);
    assert.equal(third.error, undefined);
    assert.deepEqual(delays, [100, 200]);
    await pool.close();
  });

  test('a factory that throws synchronously cannot spin the event loop', async () => {
    const clock = new FakeClock();
    let calls = 0;
    const pool = createPool({
      create: () => {
        calls++;
        throw new Error('sync');
      },
      min: 5,
      max: 5,
      breaker: false,
      clock,
    });
    for (let i = 0; i < 20; i++) await flush(1);
    assert.ok(calls <= 5, `no retries without time passing (got ${calls} calls)`);
    await clock.advance(100);
    assert.ok(calls <= 10);
    await pool.close();
    assert.equal(clock.pendingTimers, 0);
  });

  test('a hanging create times out with ERR_POOL_CREATE_TIMEOUT; a late result is destroyed', async () => {
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
      createTimeoutMs: 5000,
      acquireTimeoutMs: 60_000,
      clock,
    });
    const p = track(pool.acquire());
    await clock.advance(5000);
    assert.ok(isWeirError(p.error, 'ERR_POOL_CREATE_TIMEOUT'));
    assert.equal(signal.aborted, true, 'the create is told to stop');
    finish({ id: 7 });
    await flush();
    assert.deepEqual(destroyed, [{ id: 7 }]);
    assert.equal(pool.stats().size, 0);
    await pool.close();
  });

  test('an acquire timeout carries the last create failure as cause', async () => {
    const clock = new FakeClock();
    const f = factory({ failWith: () => new Error('auth failed') });
    const pool = createPool({
      create: f.create,
      max: 1,
      acquireTimeoutMs: 50,
      breaker: false,
      clock,
    });
    const first = track(pool.acquire());
    const second = track(pool.acquire());
    await clock.advance(50);
    assert.ok(isWeirError(first.error, 'ERR_POOL_CREATE_FAILED'));
    assert.ok(isWeirError(second.error, 'ERR_POOL_TIMEOUT'));
    assert.match((second.error as Error).message, /the last create failed/);
    assert.equal(((second.error as Error).cause as Error).message, 'auth failed');
    await pool.close();
  });

  test('repeated failures open the breaker: waiters fail fast until a probe succeeds', async () => {
    const clock = new FakeClock();
    let down = true;
    const f = factory({ failWith: () => (down ? new Error('down') : undefined) });
    const pool = createPool({
      create: f.create,
      max: 2,
      breaker: { threshold: 3, halfOpenAfterMs: 10_000 },
      createRetry: { initialDelayMs: 10, maxDelayMs: 10 },
      random: () => 1,
      clock,
    });
    const states: string[] = [];
    pool.on('breaker', (e) => states.push(e.to));
    const waiters = [1, 2, 3, 4, 5].map(() => track(pool.acquire()));
    await clock.advance(100);
    assert.ok(
      waiters.every((w) => w.done),
      'no waiter hangs while the factory is down',
    );
    assert.deepEqual(states, ['open']);
    assert.equal(pool.stats().breaker, 'open');
    const codes = waiters.map((w) => (w.error as { code: string }).code);
    assert.ok(codes.includes('ERR_CIRCUIT_OPEN'));
    assert.ok(codes.includes('ERR_POOL_CREATE_FAILED'));
    const calls = f.created;
    const fast = await pool.acquire().catch((e: unknown) => e);
    assert.ok(isWeirError(fast, 'ERR_CIRCUIT_OPEN'), 'fails at once while open');
    assert.equal(f.created, calls);
    down = false;
    await clock.advance(10_000);
    const lease = await pool.acquire();
    assert.ok(lease.value);
    assert.deepEqual(states, ['open', 'half-open', 'closed']);
    lease.release();
    await pool.close();
  });
});

test('a breaker passed in is shared, and the pool stops listening to it when closed', async () => {
  const { CircuitBreaker } = await import('../../src/resilience/index.js');
  const clock = new FakeClock();
  const breaker = new CircuitBreaker({ threshold: 1, halfOpenAfterMs: 1000, clock });
  const pool = createPool({
    create: factory({ failWith: () => new Error('down') }).create,
    breaker,
    clock,
  });
  assert.equal(breaker.listenerCount('stateChange'), 1);
  await pool.acquire().catch(() => {});
  assert.equal(breaker.state, 'open', 'the pool reports its failures to the shared breaker');
  await pool.close();
  assert.equal(breaker.listenerCount('stateChange'), 0);
});
