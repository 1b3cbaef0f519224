// The neutral metrics layer: its points follow the real state of pools, channels, breakers,
// limiters and semaphores; the histograms are in seconds and fed by pool events on the
// clock; JSON streams report chunks, bytes, errors and durations.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { Channel } from '../../src/channel/index.js';
import { FakeClock, flush } from '../../src/internal/clock.js';
import { isWeirError } from '../../src/internal/errors.js';
import { jsonArray } from '../../src/json/index.js';
import { createKeyedPool, createManagedPool } from '../../src/managed/index.js';
import {
  ATTR,
  createMetrics,
  DURATION_BUCKETS,
  type HistogramPoint,
  type MetricFamily,
  type MetricPoint,
  prometheusName,
} from '../../src/metrics/index.js';
import { createPool } from '../../src/pool/index.js';
import { CircuitBreaker, RateLimiter, Semaphore } from '../../src/resilience/index.js';
import { track } from '../helpers/resources.js';
import { fakeManager } from '../managed/fake-manager.js';

function points(families: MetricFamily[], name: string): MetricPoint[] {
  return families.find((f) => f.definition.name === name)!.points as MetricPoint[];
}
function value(families: MetricFamily[], name: string, attrs: Record<string, unknown>): number {
  const p = points(families, name).find((x) =>
    Object.entries(attrs).every(([k, v]) => x.attributes[k] === v),
  );
  assert.ok(p, `${name} ${JSON.stringify(attrs)}`);
  return p.value;
}
function hist(families: MetricFamily[], name: string, pool: string): HistogramPoint {
  const f = families.find((x) => x.definition.name === name)!;
  return (f.points as HistogramPoint[]).find((p) => p.attributes[ATTR.poolName] === pool)!;
}

