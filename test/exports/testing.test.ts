// weir/testing is what users' own tests import to drive time: the example in FakeClock's
// doc comment, run as written against the built package.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createPool } from 'weir/pool';
import { type Clock, FakeClock, realClock } from 'weir/testing';

test('a second borrower gives up after acquireTimeoutMs', async () => {
  const clock = new FakeClock();
  const pool = createPool({ create: () => ({}), max: 1, acquireTimeoutMs: 5_000, clock });
  const held = await pool.acquire();
  // Attach the assertion first: the rejection happens inside advance().
  const refused = assert.rejects(pool.acquire(), { code: 'ERR_POOL_TIMEOUT' });
  let settled = false;
  void refused.then(() => {
    settled = true;
  });
  await clock.advance(4_999); // not yet
  assert.equal(settled, false);
  await clock.advance(1); // the deadline: the waiter is refused
  await refused;
  held.release();
  await pool.close();
});

test('weir/testing resolves to the built files and exports the clocks', () => {
  assert.match(import.meta.resolve('weir/testing'), /\/dist\/testing\/index\.js$/);
  const clocks: Clock[] = [realClock, new FakeClock(10)];
  assert.equal(clocks[1]?.now(), 10);
  assert.equal(typeof realClock.now(), 'number');
});
