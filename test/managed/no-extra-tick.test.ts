// A managed pool's borrow costs what a core borrow costs: with isBroken and
// allowExitOnIdle on, a waiter served by a returned connection, and a caller served by an
// idle one, settle in as many promise turns as they do on `weir/pool` directly (the
// manager's hooks run inside the core, not in a `.then` of their own).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from '../../src/internal/clock.js';
import { createManagedPool } from '../../src/managed/index.js';
import { createPool, type Lease } from '../../src/pool/index.js';
import { type Conn, fakeManager } from './fake-manager.js';

interface Borrower {
  acquire(): Promise<Lease<Conn>>;
  close(): Promise<void>;
}

/** Promise turns until `p` settles (bounded). */
async function turns(p: Promise<unknown>): Promise<number> {
  let done = false;
  void p.then(() => {
    done = true;
  });
  for (let n = 0; n < 50; n++) {
    if (done) return n;
    await Promise.resolve();
  }
  return Number.POSITIVE_INFINITY;
}

async function measure(pool: Borrower): Promise<{ waiting: number; idle: number }> {
  const a = await pool.acquire();
  const waiter = pool.acquire();
  a.release();
  const waiting = await turns(waiter);
  (await waiter).release();
  const idle = await turns(pool.acquire().then((l) => l.release()));
  await pool.close();
  return { waiting, idle };
}

test('isBroken and allowExitOnIdle add no promise turn to a borrow', async () => {
  const f = fakeManager({ isBroken: true, refs: true });
  const core = createPool<Conn>({
    create: (signal) => f.manager.connect(signal, () => {}),
    destroy: (c) => f.manager.close(c),
    clock: new FakeClock(),
    max: 1,
  });
  const g = fakeManager({ isBroken: true, refs: true });
  const managed = createManagedPool(g.manager, {
    clock: new FakeClock(),
    max: 1,
    allowExitOnIdle: true,
  });
  const expected = await measure(core);
  assert.deepEqual(await measure(managed), expected);
  assert.ok(g.log.includes('unref 1'), 'the hooks did run');
});
