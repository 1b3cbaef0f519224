// PgPoolOptions: built on the managed layer's options, so that a pg.Client can never be
// given to two borrowers (a sharing option does not compile, and throws at run time),
// while every option pg took before, under its old name too, still works. The type tests
// are checked by `npm run typecheck` (an unused @ts-expect-error fails it).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from '../../src/internal/clock.js';
import { createPgPool, type PgPoolOptions } from '../../src/pg/index.js';

// Never called: only compiled.
export function typeOnly(): void {
  // @ts-expect-error a pg.Client never serves two borrowers
  createPgPool({ maxLeasesPerResource: 2 });
  // @ts-expect-error nor through leaseLimit
  createPgPool({ leaseLimit: () => 2 });
  // @ts-expect-error nor by making the pool shared
  createPgPool({ shared: { maxLeases: 2 } });
  const fromElsewhere = { max: 4, maxLeasesPerResource: 2 };
  // @ts-expect-error not even from a variable, which excess-property checks would let through
  createPgPool(fromElsewhere);
  const options: PgPoolOptions = {
    connection: 'postgres://127.0.0.1/test',
    max: 4,
    createTimeoutMs: 1_000,
    validateAfterIdleMs: 100,
    validateIntervalMs: 10_000,
    validateTimeoutMs: 1_000,
    destroyTimeoutMs: 1_000,
    autoscale: { min: 2, max: 8 },
  };
  void options;
}

test('sharing options are refused at run time too, naming the option', () => {
  for (const key of ['maxLeasesPerResource', 'leaseLimit', 'shared']) {
    const value = key === 'leaseLimit' ? () => 2 : key === 'shared' ? { maxLeases: 2 } : 2;
    assert.throws(
      () => createPgPool({ [key]: value } as never),
      (e: unknown) =>
        e instanceof TypeError &&
        e.message.includes(`\`${key}\``) &&
        /one borrower/.test(e.message),
    );
  }
  assert.throws(() => createPgPool({ maxWaitng: 1 } as never), /did you mean `maxWaiting`/);
});

test('the options pg took before still work, under the old names and the new', async () => {
  const clock = new FakeClock();
  const pools = [
    createPgPool({
      clock,
      createTimeoutMs: 1_000,
      validateAfterIdleMs: 100,
      validateIntervalMs: 10_000,
      validateTimeoutMs: 1_000,
      destroyTimeoutMs: 1_000,
      idleOrder: 'fifo',
      leakDetectionMs: 60_000,
      autoscale: { min: 2, max: 10 },
      statsSampleEvery: 4,
      lifetimeJitter: 0.2,
    }),
    createPgPool({
      clock,
      connectTimeoutMs: 1_000,
      checkAfterIdleMs: 100,
      checkIntervalMs: 10_000,
      checkTimeoutMs: 1_000,
      closeTimeoutMs: 1_000,
    }),
  ];
  for (const db of pools) {
    assert.equal(db.stats().name, 'pg');
    assert.equal(db.pool.manager.config.connectionString, undefined);
    await db.close();
  }
  assert.throws(() => createPgPool({ validateTimeoutMs: 0 }), /`validateTimeoutMs`/);
});
