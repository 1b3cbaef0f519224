// weir/metrics/prometheus: weir's metrics in a prom-client registry. Importing this entry
// point is what loads prom-client; one collector per metric name reads every set of weir
// metrics registered in that registry, at scrape time.
import client, { type Registry } from 'prom-client';
import { WeirError } from '../internal/errors.js';
import { checkKeys, checkObject, optionKeys } from '../internal/options.js';
import type { Attributes, HistogramPoint, MetricPoint } from './histogram.js';
import type { MetricFamily, Metrics } from './metrics.js';
import { type MetricDefinition, prometheusLabel, prometheusName } from './names.js';

export { prometheusName } from './names.js';

/**
 * Options of {@link registerPrometheus}.
 * @example
 * registerPrometheus(metrics, { registry: new Registry() });
 */
export interface PrometheusOptions {
  /** The registry to register in. @default prom-client's default `register` */
  registry?: Registry;
}

/** What {@link registerPrometheus} returns. */
export interface PrometheusRegistration {
  /** Takes these metrics out of the registry (a collector no set uses is removed). Idempotent. */
  unregister(): void;
}

// Shared across copies of weir in one process, as the collectors in a registry are.
const kCollector = Symbol.for('weir.metrics.promCollector');

interface PromValue {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

interface Collector {
  readonly [kCollector]: true;
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  readonly aggregator: 'sum';
  readonly sources: Set<Metrics>;
  get(): { name: string; help: string; type: string; values: PromValue[]; aggregator: 'sum' };
  reset(): void;
}

const OPTION_KEYS = optionKeys<PrometheusOptions>({ registry: 1 });

/**
 * Registers `metrics` in a prom-client registry: one collector per metric, series named
 * by {@link prometheusName} (the same as OpenTelemetry's Prometheus exporter prints for
 * `weir/metrics/otel`), read at scrape time. Registering the same metrics again, or
 * another set under the same names, reuses the collectors and never throws; a scrape
 * reads each set once.
 * @throws {WeirError} `ERR_METRICS_NAME_TAKEN` when a metric of one of weir's names is
 *   already in the registry and is not weir's.
 * @throws {TypeError} for bad options.
 * @example
 * import { register } from 'prom-client';
 * registerPrometheus(metrics);
 * app.get('/metrics', async (_req, res) => res.type(register.contentType).send(await register.metrics()));
 */
export function registerPrometheus(
  metrics: Metrics,
  options?: PrometheusOptions,
): PrometheusRegistration {
  checkObject('options', options);
  checkKeys('registerPrometheus', options, OPTION_KEYS);
  const registry = options?.registry ?? client.register;
  const collectors: Collector[] = [];
  for (const d of metrics.definitions) {
    const name = prometheusName(d);
    const existing = registry.getSingleMetric(name) as unknown as Partial<Collector> | undefined;
    if (existing !== undefined && existing[kCollector] !== true) {
      throw new WeirError(
        'ERR_METRICS_NAME_TAKEN',
        `The registry already has a metric "${name}" that weir did not register; remove it or give weir's metrics a registry of their own`,
      );
    }
  }
  for (const d of metrics.definitions) {
    const name = prometheusName(d);
    let c = registry.getSingleMetric(name) as unknown as Collector | undefined;
    if (c === undefined) {
      c = collector(d, name);
      registry.registerMetric(c as never);
    }
    c.sources.add(metrics);
    collectors.push(c);
  }
  let done = false;
  return {
    unregister() {
      if (done) return;
      done = true;
      for (const c of collectors) {
        c.sources.delete(metrics);
        if (c.sources.size === 0 && registry.getSingleMetric(c.name) === (c as never)) {
          registry.removeSingleMetric(c.name);
        }
      }
    },
  };
}

// A scrape calls every collector's get() in one synchronous loop: each set of metrics is
// read once per scrape, and forgotten on the next microtask.
const scrapes = new Map<Metrics, Map<string, MetricFamily>>();

function familiesOf(m: Metrics): Map<string, MetricFamily> {
  let f = scrapes.get(m);
  if (f === undefined) {
    f = new Map(m.collect().map((x) => [x.definition.name, x]));
    if (scrapes.size === 0) queueMicrotask(() => scrapes.clear());
    scrapes.set(m, f);
  }
  return f;
}

function labels(a: Attributes): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const k in a) out[prometheusLabel(k)] = a[k]!;
  return out;
}

function collector(d: MetricDefinition, name: string): Collector {
  const type = d.kind === 'counter' ? 'counter' : d.kind === 'histogram' ? 'histogram' : 'gauge';
  const help = `${d.description} (${d.name}, ${d.unit})`;
  const sources = new Set<Metrics>();
  return {
    [kCollector]: true,
    name,
    help,
    type,
    aggregator: 'sum',
    sources,
    get() {
      const values: PromValue[] = [];
      for (const m of sources) {
        const family = familiesOf(m).get(d.name);
        if (family === undefined) continue;
        if (family.definition.kind !== 'histogram') {
          for (const p of family.points as MetricPoint[]) {
            values.push({ value: p.value, labels: labels(p.attributes) });
          }
          continue;
        }
        for (const p of family.points as HistogramPoint[]) {
          const l = labels(p.attributes);
          let cumulative = 0;
          for (let i = 0; i < p.counts.length; i++) {
            cumulative += p.counts[i]!;
            const le = i < p.boundaries.length ? String(p.boundaries[i]) : '+Inf';
            values.push({ value: cumulative, labels: { ...l, le }, metricName: `${name}_bucket` });
          }
          values.push({ value: p.sum, labels: l, metricName: `${name}_sum` });
          values.push({ value: p.count, labels: l, metricName: `${name}_count` });
        }
      }
      return { name, help, type, values, aggregator: 'sum' };
    },
    // Counts are the objects' own totals; a registry reset does not rewind them.
    reset() {},
  };
}
