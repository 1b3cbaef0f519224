import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FakeClock, flush } from '../../src/internal/clock.js';
import { createPool } from '../../src/pool/index.js';
import { factory } from '../helpers/resources.js';

describe('validate', () => {
  test('a resource idle past validateAfterIdleMs is validated on borrow; a failing one is replaced', async () => {
    const clock = new FakeClock();
    const f = factory();
    const bad = new Set<number>();
    const checked: number[] = [];
    const pool = createPool({
      create: f.create,
      destroy: f.destroy,
      validate: async (r) => {
        checked.push(r.id);
        return !bad.has(r.id);
      },
      max: 2,
      validateAfterIdleMs: 500,
      clock,
    });
    const failures: unknown[] = [];
    pool.on('validationFailure', (e) => failures.push(e));
    const a = await pool.acquire();
    a.release();
    (await pool.acquire()).release();
    assert.deepEqual(checked, [], 'a recently used resource is handed out without a check');
    await clock.advance(501);
    bad.add(a.value.id);
    const b = await pool.acquire();
    assert.deepEqual(checked, [1]);
    assert.notEqual(b.value, a.value, 'the broken resource was not handed out');
    assert.equal(failures.length, 1);
    assert.equal(a.value.destroyed, 1);
    b.release();
    await pool.close();
  });

  test('a validate that throws counts as a failure', async () => {
    const clock = new FakeClock();
    const f = factory();
    let throwOnce = true;
    const pool = createPool({
      create: f.create,
      destroy: f.destroy,
      validate: () => {
        if (throwOnce) {
          throwOnce = false;
          throw new Error('ping failed');
        }
        return true;
      },
      max: 1,
      clock,
    });
    (await pool.acquire()).release();
    await clock.advance(1000);
    const lease = await pool.acquire();
    assert.equal(lease.value.id, 2);
    assert.equal(pool.stats().validationFailures, 1);
    lease.release();
    await pool.close();
  });

  test('idle resources are validated periodically', async () => {
    const clock = new FakeClock();
    const f = factory();
    let alive = true;
    const pool = createPool({
      create: f.create,
      destroy: f.destroy,
      validate: () => alive,
      min: 1,
      max: 1,
      validateIntervalMs: 10_000,
      idleTimeoutMs: 60_000,
      clock,
    });
    await flush();
    assert.equal(f.created, 1);
    alive = false;
    await clock.advance(10_000);
    assert.equal(f.destroyed, 1, 'the dead idle resource was found without anyone borrowing it');
    alive = true;
    await clock.advance(1_000);
    assert.equal(f.alive.size, 1, 'min is restored');
    await pool.close();
  });

  test('an aborted waiter during validation leaves the validated resource in the pool', async () => {
    const clock = new FakeClock();
    const f = factory();
    let release!: (v: boolean) => void;
    const pool = createPool({
      create: f.create,
      validate: () =>
        new Promise<boolean>((r) => {
          release = r;
        }),
      max: 1,
      clock,
    });
    (await pool.acquire()).release();
    await clock.advance(1000);
    const ac = new AbortController();
    const p = pool.acquire({ signal: ac.signal });
    await flush();
    ac.abort(new Error('bye'));
    await assert.rejects(p, /bye/);
    release(true);
    await flush();
    assert.equal(pool.stats().idle, 1);
    await pool.close();
  });
});

describe('reset', () => {
  test('reset runs on return; a throwing reset destroys the resource', async () => {
    const clock = new FakeClock();
    const f = factory();
    const resets: number[] = [];
    let fail = false;
    const pool = createPool({
      create: f.create,
      destroy: f.destroy,
      reset: async (r) => {
        resets.push(r.id);
        if (fail) throw new Error('cannot reset');
      },
      max: 1,
      clock,
    });
    const destroyed: string[] = [];
    pool.on('destroy', (e) => destroyed.push(e.reason));
    (await pool.acquire()).release();
    await flush();
    assert.deepEqual(resets, [1]);
    fail = true;
    (await pool.acquire()).release();
    await flush();
    assert.deepEqual(destroyed, ['reset']);
    const next = await pool.acquire();
    assert.equal(next.value.id, 2);
    next.release();
    await pool.close();
  });

  test('a waiter gets the resource only after reset finished', async () => {
    const clock = new FakeClock();
    const f = factory();
    let finish!: () => void;
    let resetting = false;
    const pool = createPool({
      create: f.create,
      reset: () =>
        new Promise<void>((r) => {
          resetting = true;
          finish = () => {
            resetting = false;
            r();
          };
        }),
      max: 1,
      clock,
    });
    const a = await pool.acquire();
    const p = pool.acquire();
    a.release();
    await flush();
    assert.equal(resetting, true);
    assert.equal(pool.stats().leased, 0);
    finish();
    const b = await p;
    assert.equal(b.value, a.value);
    b.release();
    finish();
    await pool.close();
  });
});

