// allowExitOnIdle: the manager's unref runs when a connection enters the idle set (after
// connect, after reset on return) and ref when it leaves it; a connection handed straight
// from connect or from one borrower to the next never went idle and is not told.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock, flush } from '../../src/internal/clock.js';
import { createManagedPool } from '../../src/managed/index.js';
import { deferred } from '../helpers/resources.js';
import { fakeManager } from './fake-manager.js';

test('ref and unref follow the connection in and out of idle, in order', async () => {
  const clock = new FakeClock();
  const f = fakeManager({ refs: true, reset: true });
  const pool = createManagedPool(f.manager, { clock, max: 1, allowExitOnIdle: true });
  const a = await pool.acquire();
  const waiting = pool.acquire();
  a.release();
  const b = await waiting;
  b.release();
  const c = pool.tryAcquire();
  assert.ok(c !== null);
  c.release();
  await pool.close();
  assert.deepEqual(f.log, [
    'connect #1',
    'open 1', // handed straight to the first caller: it never went idle
    'reset 1',
    'reset 1', // back, and straight to the waiter: still never idle
    'unref 1', // back, clean, and idle
    'ref 1', // the fast path takes it out of the idle set
    'reset 1',
    'unref 1',
    'close 1',
  ]);
});

test('an asynchronous reset unrefs only once it is done', async () => {
  const clock = new FakeClock();
  const gate = deferred();
  const f = fakeManager({ refs: true, reset: () => gate.promise });
  const pool = createManagedPool(f.manager, { clock, allowExitOnIdle: true });
  (await pool.acquire()).release();
  await flush();
  assert.equal(f.log.at(-1), 'reset 1');
  gate.resolve();
  await flush();
  assert.equal(f.log.at(-1), 'unref 1');
  await pool.close();
});

test('without allowExitOnIdle the hooks are never called', async () => {
  const clock = new FakeClock();
  const f = fakeManager({ refs: true });
  const pool = createManagedPool(f.manager, { clock });
  (await pool.acquire()).release();
  await pool.close();
  assert.deepEqual(f.log, ['connect #1', 'open 1', 'close 1']);
});
