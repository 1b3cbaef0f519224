// weir/metrics and its two adapters resolve through the package's exports map to the
// built files, as a user's program imports them.
import assert from 'node:assert/strict';
import { test } from 'node:test';

test('weir/metrics, weir/metrics/prometheus and weir/metrics/otel resolve to built files', async () => {
  const m = await import('weir/metrics');
  const prom = await import('weir/metrics/prometheus');
  const otel = await import('weir/metrics/otel');
  assert.equal(typeof m.createMetrics, 'function');
  assert.equal(typeof prom.registerPrometheus, 'function');
  assert.equal(typeof otel.registerOtel, 'function');
  assert.match(import.meta.resolve('weir/metrics'), /\/dist\/metrics\/index\.js$/);
  assert.match(import.meta.resolve('weir/metrics/prometheus'), /\/dist\/metrics\/prometheus\.js$/);
  assert.match(import.meta.resolve('weir/metrics/otel'), /\/dist\/metrics\/otel\.js$/);
  const { createPool, POOL_CHANNELS } = await import('weir/pool');
  assert.equal(POOL_CHANNELS.acquire, 'weir:pool:acquire');
  const metrics = m.createMetrics();
  const pool = createPool({ create: () => ({}), max: 1 });
  metrics.addPool(pool);
  assert.equal(pool.health().level, 'ok');
  await pool.close();
});
