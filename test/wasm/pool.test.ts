import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { FakeClock, flush } from '../../src/internal/clock.js';
import { isWeirError } from '../../src/internal/errors.js';
import { createWasmPool, type WasmInstance } from '../../src/wasm/index.js';
import { chooseReset } from '../../src/wasm/reset.js';
import { WebAssembly } from '../../src/wasm/webassembly.js';
import { track } from '../helpers/resources.js';
import {
  hostImports,
  IMPORTED_MEMORY,
  MIB,
  PAGE,
  STATEFUL,
  type Stateful,
  wat,
} from './modules.js';

const code = (c: string) => (e: unknown) => isWeirError(e) && e.code === c;

describe('compiling', () => {
  test('the module is compiled exactly once, however many instances are made', async (t) => {
    const compile = t.mock.method(WebAssembly, 'compile');
    const clock = new FakeClock();
    const pool = createWasmPool<Stateful>({
      module: STATEFUL,
      imports: hostImports,
      reset: 'reinstantiate',
      max: 4,
      clock,
    });
    const seen = new Set<WebAssembly.Instance>();
    await Promise.all(
      Array.from({ length: 40 }, () =>
        pool.use((inst) => {
          seen.add(inst.instance);
          return inst.exports.inc();
        }),
      ),
    );
    assert.equal(compile.mock.callCount(), 1);
    assert.ok(seen.size >= 10, 'every return reinstantiated from the one compiled module');
    assert.equal(pool.stats().created, 4);
    await pool.close();
  });

  test('a path and a compiled WebAssembly.Module are accepted; a Module is not compiled again', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'weir-wasm-'));
    try {
      const file = join(dir, 'stateful.wasm');
      writeFileSync(file, STATEFUL);
      const fromPath = createWasmPool<Stateful>({ module: file, imports: hostImports });
      assert.equal(await fromPath.call('inc'), 1);
      await fromPath.close();
      const compiled = await WebAssembly.compile(STATEFUL);
      const compile = t.mock.method(WebAssembly, 'compile');
      const fromModule = createWasmPool<Stateful>({ module: compiled, imports: hostImports });
      assert.equal(await fromModule.module, compiled);
      assert.equal(await fromModule.call('inc'), 1);
      assert.equal(compile.mock.callCount(), 0);
      await fromModule.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a module that does not compile fails every acquire with ERR_WASM_COMPILE', async () => {
    const pool = createWasmPool({ module: new Uint8Array([0, 97, 115, 109, 9, 9, 9, 9]) });
    await assert.rejects(pool.ready(), code('ERR_WASM_COMPILE'));
    await assert.rejects(pool.acquire(), code('ERR_WASM_COMPILE'));
    await assert.rejects(pool.call('f'), code('ERR_WASM_COMPILE'));
    await pool.close();
  });
});

