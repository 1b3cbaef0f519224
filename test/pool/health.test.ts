// pool.health(): the level and reasons from utilisation, recent waits, timeouts and create
// errors per second on the pool's clock, the breaker and memory; the pure rule, and a real
// pool driven on a FakeClock.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FakeClock, flush } from '../../src/internal/clock.js';
import { createKeyedPool, createManagedPool } from '../../src/managed/index.js';
import {
  type HealthFigures,
  judgeHealth,
  RecentEvents,
  resolveHealthOptions,
  WaitMarks,
} from '../../src/pool/health.js';
import { createPool } from '../../src/pool/index.js';
import { factory, track } from '../helpers/resources.js';
import { fakeManager } from '../managed/fake-manager.js';

const noPressure = () => ({ used: 1, limit: 100 });

function figures(over: Partial<HealthFigures> = {}): HealthFigures {
  return {
    state: 'open',
    utilization: 0,
    pending: 0,
    waitP99Ms: 0,
    waitSamples: 0,
    timeoutsPerSec: 0,
    createErrorsPerSec: 0,
    breaker: 'closed',
    memory: { used: 1, limit: 100, ratio: 0.01 },
    windowMs: 10_000,
    ...over,
  };
}

describe('the health rule', () => {
  const t = resolveHealthOptions(undefined, 30_000);

  test('defaults', () => {
    assert.deepEqual(t.utilization, { degraded: 0.9, failing: Number.POSITIVE_INFINITY });
    assert.deepEqual(t.waitP99Ms, { degraded: 100, failing: 15_000 });
    assert.deepEqual(t.timeoutsPerSec, { degraded: 0, failing: 1 });
    assert.deepEqual(t.createErrorsPerSec, { degraded: 0, failing: 1 });
    assert.deepEqual(t.memory, { degraded: 0.85, failing: 0.95 });
    assert.equal(t.windowMs, 10_000);
    assert.equal(
      resolveHealthOptions(undefined, Number.POSITIVE_INFINITY).waitP99Ms.failing,
      5_000,
    );
  });

  test('quiet figures are ok, with no reason', () => {
    assert.deepEqual(judgeHealth(figures(), t), { level: 'ok', reasons: [] });
  });

  test('each figure past its threshold degrades or fails, with a reason naming it', () => {
    const cases: [Partial<HealthFigures>, string, RegExp][] = [
      [{ utilization: 0.95, pending: 3 }, 'degraded', /utilisation 95%, 3 waiting/],
      [{ utilization: 0.9 }, 'ok', /^$/],
      [{ waitP99Ms: 150 }, 'degraded', /wait p99 150 ms/],
      [{ waitP99Ms: 20_000 }, 'failing', /wait p99 20000 ms \(failing above 15000\)/],
      [{ timeoutsPerSec: 0.1 }, 'degraded', /0\.10 acquire timeouts\/s over 10 s/],
      [{ timeoutsPerSec: 2 }, 'failing', /2 acquire timeouts/],
      [{ createErrorsPerSec: 0.5 }, 'degraded', /create errors/],
      [{ createErrorsPerSec: 5 }, 'failing', /5 create errors/],
      [{ breaker: 'half-open' }, 'degraded', /breaker is half-open/],
      [{ breaker: 'open' }, 'failing', /breaker is open/],
      [{ memory: { used: 90, limit: 100, ratio: 0.9 } }, 'degraded', /memory 90%/],
      [{ memory: { used: 99, limit: 100, ratio: 0.99 } }, 'failing', /memory 99%/],
      [{ state: 'draining' }, 'failing', /the pool is draining/],
      [{ state: 'closed' }, 'failing', /the pool is closed/],
    ];
    for (const [over, level, reason] of cases) {
      const h = judgeHealth(figures(over), t);
      assert.equal(h.level, level, JSON.stringify(over));
      assert.match(h.reasons.join('; '), reason);
    }
  });

  test('the worst figure sets the level; every reason is kept', () => {
    const h = judgeHealth(figures({ utilization: 1, breaker: 'open', waitP99Ms: 500 }), t);
    assert.equal(h.level, 'failing');
    assert.equal(h.reasons.length, 3);
  });

  test('thresholds are options; Infinity turns a level off', () => {
    const strict = resolveHealthOptions(
      {
        waitP99Ms: { degraded: 5, failing: 50 },
        memory: { degraded: Number.POSITIVE_INFINITY, failing: Number.POSITIVE_INFINITY },
      },
      30_000,
    );
    assert.equal(judgeHealth(figures({ waitP99Ms: 60 }), strict).level, 'failing');
    assert.equal(
      judgeHealth(figures({ memory: { used: 100, limit: 100, ratio: 1 } }), strict).level,
      'ok',
    );
  });

  test('bad options throw, naming the option', () => {
    // biome-ignore lint/suspicious/noExplicitAny: a JavaScript caller's mistakes
    const bad = (o: unknown): any => o;
    assert.throws(() => resolveHealthOptions(bad({ windowMS: 1 }), 1), {
      name: 'TypeError',
      message: /Unknown option `windowMS` of health; did you mean `windowMs`\?/,
    });
    assert.throws(() => resolveHealthOptions(bad({ waitP99Ms: { degrade: 1 } }), 1), {
      name: 'TypeError',
      message: /Unknown option `degrade`.*did you mean `degraded`/,
    });
    assert.throws(() => resolveHealthOptions({ windowMs: 500 }, 1), RangeError);
    assert.throws(() => resolveHealthOptions({ windowMs: 120_000 }, 1), RangeError);
    assert.throws(() => resolveHealthOptions({ memory: { degraded: -1 } }, 1), RangeError);
    assert.throws(() => resolveHealthOptions(bad({ memory: { failing: '1' } }), 1), TypeError);
    assert.throws(() => resolveHealthOptions({ utilization: { degraded: 0.9, failing: 0.5 } }, 1), {
      name: 'RangeError',
      message: /utilization\.failing.*>= `utilization\.degraded`/,
    });
    assert.throws(() => resolveHealthOptions(bad({ memoryUsage: 1 }), 1), TypeError);
    assert.throws(() => resolveHealthOptions(bad(3), 1), TypeError);
  });
});

