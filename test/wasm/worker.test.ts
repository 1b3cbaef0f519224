import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, test } from 'node:test';
import type { Worker } from 'node:worker_threads';
import { FakeClock, flush } from '../../src/internal/clock.js';
import { isWeirError } from '../../src/internal/errors.js';
import { createWasmPool, WasmCallTimeoutError } from '../../src/wasm/index.js';
import { PAGE, STATEFUL, type Stateful } from './modules.js';

const code = (c: string) => (e: unknown) => isWeirError(e) && e.code === c;
const workerImports = new URL('./fixtures/host-imports.mjs', import.meta.url);

function workerPool(options: Record<string, unknown> = {}) {
  return createWasmPool<Stateful>({
    module: STATEFUL,
    isolation: 'worker',
    workerImports,
    max: 2,
    ...options,
  });
}

describe('worker isolation', () => {
  test('calls go by message; exports return promises; memory is reported by the worker', async () => {
    const pool = workerPool({ reset: 'none', max: 1 });
    assert.equal(await pool.call('inc'), 1);
    const [a, b, bytes] = await pool.use(async (inst) => [
      await inst.exports.inc(),
      await inst.call('load', [0]),
      inst.memoryBytes,
    ]);
    assert.deepEqual([a, b, bytes], [2, 0, PAGE]);
    await pool.use(async (inst) => {
      assert.equal(await inst.exports.grow(2), 1);
    });
    assert.equal(pool.stats().memory.totalBytes, 3 * PAGE);
    assert.equal(pool.stats().created, 1, 'the module was posted to one worker, reused');
    await pool.close();
  });

  test('an infinite loop times out, its worker is terminated and replaced, other calls go on', async () => {
    const clock = new FakeClock();
    const pool = workerPool({ clock });
    const workers = new Map<number, Worker>();
    pool.on('create', (e) => workers.set(e.resource.id, e.resource.worker));
    // Both workers up, so the spin and the other calls run side by side.
    const [l1, l2] = await Promise.all([pool.acquire(), pool.acquire()]);
    l1.release();
    l2.release();
    const spinning = pool.acquire();
    const lease = await spinning;
    const spinner = lease.value;
    const exited = once(spinner.worker, 'exit');
    const spin = spinner.call('spin', [], { timeoutMs: 500 });
    const outcome = spin.then(
      () => 'resolved',
      (e: unknown) => e,
    );
    // The other worker keeps serving while the first one spins.
    for (let i = 0; i < 5; i++) assert.equal(await pool.call('load', [0]), 0);
    await clock.advance(500);
    const error = await outcome;
    assert.ok(isWeirError(error, 'ERR_WASM_CALL_TIMEOUT'), String(error));
    await exited; // terminated: the loop is stopped
    assert.equal(spinner.broken, true);
    await assert.rejects(spinner.call('inc'), code('ERR_WASM_INSTANCE_BROKEN'));
    lease.release();
    await flush();
    // Its replacement comes for the next borrowers; the pool keeps working at full size.
    const [x, y] = await Promise.all([pool.acquire(), pool.acquire()]);
    assert.notEqual(x.value, spinner);
    assert.notEqual(y.value, spinner);
    assert.equal(await x.value.exports.inc(), 1);
    x.release();
    y.release();
    assert.equal(pool.stats().created, 3);
    assert.equal(pool.stats().destroyed, 1);
    await pool.close();
  });

  test('pool.call takes a per-call timeoutMs, and callTimeoutMs is the default', async () => {
    const clock = new FakeClock();
    const pool = workerPool({ clock, callTimeoutMs: 1_000, max: 1 });
    assert.equal(await pool.call('inc'), 1); // its worker is up
    const own = pool.call('spin', [], { timeoutMs: 50 }).then(
      () => 'resolved',
      (e: unknown) => e,
    );
    await flush();
    await clock.advance(50);
    assert.ok(isWeirError(await own, 'ERR_WASM_CALL_TIMEOUT'));
    const replaced = new Promise((resolve) => pool.once('create', resolve));
    const byDefault = pool.call('spin').then(
      () => 'resolved',
      (e: unknown) => e,
    );
    await replaced; // the replacement worker is up and the call is on its way
    await flush();
    await clock.advance(999);
    assert.equal(pool.stats().leased, 1, 'still running at 999 ms');
    await clock.advance(1);
    const error = await byDefault;
    assert.ok(error instanceof WasmCallTimeoutError && error.code === 'ERR_WASM_CALL_TIMEOUT');
    assert.equal(error.timeoutMs, 1_000);
    await pool.close();
  });

  test('aborting a call terminates its worker: running wasm cannot be stopped otherwise', async () => {
    const pool = workerPool({ max: 1 });
    const lease = await pool.acquire();
    const exited = once(lease.value.worker, 'exit');
    const controller = new AbortController();
    const spin = lease.value.call('spin', [], { signal: controller.signal });
    controller.abort(new Error('caller gave up'));
    await assert.rejects(spin, /caller gave up/);
    await exited;
    lease.release();
    assert.equal(await pool.call('inc'), 1);
    await pool.close();
  });

  test('a trap or a throwing host import in the worker destroys the instance', async () => {
    const pool = workerPool({ max: 1 });
    const reasons: string[] = [];
    pool.on('destroy', (e) => reasons.push(e.reason));
    await assert.rejects(pool.call('trap'), code('ERR_WASM_TRAP'));
    await assert.rejects(pool.call('callHost', [13]), /host import failed in the worker/);
    assert.equal(await pool.call('work', [0]), 1);
    await flush();
    assert.deepEqual(reasons, ['broken', 'broken']);
    assert.equal(pool.stats().created, 3);
    await pool.close();
  });

  test('a worker that cannot start its instance fails the acquire with ERR_WASM_WORKER_EXIT', async () => {
    const pool = workerPool({
      workerImports: new URL('./fixtures/no-such-file.mjs', import.meta.url),
      breaker: false,
    });
    const error = await pool.acquire().then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(isWeirError(error, 'ERR_WASM_WORKER_EXIT'), String(error));
    assert.match(String((error as Error).cause), /no-such-file/);
    await pool.close();
  });

  test('reset runs in the worker before the next call', async () => {
    const pool = workerPool({ reset: 'snapshot', max: 1 });
    assert.equal(await pool.call('inc'), 1);
    assert.equal(await pool.call('inc'), 1, 'counter restored from the snapshot');
    await pool.use(async (inst) => {
      await inst.exports.store(16, 3);
      await inst.exports.grow(1);
    });
    assert.equal(await pool.call('load', [16]), 0, 'grown: reinstantiated');
    assert.equal(pool.stats().created, 1, 'all in the same worker');
    await pool.close();
  });

  test('an instance over memoryLimitMb is dropped with its worker', async () => {
    const pool = workerPool({ reset: 'none', max: 1, memoryLimitMb: 1 });
    const causes: unknown[] = [];
    pool.on('destroy', (e) => causes.push(e.cause));
    let worker: Worker | undefined;
    await pool.use(async (inst) => {
      worker = inst.worker;
      await inst.exports.grow(20);
    });
    await once(worker!, 'exit');
    await flush();
    assert.ok(isWeirError(causes[0], 'ERR_WASM_MEMORY_LIMIT'));
    assert.equal(await pool.call('inc'), 1);
    await pool.close();
  });

  test('drain and close terminate every worker and settle calls in flight', async () => {
    const pool = workerPool();
    const [a, b] = await Promise.all([pool.acquire(), pool.acquire()]);
    const exits = [once(a.value.worker, 'exit'), once(b.value.worker, 'exit')];
    const waiter = pool.acquire().then(
      () => 'got one',
      (e: unknown) => e,
    );
    const spin = b.value.call('spin').then(
      () => 'resolved',
      (e: unknown) => e,
    );
    const drained = pool.drain({ timeoutMs: 60_000 });
    assert.ok(isWeirError(await waiter, 'ERR_POOL_CLOSED'));
    a.release(); // drain goes on waiting for b, whose call spins: close forces it
    await pool.close();
    await drained;
    const error = await spin;
    assert.ok(isWeirError(error, 'ERR_WASM_WORKER_EXIT'), String(error));
    await Promise.all(exits);
    assert.equal(pool.stats().state, 'closed');
    assert.equal(pool.stats().memory.totalBytes, 0);
  });
});
