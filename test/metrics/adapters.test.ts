// Both adapters against the real libraries: a prom-client registry scraped as text, and an
// OpenTelemetry MeterProvider read by the Prometheus exporter (without its HTTP server);
// the two print the same series names and label sets, and the values follow the pools.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { Counter, Registry } from 'prom-client';
import { Channel } from '../../src/channel/index.js';
import { createHttpPool } from '../../src/http/index.js';
import { FakeClock, flush } from '../../src/internal/clock.js';
import { isWeirError } from '../../src/internal/errors.js';
import { jsonArray } from '../../src/json/index.js';
import { createMetrics, type Metrics } from '../../src/metrics/index.js';
import { registerOtel } from '../../src/metrics/otel.js';
import { registerPrometheus } from '../../src/metrics/prometheus.js';
import { createPool } from '../../src/pool/index.js';
import { CircuitBreaker, RateLimiter, Semaphore } from '../../src/resilience/index.js';
import { httpServer, type Running } from '../http/servers.js';

const servers: Running[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

/** Sample lines of an exposition text: `name{labels}` → value. */
function parse(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `a sample line: ${line}`);
    const labels = (m[3] ?? '')
      .split(/,(?=[a-zA-Z_]+=")/)
      .filter(Boolean)
      .sort()
      .join(',');
    out.set(`${m[1]}{${labels}}`, m[4] === '+Inf' ? Number.POSITIVE_INFINITY : Number(m[4]));
  }
  return out;
}

async function otelScrape(exporter: PrometheusExporter): Promise<Map<string, number>> {
  const { resourceMetrics } = await exporter.collect();
  return parse(
    new PrometheusSerializer('', false, undefined, true, true).serialize(resourceMetrics),
  );
}

function otel(metrics: Metrics): { exporter: PrometheusExporter; provider: MeterProvider } {
  const exporter = new PrometheusExporter({
    preventServerStart: true,
    withoutScopeInfo: true,
    withoutTargetInfo: true,
  });
  const provider = new MeterProvider({ readers: [exporter] });
  registerOtel(metrics, { meterProvider: provider });
  return { exporter, provider };
}

/** Every kind of source, in metrics given to `register` first (OpenTelemetry histograms count from then). */
async function everything(clock: FakeClock, register: (m: Metrics) => void) {
  const metrics = createMetrics({ clock });
  register(metrics);
  const pool = createPool({ name: 'db', create: () => ({}), max: 4, min: 1, clock });
  // Added at once: its first create (for `min`) is under way.
  metrics.addPool(pool);
  const breaker = new CircuitBreaker({ name: 'api', threshold: 1, clock });
  const channel = new Channel<number>(3);
  const limiter = new RateLimiter({ name: 'out', ratePerSecond: 10, clock });
  const semaphore = new Semaphore(2, { name: 'bulk' });
  const s = await httpServer((_req, res) => res.end('ok'));
  servers.push(s);
  const http = createHttpPool({ name: 'web' });
  metrics.addBreaker(breaker);
  metrics.addChannel(channel, { name: 'jobs' });
  metrics.addRateLimiter(limiter);
  metrics.addSemaphore(semaphore);
  metrics.addHttpPool(http);
  return { metrics, pool, breaker, channel, limiter, semaphore, http, url: s.url };
}

/** Drives every source so that every metric has points. */
async function drive(o: Awaited<ReturnType<typeof everything>>, clock: FakeClock): Promise<void> {
  const lease = await o.pool.acquire();
  await clock.advance(1_500);
  lease.release();
  o.breaker.recordFailure(new Error('down'));
  o.channel.trySend(1);
  const res = await o.http.request(`${o.url}/`);
  await res.body.text();
  await jsonArray([1, 2, 3], { metrics: o.metrics.jsonStream('items') }).toArray();
  // The HTTP pool's health: one origin, one idle connection.
  const h = o.http.health({ memoryUsage: () => ({ used: 0, limit: 1 }) });
  assert.equal(h.level, 'ok');
  assert.equal(h.pools.length, 1);
  assert.match(String(h.pools[0]!.key), /^http:\/\/(127\.0\.0\.1|localhost):\d+$/);
  assert.equal(h.pools[0]!.health.utilization, 0);
  // Its connection closes, and its duration is observed; the origin's pool stays.
  await o.http.close();
}

describe('prom-client adapter', () => {
  test('a real registry prints every series, values following the pool, buckets in seconds', async () => {
    const clock = new FakeClock();
    const registry = new Registry();
    const o = await everything(clock, (m) => registerPrometheus(m, { registry }));
    await drive(o, clock);
    await flush();
    const text = await registry.metrics();
    const s = parse(text);
    const db = 'db_client_connection_pool_name="db"';
    assert.equal(s.get(`db_client_connection_count{${db},db_client_connection_state="idle"}`), 1);
    assert.equal(s.get(`db_client_connection_count{${db},db_client_connection_state="used"}`), 0);
    assert.equal(s.get(`db_client_connection_limit{${db}}`), 4);
    assert.equal(s.get(`db_client_connection_timeouts_total{${db}}`), 0);
    assert.equal(s.get(`db_client_connection_use_time_bucket{${db},le="1"}`), 0);
    assert.equal(s.get(`db_client_connection_use_time_bucket{${db},le="2.5"}`), 1);
    assert.equal(s.get(`db_client_connection_use_time_bucket{${db},le="+Inf"}`), 1);
    assert.equal(s.get(`db_client_connection_use_time_sum{${db}}`), 1.5);
    assert.equal(s.get(`db_client_connection_wait_time_count{${db}}`), 1);
    assert.match(text, /# TYPE db_client_connection_wait_time histogram/);
    assert.match(text, /# TYPE db_client_connection_timeouts_total counter/);
    assert.equal(s.get('weir_breaker_state{weir_breaker_name="api",weir_breaker_state="open"}'), 1);
    assert.equal(s.get('weir_channel_length{weir_channel_name="jobs"}'), 1);
    const open = [...s.keys()].find((k) => k.startsWith('http_client_open_connections{'));
    assert.match(open!, /http_connection_state="(active|idle)"/);
    assert.match(open!, /server_address="127\.0\.0\.1"/);
    assert.match(open!, /server_port="\d+"/);
    assert.equal(s.get('weir_json_stream_chunks_total{weir_json_stream_name="items"}'), 1);
    const duration = [...s.keys()].find((k) =>
      k.startsWith('http_client_connection_duration_count{'),
    );
    assert.ok(duration, 'the closed connection was timed');
    assert.equal(s.get(duration!), 1);
    await o.pool.close();
  });

  test('registering twice does not throw; unregistering removes the collectors', async () => {
    const registry = new Registry();
    const metrics = createMetrics();
    const pool = createPool({ name: 'p', create: () => ({}), max: 1 });
    metrics.addPool(pool);
    const first = registerPrometheus(metrics, { registry });
    const second = registerPrometheus(metrics, { registry });
    const other = createMetrics();
    other.addPool(createPool({ name: 'q', create: () => ({}), max: 2 }));
    const third = registerPrometheus(other, { registry });
    const s = parse(await registry.metrics());
    assert.equal(s.get('db_client_connection_limit{db_client_connection_pool_name="p"}'), 1);
    assert.equal(s.get('db_client_connection_limit{db_client_connection_pool_name="q"}'), 2);
    const limits = [...s.keys()].filter((k) => k.startsWith('db_client_connection_limit{'));
    assert.equal(limits.length, 2, 'each set read once');
    first.unregister();
    second.unregister();
    assert.ok(registry.getSingleMetric('db_client_connection_limit'), 'still used by `other`');
    third.unregister();
    third.unregister();
    assert.equal(registry.getSingleMetric('db_client_connection_limit'), undefined);
    assert.equal(await registry.metrics(), '\n');
    await pool.close();
  });

  test('a name held by a metric that is not weir’s is refused with a code', () => {
    const registry = new Registry();
    new Counter({ name: 'db_client_connection_timeouts_total', help: 'x', registers: [registry] });
    assert.throws(
      () => registerPrometheus(createMetrics(), { registry }),
      (e: unknown) => isWeirError(e, 'ERR_METRICS_NAME_TAKEN'),
    );
    assert.equal(
      registry.getSingleMetric('db_client_connection_limit'),
      undefined,
      'nothing half-registered',
    );
    // A JavaScript caller's mistake.
    assert.throws(
      () => registerPrometheus(createMetrics(), { registy: registry } as never),
      TypeError,
    );
  });
});

describe('OpenTelemetry adapter', () => {
  test('a MeterProvider with the Prometheus exporter: values, buckets in seconds', async () => {
    const clock = new FakeClock();
    let t: ReturnType<typeof otel> | undefined;
    const o = await everything(clock, (m) => {
      t = otel(m);
    });
    const { exporter, provider } = t!;
    await drive(o, clock);
    const s = await otelScrape(exporter);
    const db = 'db_client_connection_pool_name="db"';
    assert.equal(s.get(`db_client_connection_count{${db},db_client_connection_state="idle"}`), 1);
    assert.equal(s.get(`db_client_connection_limit{${db}}`), 4);
    assert.equal(s.get(`db_client_connection_use_time_bucket{${db},le="2.5"}`), 1);
    assert.equal(s.get(`db_client_connection_use_time_bucket{${db},le="1"}`), 0);
    assert.equal(s.get(`db_client_connection_use_time_sum{${db}}`), 1.5);
    assert.equal(
      s.get('weir_breaker_transitions_total{weir_breaker_name="api",weir_breaker_state="open"}'),
      1,
    );
    await o.pool.close();
    await provider.shutdown();
  });

  test('registering twice on one meter returns the first registration', async () => {
    const metrics = createMetrics();
    const provider = new MeterProvider();
    const a = registerOtel(metrics, { meterProvider: provider });
    assert.equal(registerOtel(metrics, { meterProvider: provider }), a);
    a.unregister();
    a.unregister();
    assert.notEqual(registerOtel(metrics, { meterProvider: provider }), a);
    // A JavaScript caller's mistake.
    assert.throws(() => registerOtel(metrics, { provider } as never), TypeError);
    await provider.shutdown();
  });
});

describe('both adapters', () => {
  test('print the same series names and label sets, and the same values', async () => {
    const clock = new FakeClock();
    const registry = new Registry();
    let t: ReturnType<typeof otel> | undefined;
    const o = await everything(clock, (m) => {
      registerPrometheus(m, { registry });
      t = otel(m);
    });
    const { exporter, provider } = t!;
    await drive(o, clock);
    await flush();
    const prom = parse(await registry.metrics());
    const fromOtel = await otelScrape(exporter);
    assert.ok(prom.size > 60, `${prom.size} series`);
    const onlyProm = [...prom.keys()].filter((k) => !fromOtel.has(k));
    const onlyOtel = [...fromOtel.keys()].filter((k) => !prom.has(k));
    assert.deepEqual({ onlyProm, onlyOtel }, { onlyProm: [], onlyOtel: [] });
    for (const [k, v] of prom) assert.equal(fromOtel.get(k), v, k);
    const families = (text: Map<string, number>) =>
      new Set([...text.keys()].map((k) => k.slice(0, k.indexOf('{'))));
    for (const d of o.metrics.definitions) {
      if (d.name.startsWith('weir.ws.') || d.name.startsWith('weir.wasm.')) continue;
      const base = d.name.replaceAll('.', '_');
      assert.ok(
        [...families(prom)].some((f) => f.startsWith(base)),
        `${d.name} has a series in the test`,
      );
    }
    await o.pool.close();
    await provider.shutdown();
  });
});