describe('destroy', () => {
  test('a throwing or rejecting destroy is reported, not thrown, and the pool goes on', async () => {
    const clock = new FakeClock();
    const f = factory();
    const pool = createPool({
      create: f.create,
      destroy: (r) => {
        if (r.id === 1) throw new Error('sync boom');
        return Promise.reject(new Error('async boom'));
      },
      max: 1,
      clock,
    });
    const errors: unknown[] = [];
    pool.on('destroy', (e) => e.error && errors.push(e.error));
    (await pool.acquire()).destroy();
    (await pool.acquire()).destroy();
    await flush();
    assert.deepEqual(
      errors.map((e) => (e as Error).message),
      ['sync boom', 'async boom'],
    );
    assert.equal((await pool.acquire()).value.id, 3);
    await pool.close();
  });
});

describe('idle timeout and lifetime', () => {
  test('idle resources above min are destroyed after idleTimeoutMs', async () => {
    const clock = new FakeClock();
    const f = factory();
    const pool = createPool({
      create: f.create,
      destroy: f.destroy,
      min: 1,
      max: 3,
      idleTimeoutMs: 5000,
      clock,
    });
    const leases = await Promise.all([pool.acquire(), pool.acquire(), pool.acquire()]);
    for (const l of leases) l.release();
    await clock.advance(4000);
    assert.equal(f.destroyed, 0);
    await clock.advance(2000);
    assert.equal(f.alive.size, 1, 'min stays');
    await pool.close();
  });

  test('a leased resource past its lifetime is retired on return, not yanked', async () => {
    const clock = new FakeClock();
    const f = factory();
    const pool = createPool({
      create: f.create,
      destroy: f.destroy,
      max: 1,
      maxLifetimeMs: 10_000,
      lifetimeJitter: 0,
      clock,
    });
    const lease = await pool.acquire();
    await clock.advance(20_000);
    assert.equal(lease.value.destroyed, 0, 'still in use');
    lease.release();
    await flush();
    assert.equal(lease.value.destroyed, 1);
    const next = await pool.acquire();
    assert.equal(next.value.id, 2);
    next.release();
    await pool.close();
  });

  test('lifetimes are jittered so resources do not all retire at once', async () => {
    const clock = new FakeClock();
    const f = factory();
    let i = 0;
    const pool = createPool({
      create: f.create,
      destroy: f.destroy,
      min: 4,
      max: 4,
      maxLifetimeMs: 100_000,
      lifetimeJitter: 0.2,
      idleTimeoutMs: Number.POSITIVE_INFINITY,
      random: () => [0, 0.25, 0.5, 0.75][i++ % 4]!,
      clock,
    });
    await flush();
    const deaths: number[] = [];
    pool.on('destroy', (e) => e.reason === 'lifetime' && deaths.push(clock.now()));
    await clock.advance(101_000);
    assert.deepEqual(deaths, [85_000, 90_000, 95_000, 100_000]);
    await pool.close();
  });
});

describe('resize', () => {
  test('shrinking destroys idle surplus now and leased surplus on return', async () => {
    const clock = new FakeClock();
    const f = factory();
    const pool = createPool({ create: f.create, destroy: f.destroy, max: 4, clock });
    const leases = await Promise.all([1, 2, 3, 4].map(() => pool.acquire()));
    leases[0]!.release();
    leases[1]!.release();
    pool.resize({ max: 1 });
    assert.equal(f.destroyed, 2, 'idle surplus goes at once');
    leases[2]!.release();
    assert.equal(f.destroyed, 3, 'a returned lease above max is retired');
    leases[3]!.release();
    assert.equal(pool.stats().size, 1);
    assert.throws(() => pool.resize({ min: 3, max: 2 }), /`min` \(3\) to be <= `max` \(2\)/);
    await pool.close();
  });

  test('growing serves waiters at once', async () => {
    const clock = new FakeClock();
    const f = factory();
    const pool = createPool({ create: f.create, max: 1, clock });
    const held = await pool.acquire();
    const p = pool.acquire();
    pool.resize({ max: 2 });
    const got = await p;
    assert.equal(got.value.id, 2);
    held.release();
    got.release();
    await pool.close();
  });
});

describe('retire from outside', () => {
  test('an idle resource goes at once, a leased one when returned', async () => {
    const clock = new FakeClock();
    const f = factory();
    const pool = createPool({ create: f.create, destroy: f.destroy, max: 2, clock });
    const a = await pool.acquire();
    const b = await pool.acquire();
    b.release();
    assert.equal(pool.retire(b.value, new Error('connection reset')), true);
    assert.equal(b.value.destroyed, 1);
    assert.equal(pool.retire(a.value), true);
    assert.equal(a.value.destroyed, 0, 'not under its borrower');
    a.release();
    assert.equal(a.value.destroyed, 1);
    assert.equal(pool.retire(a.value), false, 'unknown or gone');
    assert.equal((await pool.acquire()).value.id, 3);
    await pool.close();
  });

  test('a validate that ignores its signal loses to the deadline', async () => {
    const clock = new FakeClock();
    const f = factory();
    const pool = createPool({
      create: f.create,
      destroy: f.destroy,
      validate: () => new Promise<boolean>(() => {}),
      validateTimeoutMs: 1000,
      max: 1,
      clock,
    });
    (await pool.acquire()).release();
    await clock.advance(1000);
    const p = pool.acquire();
    await clock.advance(1000);
    const lease = await p;
    assert.equal(lease.value.id, 2, 'the hung one was destroyed and replaced');
    assert.equal(pool.stats().validationFailures, 1);
    lease.release();
    await pool.close();
  });
});