describe('reset strategies', () => {
  async function dirty(pool: ReturnType<typeof createWasmPool<Stateful>>) {
    return pool.use((inst) => {
      inst.exports.inc();
      inst.exports.inc();
      inst.exports.store(64, 7);
      return inst.instance;
    });
  }

  test("'reinstantiate' gives the next borrower a new instance with fresh state", async () => {
    const pool = createWasmPool<Stateful>({
      module: STATEFUL,
      imports: hostImports,
      reset: 'reinstantiate',
      max: 1,
    });
    const first = await dirty(pool);
    const [raw, counter, stored] = await pool.use((i) => [
      i.instance,
      i.exports.counter.value,
      i.exports.load(64),
    ]);
    assert.notEqual(raw, first);
    assert.deepEqual([counter, stored], [0, 0]);
    await pool.close();
  });

  test("'snapshot' restores memory and exported mutable globals in the same instance", async () => {
    const pool = createWasmPool<Stateful>({
      module: STATEFUL,
      imports: hostImports,
      reset: 'snapshot',
      max: 1,
    });
    const first = await dirty(pool);
    const [raw, counter, stored, inc] = await pool.use((i) => [
      i.instance,
      i.exports.counter.value,
      i.exports.load(64),
      i.exports.inc(),
    ]);
    assert.equal(raw, first, 'the same instance, restored');
    assert.deepEqual([counter, stored, inc], [0, 0, 1]);
    await pool.close();
  });

  test("'snapshot' reinstantiates an instance whose memory grew (memory never shrinks)", async () => {
    const pool = createWasmPool<Stateful>({
      module: STATEFUL,
      imports: hostImports,
      reset: 'snapshot',
      max: 1,
    });
    const first = await pool.use((i) => {
      assert.equal(i.exports.grow(3), 1);
      return i.instance;
    });
    const [raw, bytes] = await pool.use((i) => [i.instance, i.exports.memory.buffer.byteLength]);
    assert.notEqual(raw, first);
    assert.equal(bytes, PAGE);
    assert.equal(pool.stats().memory.totalBytes, PAGE);
    await pool.close();
  });

  test("'none' carries state over to the next borrower", async () => {
    const pool = createWasmPool<Stateful>({
      module: STATEFUL,
      imports: hostImports,
      reset: 'none',
      max: 1,
    });
    const first = await dirty(pool);
    const [raw, counter] = await pool.use((i) => [i.instance, i.exports.counter.value]);
    assert.equal(raw, first);
    assert.equal(counter, 2);
    await pool.close();
  });

  test("'auto' restores a small memory from the snapshot", async () => {
    const pool = createWasmPool<Stateful>({ module: STATEFUL, imports: hostImports, max: 1 });
    const first = await dirty(pool);
    const [raw, counter, stored] = await pool.use((i) => [
      i.instance,
      i.exports.counter.value,
      i.exports.load(64),
    ]);
    assert.deepEqual([counter, stored], [0, 0]);
    // 64 KiB restores in well under any instantiation the pool has timed.
    assert.equal(raw, first);
    await pool.close();
  });

  test("'auto' picks by size with the measured costs", () => {
    // Node 20 here: 28 µs per MiB restored, 82 µs per instantiation of a small module.
    assert.equal(chooseReset(1 * MIB, 0.082, 0.028), 'snapshot');
    assert.equal(chooseReset(16 * MIB, 0.42, 0.1), 'reinstantiate');
    // A module with 3,000 exports takes 10.5 ms to instantiate: restoring 16 MiB is cheaper.
    assert.equal(chooseReset(16 * MIB, 10.5, 0.1), 'snapshot');
  });
});

describe('memory limits', () => {
  test('an instance that grew past memoryLimitMb is dropped, and the next borrower gets a fresh one', async () => {
    const pool = createWasmPool<Stateful>({
      module: STATEFUL,
      imports: hostImports,
      reset: 'none',
      max: 1,
      memoryLimitMb: 1,
    });
    const destroyed: unknown[] = [];
    pool.on('destroy', (e) => destroyed.push(e.cause));
    const first = await pool.use((i) => {
      i.exports.store(0, 99);
      assert.equal(i.exports.grow(16), 1); // 17 pages: 1.06 MiB
      return i.instance;
    });
    await flush();
    assert.equal(destroyed.length, 1);
    assert.ok(isWeirError(destroyed[0], 'ERR_WASM_MEMORY_LIMIT'));
    const [raw, stored] = await pool.use((i) => [i.instance, i.exports.load(0)]);
    assert.notEqual(raw, first);
    assert.equal(stored, 0);
    const s = pool.stats();
    assert.equal(s.memory.totalBytes, PAGE);
    assert.equal(s.memory.peakBytes, 17 * PAGE);
    assert.equal(s.memory.instanceLimitBytes, MIB);
    await pool.close();
  });

  test('a memory the host supplies with a maximum makes grow fail inside the module', async () => {
    const pool = createWasmPool<{
      grow(n: number): number;
      store(a: number, v: number): void;
      load(a: number): number;
    }>({
      module: IMPORTED_MEMORY,
      imports: () => ({ env: { memory: new WebAssembly.Memory({ initial: 1, maximum: 4 }) } }),
      reset: 'snapshot',
      max: 2,
    });
    await pool.use((i) => {
      assert.equal(i.exports.grow(3), 1);
      assert.equal(i.exports.grow(1), -1, 'past the maximum');
      i.exports.store(8, 5);
      assert.equal(i.memoryBytes, PAGE, 'measured after the use, not during');
    });
    const s = pool.stats();
    assert.equal(s.memory.totalBytes, PAGE, 'grown, so reinstantiated with a new memory');
    const [a, b] = await Promise.all([pool.acquire(), pool.acquire()]);
    assert.notEqual(a.value.memories[0], b.value.memories[0], 'a memory per instance');
    assert.equal(a.value.exports.load(8), 0);
    a.release();
    b.release();
    await pool.close();
  });

  test('a WebAssembly.Memory in a static import object is refused: it would be shared', () => {
    assert.throws(
      () =>
        createWasmPool({
          module: IMPORTED_MEMORY,
          imports: { env: { memory: new WebAssembly.Memory({ initial: 1 }) } },
        }),
      TypeError,
    );
  });
});