describe('weir/metrics', () => {
  test('pool gauges and counters follow the pool', async () => {
    const clock = new FakeClock();
    const pool = createPool({
      name: 'db',
      create: () => ({}),
      max: 2,
      min: 1,
      acquireTimeoutMs: 10,
      clock,
    });
    const m = createMetrics({ clock });
    m.addPool(pool);
    await flush();
    const db = { [ATTR.poolName]: 'db' };
    let f = m.collect();
    assert.equal(
      value(f, 'db.client.connection.count', { ...db, [ATTR.connectionState]: 'idle' }),
      1,
    );
    assert.equal(
      value(f, 'db.client.connection.count', { ...db, [ATTR.connectionState]: 'used' }),
      0,
    );
    assert.equal(value(f, 'db.client.connection.limit', db), 2);
    assert.equal(value(f, 'db.client.connection.idle.max', db), 2);
    assert.equal(value(f, 'db.client.connection.idle.min', db), 1);
    const a = await pool.acquire();
    const b = await pool.acquire();
    const waiting = track(pool.acquire());
    await flush();
    f = m.collect();
    assert.equal(
      value(f, 'db.client.connection.count', { ...db, [ATTR.connectionState]: 'used' }),
      2,
    );
    assert.equal(value(f, 'db.client.connection.pending_requests', db), 1);
    await clock.advance(10);
    assert.ok(waiting.error);
    f = m.collect();
    assert.equal(value(f, 'db.client.connection.timeouts', db), 1);
    assert.equal(value(f, 'db.client.connection.pending_requests', db), 0);
    a.release();
    b.release();
    await pool.close();
  });

  test('create, wait and use times are histograms in seconds, on the clock', async () => {
    const clock = new FakeClock();
    const pool = createPool({
      name: 'db',
      create: async () => {
        await new Promise<void>((r) => clock.setTimeout(() => r(), 30));
        return {};
      },
      max: 1,
      clock,
    });
    const m = createMetrics({ clock });
    m.addPool(pool);
    const first = track(pool.acquire());
    await clock.advance(30);
    await flush();
    const lease = first.value!;
    const second = track(pool.acquire());
    await clock.advance(200);
    lease.release();
    await flush();
    await clock.advance(2_000);
    second.value!.release();
    const f = m.collect();
    const create = hist(f, 'db.client.connection.create_time', 'db');
    assert.deepEqual(create.boundaries, DURATION_BUCKETS);
    assert.equal(create.count, 1);
    assert.equal(create.sum, 0.03);
    assert.equal(create.counts[DURATION_BUCKETS.indexOf(0.05)], 1, '30 ms falls in (0.025, 0.05]');
    const wait = hist(f, 'db.client.connection.wait_time', 'db');
    assert.equal(wait.count, 2);
    assert.ok(Math.abs(wait.sum - 0.23) < 1e-9, String(wait.sum));
    const use = hist(f, 'db.client.connection.use_time', 'db');
    assert.equal(use.count, 2);
    assert.ok(Math.abs(use.sum - 2.2) < 1e-9, String(use.sum));
    assert.equal(use.counts[DURATION_BUCKETS.indexOf(2.5)], 1, '2 s falls in (1, 2.5]');
    await pool.close();
  });

  test('adding twice is a no-op; a second object under the same name is refused; removal', async () => {
    const m = createMetrics();
    const p1 = createPool({ name: 'same', create: () => ({}), max: 1 });
    const p2 = createPool({ name: 'same', create: () => ({}), max: 1 });
    const remove = m.addPool(p1);
    m.addPool(p1);
    assert.equal(points(m.collect(), 'db.client.connection.limit').length, 1);
    assert.throws(
      () => m.addPool(p2),
      (e: unknown) => isWeirError(e, 'ERR_METRICS_DUPLICATE_NAME'),
    );
    m.addPool(p2, { name: 'other' });
    assert.equal(points(m.collect(), 'db.client.connection.limit').length, 2);
    remove();
    assert.equal(p1.listenerCount('acquire'), 0, 'its listeners are gone');
    assert.equal(points(m.collect(), 'db.client.connection.limit').length, 1);
    m.clear();
    assert.equal(points(m.collect(), 'db.client.connection.limit').length, 0);
    await p1.close();
    await p2.close();
  });

  test('bad options and sources throw, naming the problem', () => {
    // biome-ignore lint/suspicious/noExplicitAny: a JavaScript caller's mistakes
    const bad = (v: unknown): any => v;
    assert.throws(() => createMetrics(bad({ bucket: [1] })), /Unknown option `bucket`.*`buckets`/);
    assert.throws(() => createMetrics({ buckets: [1, 0.5] }), RangeError);
    assert.throws(() => createMetrics({ buckets: [] }), RangeError);
    const m = createMetrics();
    assert.throws(() => m.addPool(bad({})), TypeError);
    assert.throws(() => m.addChannel(new Channel(1), bad({})), /needs a `name`/);
    assert.throws(() => m.addKeyedPool(bad({})), TypeError);
    assert.throws(() => m.addHttpPool({}), /HttpPool/);
    assert.throws(() => m.jsonStream(''), TypeError);
    assert.throws(
      () => m.addPool(createPool({ create: () => ({}), max: 1 }), bad({ nam: 'x' })),
      /Unknown option `nam`/,
    );
  });

  test('channels, breakers, rate limiters and semaphores', async () => {
    const clock = new FakeClock();
    const m = createMetrics({ clock });
    const ch = new Channel<number>(2);
    m.addChannel(ch, { name: 'jobs' });
    ch.trySend(1);
    ch.trySend(2);
    const blocked = ch.send(3);
    const breaker = new CircuitBreaker({ name: 'api', threshold: 1, clock });
    m.addBreaker(breaker);
    breaker.recordFailure(new Error('x'));
    const limiter = new RateLimiter({
      name: 'out',
      ratePerSecond: 1,
      burst: 1,
      maxWaiting: 1,
      clock,
    });
    m.addRateLimiter(limiter);
    limiter.tryAcquire();
    const queued = limiter.acquire();
    await limiter.acquire().catch(() => undefined);
    const sem = new Semaphore(1, { name: 'bulk', maxWaiting: 0 });
    m.addSemaphore(sem);
    const permit = await sem.acquire();
    await sem.acquire().catch(() => undefined);
    const f = m.collect();
    const jobs = { [ATTR.channelName]: 'jobs' };
    assert.equal(value(f, 'weir.channel.length', jobs), 2);
    assert.equal(value(f, 'weir.channel.capacity', jobs), 2);
    assert.equal(value(f, 'weir.channel.blocked_senders', jobs), 1);
    assert.equal(value(f, 'weir.channel.blocked_receivers', jobs), 0);
    const api = { [ATTR.breakerName]: 'api' };
    assert.equal(value(f, 'weir.breaker.state', { ...api, [ATTR.breakerState]: 'open' }), 1);
    assert.equal(value(f, 'weir.breaker.state', { ...api, [ATTR.breakerState]: 'closed' }), 0);
    assert.equal(value(f, 'weir.breaker.transitions', { ...api, [ATTR.breakerState]: 'open' }), 1);
    assert.equal(value(f, 'weir.rate_limiter.waiting', { [ATTR.limiterName]: 'out' }), 1);
    assert.equal(value(f, 'weir.rate_limiter.rejected', { [ATTR.limiterName]: 'out' }), 1);
    assert.equal(value(f, 'weir.semaphore.rejected', { [ATTR.semaphoreName]: 'bulk' }), 1);
    assert.equal(value(f, 'weir.semaphore.available', { [ATTR.semaphoreName]: 'bulk' }), 0);
    ch.tryReceive();
    await blocked;
    permit.release();
    await clock.advance(1_000);
    await queued;
  });

  test('a keyed pool reports each key, the keys made later too', async () => {
    const m = createMetrics();
    const keyed = createKeyedPool({
      name: 'regions',
      pool: (_r: string) => ({ manager: fakeManager().manager, options: { max: 3 } }),
    });
    (await keyed.acquire('eu')).release();
    m.addKeyedPool(keyed);
    (await keyed.acquire('us')).release();
    const f = m.collect();
    assert.deepEqual(
      points(f, 'db.client.connection.limit').map((p) => p.attributes[ATTR.poolName]),
      ['regions eu', 'regions us'],
    );
    assert.equal(hist(f, 'db.client.connection.wait_time', 'regions us').count, 1);
    await keyed.close();
  });

  test('a managed pool and a client on one report under their name', async () => {
    const m = createMetrics();
    const managed = createManagedPool(fakeManager().manager, { name: 'kv', max: 1 });
    m.addPool(managed);
    (await managed.acquire()).release();
    assert.equal(hist(m.collect(), 'db.client.connection.wait_time', 'kv').count, 1);
    await managed.close();
  });

  test('JSON streams: chunks, bytes, errors and durations by outcome', async () => {
    const clock = new FakeClock();
    const m = createMetrics({ clock });
    const hooks = m.jsonStream('orders');
    assert.equal(m.jsonStream('orders'), hooks, 'one set of hooks per name');
    const items = Array.from({ length: 100 }, (_, i) => ({ i, pad: 'x'.repeat(50) }));
    const chunks = await jsonArray(items, { chunkBytes: 1024, metrics: hooks }).toArray();
    const bytes = chunks.reduce((n, c) => n + c.byteLength, 0);
    // The source fails after 500 ms of the fake clock: it stops where the test can see it,
    // the clock moves, then the source throws.
    let reached!: () => void;
    const atWait = new Promise<void>((r) => {
      reached = r;
    });
    let go!: () => void;
    const gate = new Promise<void>((r) => {
      go = r;
    });
    async function* failing() {
      yield 1;
      reached();
      await gate;
      throw new Error('db gone');
    }
    const failed = assert.rejects(jsonArray(failing(), { metrics: hooks }).toArray(), /db gone/);
    await atWait;
    await clock.advance(500);
    go();
    await failed;
    const f = m.collect();
    const a = { [ATTR.streamName]: 'orders' };
    assert.equal(value(f, 'weir.json.stream.chunks', a), chunks.length);
    assert.equal(value(f, 'weir.json.stream.bytes', a), bytes);
    assert.equal(value(f, 'weir.json.stream.errors', a), 1);
    const d = (
      f.find((x) => x.definition.name === 'weir.json.stream.duration')!.points as HistogramPoint[]
    ).map((p) => [p.attributes[ATTR.streamOutcome], p.count, p.sum]);
    assert.deepEqual(d, [
      ['complete', 1, 0],
      ['error', 1, 0.5],
    ]);
    // A consumer that stops early cancels the stream.
    const body = jsonArray(items, { chunkBytes: 64, metrics: hooks });
    for await (const _ of body) break;
    const cancelled = (
      m.collect().find((x) => x.definition.name === 'weir.json.stream.duration')!
        .points as HistogramPoint[]
    ).find((p) => p.attributes[ATTR.streamOutcome] === 'cancelled');
    assert.equal(cancelled?.count, 1);
  });

  test('Prometheus names: dots to underscores, counters end in _total', () => {
    assert.equal(
      prometheusName({ name: 'db.client.connection.count', kind: 'updowncounter' }),
      'db_client_connection_count',
    );
    assert.equal(
      prometheusName({ name: 'db.client.connection.timeouts', kind: 'counter' }),
      'db_client_connection_timeouts_total',
    );
    assert.equal(
      prometheusName({ name: 'db.client.connection.wait_time', kind: 'histogram' }),
      'db_client_connection_wait_time',
    );
  });

  test('importing weir/metrics loads neither prom-client nor @opentelemetry/api', () => {
    const script = `
      await import('weir/metrics');
      const { createRequire } = await import('node:module');
      const cache = Object.keys(createRequire(import.meta.url).cache);
      console.log(JSON.stringify(cache.filter((k) => /prom-client|@opentelemetry/.test(k))));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      cwd: new URL('../..', import.meta.url),
    });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), []);
    const loaded = spawnSync(
      process.execPath,
      ['--input-type=module', '-e', script.replace("'weir/metrics'", "'weir/metrics/prometheus'")],
      { encoding: 'utf8', cwd: new URL('../..', import.meta.url) },
    );
    assert.equal(loaded.status, 0, loaded.stderr);
    assert.ok(JSON.parse(loaded.stdout).some((k: string) => k.includes('prom-client')));
  });
});