describe('the windows', () => {
  test('events per second count only the window, in one-second buckets', () => {
    const r = new RecentEvents();
    for (let i = 0; i < 20; i++) r.record(500);
    assert.equal(r.perSecond(900, 10_000), 2);
    assert.equal(r.perSecond(9_999, 10_000), 2);
    assert.equal(r.perSecond(10_000, 10_000), 0, 'the bucket of 0..1 s left the window');
    r.record(70_500);
    assert.equal(r.perSecond(70_600, 10_000), 0.1, 'a reused bucket starts again from 0');
    assert.equal(r.perSecond(70_600, 1_000), 1);
  });

  test('marks: the last one at or before the window start, else the oldest', () => {
    const m = new WaitMarks();
    assert.equal(m.since(0), 0, 'before any mark: every sample since creation');
    m.mark(1_000, 10);
    m.mark(1_500, 15); // same second: ignored
    m.mark(5_000, 50);
    m.mark(20_000, 200);
    assert.equal(m.since(4_000), 10);
    assert.equal(m.since(5_000), 50);
    assert.equal(m.since(19_000), 50);
    assert.equal(m.since(25_000), 200);
  });
});

describe('pool.health() on a FakeClock', () => {
  test('an idle pool is ok and reports its figures', async () => {
    const clock = new FakeClock();
    const f = factory();
    const pool = createPool({ create: f.create, destroy: f.destroy, max: 4, min: 1, clock });
    await flush();
    const h = pool.health({ memoryUsage: noPressure });
    assert.equal(h.name, 'pool');
    assert.equal(h.level, 'ok');
    assert.deepEqual(h.reasons, []);
    assert.equal(h.utilization, 0);
    assert.equal(h.breaker, 'closed');
    assert.deepEqual(h.memory, { used: 1, limit: 100, ratio: 0.01 });
    assert.equal(h.windowMs, 10_000);
    await pool.close();
    assert.equal(pool.health({ memoryUsage: noPressure }).level, 'failing');
  });

  test('the default memory figure is V8 heap against its limit', async () => {
    const pool = createPool({ create: () => ({}), max: 1, clock: new FakeClock() });
    const { memory } = pool.health();
    assert.ok(memory.used > 0 && memory.limit > memory.used);
    assert.equal(memory.ratio, memory.used / memory.limit);
    await pool.close();
  });

  test('utilisation follows leases; waits past the threshold degrade, then age out', async () => {
    const clock = new FakeClock();
    const f = factory();
    const pool = createPool({
      create: f.create,
      max: 2,
      statsSampleEvery: 1,
      acquireTimeoutMs: 10_000,
      clock,
    });
    const a = await pool.acquire();
    const b = await pool.acquire();
    const full = pool.health({ memoryUsage: noPressure });
    assert.equal(full.utilization, 1);
    assert.equal(full.level, 'degraded');
    assert.match(full.reasons[0]!, /utilisation 100%/);
    // A waiter held for 300 ms.
    const c = track(pool.acquire());
    await clock.advance(300);
    a.release();
    await flush();
    assert.equal(c.done, true);
    (c.value as { release(): void }).release();
    b.release();
    const slow = pool.health({ memoryUsage: noPressure });
    assert.equal(slow.waitP99Ms, 300);
    assert.equal(slow.level, 'degraded');
    assert.match(slow.reasons.join(), /acquire wait p99 300 ms/);
    // Quick acquires later, and the 300 ms wait leaves the window.
    await clock.advance(11_000);
    pool.health({ memoryUsage: noPressure });
    await clock.advance(11_000);
    (await pool.acquire()).release();
    const later = pool.health({ memoryUsage: noPressure });
    assert.equal(later.waitP99Ms, 0);
    assert.equal(later.waitSamples, 1);
    assert.equal(later.level, 'ok');
    await pool.close();
  });

  test('timeouts per second: any degrades, one a second fails, and they age out', async () => {
    const clock = new FakeClock();
    const pool = createPool({ create: () => ({}), max: 1, acquireTimeoutMs: 100, clock });
    const held = await pool.acquire();
    const waits = Array.from({ length: 12 }, () => pool.acquire().catch(() => undefined));
    await clock.advance(100);
    await Promise.all(waits);
    const h = pool.health({ memoryUsage: noPressure, waitP99Ms: { degraded: 1e9 } });
    assert.equal(h.timeoutsPerSec, 1.2);
    assert.equal(h.level, 'failing');
    assert.match(h.reasons.join(), /1\.2 acquire timeouts\/s over 10 s/);
    await clock.advance(10_000);
    const after = pool.health({ memoryUsage: noPressure, waitP99Ms: { degraded: 1e9 } });
    assert.equal(after.timeoutsPerSec, 0);
    assert.equal(after.level, 'degraded', 'still fully used');
    held.release();
    await pool.close();
  });

  test('create errors per second and the breaker', async () => {
    const clock = new FakeClock();
    let down = true;
    const f = factory({ failWith: () => (down ? new Error('refused') : undefined) });
    const pool = createPool({
      create: f.create,
      max: 1,
      clock,
      random: () => 0,
      createRetry: { initialDelayMs: 10, maxDelayMs: 10 },
      breaker: { threshold: 3, halfOpenAfterMs: 5_000 },
    });
    const tries = Array.from({ length: 3 }, () => track(pool.acquire()));
    for (let i = 0; i < 5 && !tries.every((t) => t.done); i++) await clock.advance(10);
    assert.ok(tries.every((t) => t.done && t.error !== undefined));
    const h = pool.health({ memoryUsage: noPressure });
    assert.equal(h.breaker, 'open');
    assert.equal(h.level, 'failing');
    assert.ok(h.createErrorsPerSec >= 0.3, String(h.createErrorsPerSec));
    assert.match(h.reasons.join(), /breaker is open/);
    assert.match(h.reasons.join(), /create errors\/s/);
    down = false;
    await clock.advance(5_000);
    (await pool.acquire()).release();
    await clock.advance(10_000);
    const back = pool.health({ memoryUsage: noPressure });
    assert.equal(back.breaker, 'closed');
    assert.equal(back.createErrorsPerSec, 0);
    assert.equal(back.level, 'ok');
    await pool.close();
  });

  test('shared leases count in utilisation', async () => {
    const pool = createPool({
      create: () => ({}),
      max: 2,
      maxLeasesPerResource: 4,
      clock: new FakeClock(),
    });
    const leases = [await pool.acquire(), await pool.acquire()];
    assert.equal(pool.health({ memoryUsage: noPressure }).utilization, 2 / 8);
    for (const l of leases) l.release();
    await pool.close();
  });

  test('bad options throw from health(), naming the option', async () => {
    const pool = createPool({ create: () => ({}), max: 1, clock: new FakeClock() });
    // biome-ignore lint/suspicious/noExplicitAny: a JavaScript caller's mistake
    assert.throws(() => pool.health({ windowMs: 0 } as any), RangeError);
    await pool.close();
  });
});