describe('the memory budget', () => {
  const budgetOptions = (clock: FakeClock) => ({
    module: STATEFUL,
    imports: hostImports,
    reset: 'none' as const,
    max: 10,
    maxTotalMemoryMb: 1, // 16 pages
    clock,
  });

  test('holds under concurrent growth: idle instances are evicted first, oldest first', async () => {
    const clock = new FakeClock();
    const pool = createWasmPool<Stateful>(budgetOptions(clock));
    const destroyed: { id: number; reason: string }[] = [];
    pool.on('destroy', (e) => destroyed.push({ id: e.resource.id, reason: e.reason }));
    const leases = await Promise.all(Array.from({ length: 4 }, () => pool.acquire()));
    assert.equal(pool.stats().memory.totalBytes, 4 * PAGE);
    // Two go back idle, oldest first: #1 then #2.
    leases[0]!.release();
    leases[1]!.release();
    assert.equal(pool.stats().memory.idleBytes, 2 * PAGE);
    // The two still leased grow at once to 7 pages each: 14 + 2 idle = 16 pages, at the limit.
    assert.equal(leases[2]!.value.exports.grow(6), 1);
    assert.equal(leases[3]!.value.exports.grow(6), 1);
    leases[2]!.release();
    assert.equal(pool.stats().memory.totalBytes, 10 * PAGE);
    leases[3]!.release();
    assert.equal(pool.stats().memory.totalBytes, 16 * PAGE);
    // One more page pushes it over: the oldest idle (#1) goes, not the one coming back.
    const l = await pool.acquire();
    assert.equal(l.value.id, 4, 'warmest first');
    l.value.exports.grow(1);
    l.release();
    await flush();
    assert.deepEqual(destroyed, [{ id: 1, reason: 'broken' }]);
    assert.ok(pool.stats().memory.totalBytes <= MIB);
    // Growth during a use is seen when the lease comes back (a memory the module owns can
    // only be watched); the peak shows it, and the idle instance made room at once.
    assert.equal(pool.stats().memory.peakBytes, 17 * PAGE);
    await pool.close();
  });

  test('an instance that comes back grown past the budget with nothing idle is dropped', async () => {
    const clock = new FakeClock();
    const pool = createWasmPool<Stateful>(budgetOptions(clock));
    const causes: unknown[] = [];
    pool.on('destroy', (e) => causes.push(e.cause));
    const a = await pool.acquire();
    a.value.exports.grow(20);
    a.release();
    await flush();
    assert.equal(causes.length, 1);
    assert.ok(isWeirError(causes[0], 'ERR_WASM_MEMORY_LIMIT'));
    assert.equal(pool.stats().memory.totalBytes, 0);
    await pool.close();
  });

  test('a waiter waits for room instead of instantiating past the budget', async () => {
    const clock = new FakeClock();
    const pool = createWasmPool<Stateful>(budgetOptions(clock));
    const held = await Promise.all(Array.from({ length: 3 }, () => pool.acquire()));
    held[0]!.value.exports.grow(12); // 13 + 1 + 1 = 15 pages: no room for a 16th page? there is one
    held[0]!.release();
    held[0] = await pool.acquire();
    assert.equal(pool.stats().memory.totalBytes, 15 * PAGE);
    const fourth = await pool.acquire(); // the 16th page fits
    assert.equal(pool.stats().memory.totalBytes, MIB);
    const fifth = track(pool.acquire());
    await flush();
    assert.equal(fifth.done, false, 'no room: it waits');
    assert.equal(pool.stats().created, 4, 'nothing instantiated past the budget');
    fourth.release(); // goes straight to the waiter
    await flush();
    assert.equal(fifth.done, true);
    assert.equal((fifth.value as { value: WasmInstance<Stateful> }).value, fourth.value);
    // Room freed by a close serves a waiter with a new instance.
    const sixth = track(pool.acquire());
    await flush();
    assert.equal(sixth.done, false);
    held[0]!.destroy(new Error('done with it'));
    await flush();
    assert.equal(sixth.done, true);
    assert.equal(pool.stats().created, 5);
    assert.ok(pool.stats().memory.peakBytes <= MIB);
    await pool.close();
  });

  test('memoryPressure fires once when the budget reaches 80 %, again after it fell below', async () => {
    const clock = new FakeClock();
    const pool = createWasmPool<Stateful>(budgetOptions(clock));
    const events: number[] = [];
    pool.on('memoryPressure', (e) => events.push(e.usedBytes / PAGE));
    const a = await pool.acquire();
    a.value.exports.grow(11); // 12 pages: 75 %
    a.release();
    assert.deepEqual(events, []);
    const b = await pool.acquire();
    b.value.exports.grow(1); // 13 pages: 81 %
    b.release();
    assert.deepEqual(events, [13]);
    const c = await pool.acquire();
    c.value.exports.grow(1);
    c.release();
    assert.deepEqual(events, [13], 'not again while above');
    pool.pool.retire((await pool.acquire()).value); // retired while leased
    const s = pool.stats();
    assert.equal(s.memory.inUseBytes, 14 * PAGE);
    await pool.close();
    assert.equal(pool.stats().memory.totalBytes, 0);
  });
});

