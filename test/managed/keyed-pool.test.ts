import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FakeClock, flush } from '../../src/internal/clock.js';
import { isWeirError } from '../../src/internal/errors.js';
import { createKeyedPool, type ManagedPoolOptions } from '../../src/managed/index.js';
import type { Lease } from '../../src/pool/index.js';
import { deferred, track } from '../helpers/resources.js';
import { type Conn, type FakeOptions, fakeManager } from './fake-manager.js';

/** A keyed pool whose keys each get a fake manager; `open()` counts connections across keys. */
function keyedFakes(
  options: {
    maxConnections?: number;
    idleKeyTimeoutMs?: number;
    pool?: ManagedPoolOptions;
    fake?: (key: string) => FakeOptions;
  } = {},
) {
  const clock = new FakeClock();
  const fakes = new Map<string, ReturnType<typeof fakeManager>>();
  const made: string[] = [];
  const keyed = createKeyedPool({
    pool: (key: string) => {
      made.push(key);
      const f = fakeManager(options.fake?.(key));
      fakes.set(key, f);
      return { manager: f.manager, options: { max: 4, ...options.pool } };
    },
    clock,
    ...(options.maxConnections === undefined ? {} : { maxConnections: options.maxConnections }),
    ...(options.idleKeyTimeoutMs === undefined
      ? {}
      : { idleKeyTimeoutMs: options.idleKeyTimeoutMs }),
  });
  const open = (): number => [...fakes.values()].reduce((n, f) => n + f.state.open, 0);
  return { clock, keyed, fakes, made, open };
}

describe('KeyedPool', () => {
  test('a key gets its pool on first use, once; stats per key and in total', async () => {
    const { clock, keyed, made } = keyedFakes();
    const created: string[] = [];
    keyed.on('poolCreate', (e) => created.push(e.key));
    assert.equal(keyed.has('a'), false);
    const a = await keyed.acquire('a');
    const b = await keyed.acquire('b');
    const a2 = await keyed.acquire('a');
    assert.equal(keyed.get('a'), keyed.get('a'));
    assert.deepEqual(made, ['a', 'b']);
    assert.deepEqual(created, ['a', 'b']);
    assert.equal(keyed.get('a').name, 'keyed a');
    a.release();
    const s = keyed.stats();
    assert.equal(s.keys, 2);
    assert.deepEqual(
      s.pools.map((p) => [p.key, p.stats.size, p.stats.leased]),
      [
        ['a', 2, 1],
        ['b', 1, 1],
      ],
    );
    assert.deepEqual([s.total.size, s.total.idle, s.total.leased, s.total.created], [3, 1, 2, 3]);
    b.release();
    a2.release();
    await keyed.close();
    assert.throws(
      () => keyed.get('c'),
      (e: unknown) => isWeirError(e, 'ERR_POOL_CLOSED'),
    );
    await assert.rejects(keyed.acquire('a'), (e: unknown) => isWeirError(e, 'ERR_POOL_CLOSED'));
    assert.equal(keyed.tryAcquire('a'), null);
    assert.equal(keyed.stats().state, 'closed');
    assert.equal(clock.pendingTimers, 0);
  });

  test('a key unused for idleKeyTimeoutMs is evicted; one with a lease out is kept', async () => {
    const { clock, keyed, fakes, made } = keyedFakes({ idleKeyTimeoutMs: 1_000 });
    const evicted: string[] = [];
    keyed.on('poolEvict', (e) => evicted.push(e.key));
    (await keyed.acquire('a')).release();
    const held = await keyed.acquire('b');
    await clock.advance(1_000);
    assert.ok(keyed.has('a'), 'used within the last period');
    await clock.advance(1_000);
    assert.deepEqual(evicted, ['a']);
    assert.equal(keyed.has('a'), false);
    assert.equal(keyed.has('b'), true, 'a key with a lease out stays');
    assert.equal(fakes.get('a')!.conns[0]!.closed, 1);
    await flush();
    const s = keyed.stats();
    assert.equal(s.evictedKeys, 1);
    assert.equal(s.total.created, 2, "an evicted key's totals stay in the total");
    assert.equal(s.total.size, 1);
    held.release();
    (await keyed.acquire('a')).release();
    assert.deepEqual(made, ['a', 'b', 'a'], 'a new pool after eviction');
    await keyed.close();
    assert.equal(clock.pendingTimers, 0);
  });

  test('Infinity keeps every key', async () => {
    const { clock, keyed } = keyedFakes({ idleKeyTimeoutMs: Number.POSITIVE_INFINITY });
    (await keyed.acquire('a')).release();
    await clock.advance(1_000_000);
    assert.equal(keyed.has('a'), true);
    await keyed.close();
  });

  test('bad options are named', () => {
    assert.throws(() => createKeyedPool({} as never), /`pool`/);
    assert.throws(
      () => createKeyedPool({ pool: () => ({}) as never, maxConnections: 0 }),
      /`maxConnections`/,
    );
    assert.throws(
      () => createKeyedPool({ pool: () => ({}) as never, idleKeyTimeoutMs: 0 }),
      /`idleKeyTimeoutMs`/,
    );
    const keyed = createKeyedPool({ pool: () => null as never });
    assert.throws(() => keyed.get('x'), /`pool\(key\)`/);
  });
});

