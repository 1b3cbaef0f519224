// A pool's own timers must not keep the process alive once nothing else does; only a
// caller waiting in `acquire` keeps it alive, until its wait ends. Each case runs in a
// child process against the built package and must end on its own.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FakeClock, flush } from '../../src/internal/clock.js';
import { createPool } from '../../src/pool/index.js';
import { type Exit, runScript } from '../helpers/exit.js';
import { factory } from '../helpers/resources.js';

function exitedAlone(r: Exit): void {
  assert.equal(r.hung, false, `the process was held open (stdout: ${r.stdout})`);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^ready$/m);
}

describe('a pool does not keep the process alive on its own', { concurrency: true }, () => {
  test('an undrained pool with min resources', async () => {
    exitedAlone(
      await runScript(`
        import { createPool } from 'weir/pool';
        const pool = createPool({ create: () => ({}), min: 2, maxLifetimeMs: 60_000 });
        (await pool.acquire()).release();
        console.log('ready');
      `),
    );
  });

  test('a create in flight (its createTimeoutMs timer)', async () => {
    exitedAlone(
      await runScript(`
        import { createPool } from 'weir/pool';
        createPool({ create: () => new Promise(() => {}), min: 1, createTimeoutMs: 60_000 });
        console.log('ready');
      `),
    );
  });

  test('a destroy in flight (its destroyTimeoutMs timer)', async () => {
    exitedAlone(
      await runScript(`
        import { createPool } from 'weir/pool';
        const pool = createPool({
          create: () => ({}),
          destroy: () => new Promise(() => {}),
          destroyTimeoutMs: 60_000,
        });
        (await pool.acquire()).destroy();
        console.log('ready');
      `),
    );
  });

  test('a validation in flight (its validateTimeoutMs timer)', async () => {
    exitedAlone(
      await runScript(`
        import { createPool } from 'weir/pool';
        const pool = createPool({
          create: () => ({}),
          validate: () => new Promise(() => {}),
          validateAfterIdleMs: 0,
          validateTimeoutMs: 60_000,
        });
        (await pool.acquire()).release();
        await new Promise((r) => setTimeout(r, 5)); // idle for longer than validateAfterIdleMs
        void pool.acquire({ timeoutMs: Number.POSITIVE_INFINITY });
        console.log('ready');
      `),
    );
  });

  test('a create retry waiting out its backoff, and the reaper', async () => {
    exitedAlone(
      await runScript(`
        import { createPool } from 'weir/pool';
        createPool({
          create: () => Promise.reject(new Error('down')),
          min: 1,
          breaker: false,
          createRetry: { initialDelayMs: 60_000, maxDelayMs: 60_000 },
        });
        await new Promise((r) => setTimeout(r, 5));
        console.log('ready');
      `),
    );
  });

  test('a caller waiting with a timeout keeps the process alive until it times out', async () => {
    // The deadline timer is what settles the caller's promise: exiting first would drop
    // the caller without an error. It lives only while someone waits.
    const r = await runScript(`
      import { createPool } from 'weir/pool';
      const pool = createPool({ create: () => ({}), max: 1 });
      await pool.acquire();
      pool.acquire({ timeoutMs: 20 }).catch((e) => console.log(e.code));
      console.log('ready');
    `);
    exitedAlone(r);
    assert.match(r.stdout, /^ERR_POOL_TIMEOUT$/m);
  });
});

describe('onIdle', () => {
  test('is told when a resource enters and leaves the idle set, not on a hand-off', async () => {
    const clock = new FakeClock();
    const f = factory();
    const calls: string[] = [];
    let valid = true;
    const pool = createPool({
      create: f.create,
      destroy: f.destroy,
      validate: () => valid,
      onIdle: (r, idle) => calls.push(`${r.id}:${idle ? 'idle' : 'busy'}`),
      min: 1,
      max: 1,
      validateIntervalMs: 10_000,
      idleTimeoutMs: Number.POSITIVE_INFINITY,
      clock,
    });
    await flush();
    assert.deepEqual(calls, ['1:idle'], 'a new resource goes idle');
    const a = await pool.acquire();
    assert.deepEqual(calls, ['1:idle', '1:busy']);
    const queued = pool.acquire();
    a.release();
    const b = await queued;
    assert.deepEqual(calls, ['1:idle', '1:busy'], 'handed straight to the next borrower');
    b.release();
    assert.deepEqual(calls.slice(2), ['1:idle']);
    await clock.advance(1_000);
    calls.length = 0;
    (await pool.acquire()).release();
    assert.deepEqual(calls, ['1:busy', '1:idle'], 'validated on borrow: out of the idle set');
    calls.length = 0;
    await clock.advance(10_000);
    assert.deepEqual(calls, ['1:busy', '1:idle'], 'the periodic validation too');
    calls.length = 0;
    valid = false;
    await clock.advance(10_000);
    await flush();
    assert.deepEqual(calls, ['1:busy', '2:idle'], 'a failed one is destroyed, its successor idles');
    calls.length = 0;
    pool.retire(f.all[1]!);
    await flush();
    assert.deepEqual(calls, ['3:idle'], 'leaving the idle set to be destroyed is not told');
    await pool.close();
    assert.deepEqual(calls, ['3:idle'], 'nor is closing');
  });

  test('must be a function', () => {
    assert.throws(() => createPool({ create: () => 1, onIdle: 1 as never }), /`onIdle`/);
  });
});