describe('broken instances', () => {
  test('a trap destroys the instance; later calls through the lease fail; the next borrower gets a fresh one', async () => {
    const pool = createWasmPool<Stateful>({
      module: STATEFUL,
      imports: hostImports,
      reset: 'none',
      max: 1,
    });
    const lease = await pool.acquire();
    const first = lease.value;
    first.exports.inc();
    assert.throws(() => first.exports.trap(), code('ERR_WASM_TRAP'));
    assert.equal(first.broken, true);
    assert.throws(() => first.exports.inc(), code('ERR_WASM_INSTANCE_BROKEN'));
    lease.release();
    const next = await pool.use((i) => [i, i.exports.inc()] as const);
    assert.notEqual(next[0], first);
    assert.equal(next[1], 1);
    assert.equal(pool.stats().destroyed, 1);
    await pool.close();
  });

  test("a host import that throws destroys the instance; the caller gets the import's error", async () => {
    const pool = createWasmPool<Stateful>({ module: STATEFUL, imports: hostImports, max: 1 });
    const reasons: string[] = [];
    pool.on('destroy', (e) => reasons.push(e.reason));
    await assert.rejects(pool.call('callHost', [13]), /host import failed/);
    assert.deepEqual(reasons, ['broken']);
    await pool.call('callHost', [1]);
    assert.equal(pool.stats().created, 2);
    await pool.close();
  });

  test('10,000 calls with random traps: a trapped instance is never handed out again', async () => {
    const pool = createWasmPool<Stateful>({
      module: STATEFUL,
      imports: hostImports,
      reset: 'none', // a reused broken instance would answer -1
      max: 4,
      breaker: false,
    });
    const trapped = new WeakSet<WebAssembly.Instance>();
    let reuses = 0;
    pool.on('acquire', (e) => {
      if (trapped.has(e.resource.instance)) reuses++;
    });
    let seed = 12345;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed / 2_147_483_648;
    };
    let traps = 0;
    let brokenAnswers = 0;
    const worker = async (calls: number) => {
      for (let n = 0; n < calls; n++) {
        const trap = random() < 0.1 ? 1 : 0;
        await pool
          .use((inst) => {
            try {
              if (inst.exports.work(trap) === -1) brokenAnswers++;
            } catch (error) {
              trapped.add(inst.instance);
              throw error;
            }
          })
          .catch((error: unknown) => {
            assert.ok(isWeirError(error, 'ERR_WASM_TRAP'));
            traps++;
          });
      }
    };
    await Promise.all(Array.from({ length: 8 }, () => worker(1_250)));
    assert.ok(traps > 800 && traps < 1_200, `${traps} traps`);
    assert.equal(reuses, 0);
    assert.equal(brokenAnswers, 0);
    assert.equal(pool.stats().destroyed, traps);
    assert.equal(pool.stats().acquired, 10_000);
    await pool.close();
  });

  test('a breaker around instantiation fails fast while instantiating keeps failing', async () => {
    const clock = new FakeClock();
    let fail = true;
    const pool = createWasmPool({
      module: STATEFUL,
      // A missing import fails instantiation with a LinkError.
      imports: () => (fail ? {} : hostImports),
      breaker: { threshold: 2, halfOpenAfterMs: 1_000 },
      createRetry: { initialDelayMs: 10, maxDelayMs: 10 },
      clock,
    });
    await assert.rejects(pool.acquire(), code('ERR_POOL_CREATE_FAILED'));
    await clock.advance(20);
    await assert.rejects(pool.acquire(), code('ERR_POOL_CREATE_FAILED'));
    assert.equal(pool.stats().breaker, 'open');
    await assert.rejects(pool.acquire(), code('ERR_CIRCUIT_OPEN'));
    fail = false;
    await clock.advance(1_000);
    assert.equal(await pool.call('inc'), 1);
    assert.equal(pool.stats().breaker, 'closed');
    await pool.close();
  });
});

