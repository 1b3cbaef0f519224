// The core's `usable` hook: a resource it turns down is never lent, wherever the pool
// lends from (the idle set, a return, a create, a validation, a shared resource with
// room), and the borrower gets another.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock, flush } from '../../src/internal/clock.js';
import { isWeirError } from '../../src/internal/errors.js';
import { createPool } from '../../src/pool/index.js';
import { factory, type Res, track } from '../helpers/resources.js';

function setup(extra: Parameters<typeof createPool<Res>>[0] extends infer O ? Partial<O> : never) {
  const clock = new FakeClock();
  const f = factory();
  const bad = new Set<number>();
  const pool = createPool<Res>({
    create: f.create,
    destroy: f.destroy,
    clock,
    usable: (r) => !bad.has(r.id),
    ...extra,
  });
  const destroyed: { reason: string; cause?: unknown }[] = [];
  pool.on('destroy', (e) => destroyed.push(e));
  return { clock, f, bad, pool, destroyed };
}

test('an idle resource turned down is destroyed on the fast path and the next one lent', async () => {
  const { f, bad, pool, destroyed } = setup({});
  const a = await pool.acquire();
  const b = await pool.acquire();
  a.release();
  b.release();
  bad.add(b.value.id);
  const lease = pool.tryAcquire();
  assert.equal(lease?.value.id, a.value.id, 'the warmest was turned down, the next one lent');
  assert.equal(f.all[1]!.destroyed, 1);
  await flush();
  assert.equal(destroyed[0]?.reason, 'broken');
  assert.ok(isWeirError(destroyed[0]?.cause, 'ERR_RESOURCE_BROKEN'));
  lease!.release();
  bad.add(a.value.id);
  const fresh = await pool.acquire();
  assert.equal(fresh.value.id, 3, 'none left: a new one was created');
  fresh.release();
  await pool.close();
});

test('a returned resource turned down is not handed to the waiter; the waiter gets a new one', async () => {
  const { f, bad, pool } = setup({ max: 1 });
  const a = await pool.acquire();
  const waiter = track(pool.acquire());
  bad.add(a.value.id);
  a.release();
  await flush();
  assert.equal(waiter.value?.value.id, 2);
  assert.equal(f.all[0]!.destroyed, 1);
  waiter.value!.release();
  await pool.close();
});

test('a throwing usable counts as false, and a validated resource turned down fails validation', async () => {
  const clock = new FakeClock();
  const f = factory();
  let throwFor = 0;
  const pool = createPool<Res>({
    create: f.create,
    destroy: f.destroy,
    clock,
    validate: () => true,
    validateAfterIdleMs: 10,
    usable: (r) => {
      if (r.id === throwFor) throw new Error('cannot tell');
      return true;
    },
  });
  (await pool.acquire()).release();
  await clock.advance(11);
  throwFor = 1;
  const lease = await pool.acquire();
  assert.equal(lease.value.id, 2);
  assert.equal(pool.stats().validationFailures, 1);
  lease.release();
  await pool.close();
});

test('a shared resource turned down takes no new borrowers and goes when its leases return', async () => {
  const { f, bad, pool } = setup({ maxLeasesPerResource: 2 });
  const a = await pool.acquire();
  bad.add(a.value.id);
  const b = await pool.acquire();
  assert.equal(b.value.id, 2, 'not shared any more');
  assert.equal(f.all[0]!.destroyed, 0, 'still leased');
  a.release();
  assert.equal(f.all[0]!.destroyed, 1);
  b.release();
  await pool.close();
});

test('usable must be a function', () => {
  assert.throws(() => createPool({ create: () => 1, usable: 1 as never }), /`usable`/);
});
