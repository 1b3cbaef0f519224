// What a scrape costs: 10 busy pools (full wait-sample rings, fed histograms), read by the
// neutral layer, by prom-client's registry to text, and by OpenTelemetry's Prometheus
// exporter to text. The target is under 2 ms for a prom-client scrape of 10 pools.
import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { Registry } from 'prom-client';
import { createMetrics } from 'weir/metrics';
import { registerOtel } from 'weir/metrics/otel';
import { registerPrometheus } from 'weir/metrics/prometheus';
import { createPool } from 'weir/pool';
import { percentile, table } from './lib.js';

const POOLS = 10;
const metrics = createMetrics();
const registry = new Registry();
registerPrometheus(metrics, { registry });
const exporter = new PrometheusExporter({ preventServerStart: true });
const provider = new MeterProvider({ readers: [exporter] });
registerOtel(metrics, { meterProvider: provider });
const serializer = new PrometheusSerializer('', false);

const pools = Array.from({ length: POOLS }, (_, i) =>
  createPool({ name: `pool-${i}`, create: () => ({}), min: 10, max: 10 }),
);
for (const p of pools) metrics.addPool(p);
// Enough acquires for every pool's ring of wait samples (1 in 16, 1024 kept) to be full.
for (const p of pools) {
  for (let i = 0; i < 20_000; i++) (await p.acquire()).release();
}

async function time(label: string, fn: () => unknown, n = 300): Promise<(string | number)[]> {
  for (let i = 0; i < 30; i++) await fn();
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn();
    ms.push(performance.now() - t);
  }
  ms.sort((a, b) => a - b);
  return [label, percentile(ms, 50).toFixed(3), percentile(ms, 99).toFixed(3), ms[0]!.toFixed(3)];
}

const rows = [
  await time('metrics.collect()', () => metrics.collect()),
  await time('prom-client registry.metrics()', () => registry.metrics()),
  await time('OTel exporter collect + serialize', async () => {
    const { resourceMetrics } = await exporter.collect();
    serializer.serialize(resourceMetrics);
  }),
];
console.log(
  `A scrape of ${POOLS} pools (ms; ${(await registry.metrics()).split('\n').length} lines of text):\n`,
);
table(['what', 'p50', 'p99', 'best'], rows);
for (const p of pools) await p.close();
await provider.shutdown();