describe('health and shutdown', () => {
  test('check(instance) runs on borrow after idle; false drops it', async () => {
    const clock = new FakeClock();
    const checked: number[] = [];
    let healthy = true;
    const pool = createWasmPool<Stateful>({
      module: STATEFUL,
      imports: hostImports,
      max: 1,
      checkAfterIdleMs: 100,
      check: (inst) => {
        checked.push(inst.id);
        return healthy;
      },
      clock,
    });
    await pool.call('inc');
    await pool.call('inc');
    assert.deepEqual(checked, [], 'not idle long enough');
    await clock.advance(150);
    healthy = false;
    const id = track(pool.use((i) => i.id));
    await flush();
    healthy = true;
    await clock.advance(0);
    await flush();
    assert.deepEqual(checked, [1]);
    assert.equal(id.value, 2, 'the borrower got a fresh instance');
    await pool.close();
  });

  test('drain waits for leases, fails waiters, and settles everything; close forces it', async () => {
    const clock = new FakeClock();
    const pool = createWasmPool<Stateful>({
      module: STATEFUL,
      imports: hostImports,
      max: 1,
      clock,
    });
    const lease = await pool.acquire();
    const waiter = track(pool.acquire());
    const drained = track(pool.drain());
    await flush();
    assert.ok(isWeirError(waiter.error, 'ERR_POOL_CLOSED'));
    assert.equal(drained.done, false, 'waits for the lease');
    lease.release();
    await flush();
    assert.equal(drained.done, true);
    assert.equal(pool.stats().memory.totalBytes, 0);
    await assert.rejects(pool.call('inc'), code('ERR_POOL_CLOSED'));
    assert.equal(clock.pendingTimers, 0);

    const forced = createWasmPool<Stateful>({ module: STATEFUL, imports: hostImports, clock });
    const held = await forced.acquire();
    await forced.close();
    held.release();
    assert.equal(forced.stats().state, 'closed');
    assert.equal(forced.stats().memory.totalBytes, 0);
  });
});

describe('options', () => {
  test('bad options throw naming the option', () => {
    assert.throws(() => createWasmPool({ module: STATEFUL, reset: 'fresh' as never }), /`reset`/);
    assert.throws(() => createWasmPool({ module: 42 as never }), /`module`/);
    assert.throws(() => createWasmPool({ module: STATEFUL, memoryLimitMb: 0 }), /`memoryLimitMb`/);
    assert.throws(
      () => createWasmPool({ module: STATEFUL, maxTotalMemoryMb: -1 }),
      /`maxTotalMemoryMb`/,
    );
    assert.throws(() => createWasmPool({ module: STATEFUL, callTimeoutMs: 5 }), /isolation/);
    assert.throws(
      () => createWasmPool({ module: STATEFUL, memoryLimit: 5 } as never),
      /memoryLimitMb/,
    );
    assert.throws(
      () => createWasmPool({ module: STATEFUL, isolation: 'worker', imports: {} }),
      /workerImports/,
    );
    assert.throws(
      () => createWasmPool({ module: STATEFUL, maxLeasesPerResource: 2 } as never),
      /one borrower at a time/,
    );
  });

  test('timeoutMs on a main-thread call is refused: the call could not be interrupted', async () => {
    const pool = createWasmPool<Stateful>({ module: STATEFUL, imports: hostImports });
    await assert.rejects(pool.call('inc', [], { timeoutMs: 10 }), TypeError);
    await pool.close();
  });
});

void wat;