describe('health through the managed layer', () => {
  test('a managed pool reports its core pool; a keyed pool the worst key, reasons prefixed', async () => {
    const clock = new FakeClock();
    const fm = fakeManager();
    const managed = createManagedPool(fm.manager, { name: 'db', max: 1, clock });
    const lease = await managed.acquire();
    const h = managed.health({ memoryUsage: noPressure });
    assert.equal(h.name, 'db');
    assert.equal(h.level, 'degraded');
    lease.release();
    await managed.close();

    const keyed = createKeyedPool({
      name: 'regions',
      clock,
      pool: (_region: string) => ({ manager: fakeManager().manager, options: { max: 2 } }),
    });
    assert.deepEqual(keyed.health({ memoryUsage: noPressure }), {
      name: 'regions',
      level: 'ok',
      reasons: [],
      pools: [],
    });
    const held = [await keyed.acquire('eu'), await keyed.acquire('eu')];
    (await keyed.acquire('us')).release();
    const k = keyed.health({ memoryUsage: noPressure });
    assert.equal(k.level, 'degraded');
    assert.deepEqual(
      k.pools.map((p) => [p.key, p.health.level]),
      [
        ['eu', 'degraded'],
        ['us', 'ok'],
      ],
    );
    assert.match(k.reasons[0]!, /^eu: utilisation 100%/);
    for (const l of held) l.release();
    await keyed.close();
    assert.equal(keyed.health({ memoryUsage: noPressure }).level, 'failing');
  });
});