describe('the budget across keys', () => {
  test("an idle connection of one key is closed to serve another key's connect", async () => {
    const { clock, keyed, fakes, open } = keyedFakes({ maxConnections: 2 });
    const a1 = await keyed.acquire('a');
    const a2 = await keyed.acquire('a');
    a1.release();
    a2.release();
    assert.equal(keyed.stats().budgetUsed, 2);
    const b = track<Lease<Conn>>(keyed.acquire('b'));
    await clock.advance(0);
    await flush();
    assert.equal(b.value?.value.id, 1, 'b got a connection of its own');
    assert.equal(fakes.get('a')!.conns[0]!.closed, 1, "a's least recently used idle one went");
    assert.equal(fakes.get('a')!.conns[1]!.closed, 0);
    assert.equal(open(), 2);
    assert.equal(keyed.stats().budgetWaiting, 0);
    b.value!.release();
    await keyed.close();
    assert.equal(open(), 0);
    assert.equal(clock.pendingTimers, 0);
  });

  test('a key holding more than its fair share gives connections back as they return', async () => {
    const { clock, keyed, fakes } = keyedFakes({ maxConnections: 2, pool: { max: 2 } });
    const a1 = await keyed.acquire('a');
    const a2 = await keyed.acquire('a');
    const aWaiter = track(keyed.acquire('a'));
    const b = track<Lease<Conn>>(keyed.acquire('b'));
    await clock.advance(0);
    assert.equal(b.done, false, 'the whole budget is leased');
    a1.release();
    await flush();
    assert.equal(
      b.value?.value.id,
      1,
      'a was over its share: its returned connection made room for b',
    );
    assert.equal(a1.value.closed, 1);
    a2.release();
    await flush();
    assert.equal(
      aWaiter.value?.value,
      a2.value,
      "a's own waiter gets a's connection within its share",
    );
    const s = keyed.stats();
    assert.equal(s.total.createErrors, 0, 'waiting for room is not a failed connect');
    assert.ok(s.pools.every((p) => p.stats.breaker === 'closed'));
    assert.ok(s.budgetUsed <= 2);
    aWaiter.value!.release();
    b.value!.release();
    await keyed.close();
    assert.equal(
      [...fakes.values()].reduce((n, f) => n + f.state.open, 0),
      0,
    );
  });

  test('a caller waiting for room times out with ERR_POOL_TIMEOUT, never as a failed connect', async () => {
    const { clock, keyed } = keyedFakes({
      maxConnections: 1,
      pool: { acquireTimeoutMs: 1_000, connectTimeoutMs: 100 },
    });
    const a = await keyed.acquire('a');
    const b = track<Lease<Conn>>(keyed.acquire('b'));
    await clock.advance(1_000);
    assert.ok(isWeirError(b.error, 'ERR_POOL_TIMEOUT'), String(b.error));
    const bs = keyed.get('b').stats();
    assert.equal(bs.createErrors, 0);
    assert.equal(bs.breaker, 'closed');
    assert.equal(keyed.stats().budgetWaiting, 1, 'its connect still waits for room');
    a.release();
    await clock.advance(0);
    assert.equal(keyed.stats().budgetWaiting, 0, "a's now idle connection made room");
    await keyed.close();
    assert.equal(clock.pendingTimers, 0);
  });

  test('an abort while waiting for room fails the caller; closing ends the connect that waited', async () => {
    const { clock, keyed, open } = keyedFakes({ maxConnections: 1 });
    const a = await keyed.acquire('a');
    const ac = new AbortController();
    const b = track<Lease<Conn>>(keyed.acquire('b', { signal: ac.signal }));
    await clock.advance(0);
    ac.abort(new Error('stop'));
    await flush();
    assert.match((b.error as Error).message, /stop/);
    assert.equal(keyed.get('b').stats().pending, 0);
    await keyed.close();
    assert.equal(keyed.stats().budgetWaiting, 0);
    assert.equal(keyed.stats().budgetUsed, 0);
    assert.equal(open(), 0);
    a.release();
    assert.equal(clock.pendingTimers, 0);
  });

  test('behind a budget the connect keeps its own timeout, reported as ERR_POOL_CREATE_TIMEOUT', async () => {
    const late = deferred();
    const { clock, keyed, fakes } = keyedFakes({
      maxConnections: 1,
      pool: { connectTimeoutMs: 100, breaker: false },
      fake: () => ({ before: (n) => (n === 1 ? late.promise : undefined) }),
    });
    const errors: unknown[] = [];
    const p = track<Lease<Conn>>(keyed.acquire('a'));
    keyed.get('a').on('createError', (e) => errors.push(e.error));
    await clock.advance(100);
    assert.ok(isWeirError(p.error, 'ERR_POOL_CREATE_TIMEOUT'), String(p.error));
    assert.ok(isWeirError((p.error as Error).cause, 'ERR_POOL_CREATE_TIMEOUT'));
    assert.equal(errors.length, 1);
    assert.equal(keyed.stats().budgetUsed, 0, 'its room came back at the timeout');
    late.resolve();
    await flush();
    assert.equal(fakes.get('a')!.conns[0]!.closed, 1, 'the late connection is closed');
    await keyed.close();
    assert.equal(clock.pendingTimers, 0);
  });

  test('behind a budget a check that hangs is cut off after connectTimeoutMs', async () => {
    const { clock, keyed, fakes } = keyedFakes({
      maxConnections: 4,
      pool: { connectTimeoutMs: 100, checkAfterIdleMs: 0 },
      fake: () => ({ check: () => new Promise<boolean>(() => {}) }),
    });
    (await keyed.acquire('a')).release();
    await clock.advance(1);
    const p = track<Lease<Conn>>(keyed.acquire('a'));
    await clock.advance(100);
    assert.equal(p.value?.value.id, 2, 'the connection whose check hung was replaced');
    assert.equal(fakes.get('a')!.conns[0]!.closed, 1);
    p.value!.release();
    await keyed.close();
  });

  test('random acquires, releases and aborts never open more than the budget, and every caller settles', async () => {
    let seed = 42;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const { clock, keyed, open } = keyedFakes({
      maxConnections: 3,
      pool: { max: 3, acquireTimeoutMs: 500, breaker: false },
    });
    const keys = ['a', 'b', 'c', 'd'];
    const held: { release(): void }[] = [];
    const calls: ReturnType<typeof track>[] = [];
    let peak = 0;
    for (let step = 0; step < 400; step++) {
      const r = random();
      if (r < 0.45) {
        const ac = new AbortController();
        const call = track(
          keyed
            .acquire(keys[Math.floor(random() * keys.length)]!, { signal: ac.signal })
            .then((lease) => {
              held.push(lease);
              return lease;
            }),
        );
        calls.push(call);
        if (random() < 0.2) ac.abort(new Error('gave up'));
      } else if (r < 0.85 && held.length > 0) {
        held.splice(Math.floor(random() * held.length), 1)[0]!.release();
      } else {
        await clock.advance(Math.floor(random() * 40));
      }
      await flush(1);
      peak = Math.max(peak, open());
      assert.ok(open() <= 3, `step ${step}: ${open()} connections open`);
    }
    for (const lease of held.splice(0)) lease.release();
    await clock.advance(1_000);
    for (const lease of held.splice(0)) lease.release();
    assert.ok(
      calls.every((c) => c.done),
      'no caller is left waiting',
    );
    assert.equal(peak, 3);
    await keyed.close();
    assert.equal(open(), 0);
    assert.equal(clock.pendingTimers, 0);
  });
});
