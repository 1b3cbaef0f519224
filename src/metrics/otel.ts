// weir/metrics/otel: weir's metrics as OpenTelemetry instruments. Importing this entry
// point is what loads @opentelemetry/api. Counts and readings are observable instruments
// read in one batch callback per collection; the duration histograms are recorded as pool
// events happen, with weir's bucket boundaries (in seconds) as the instruments' advice.
import {
  type BatchObservableCallback,
  type Histogram,
  type Meter,
  type MeterProvider,
  type Observable,
  type Attributes as OtelAttributes,
  metrics as otelMetrics,
} from '@opentelemetry/api';
import { checkKeys, checkObject, optionKeys } from '../internal/options.js';
import type { MetricPoint } from './histogram.js';
import type { Metrics } from './metrics.js';

/**
 * Options of {@link registerOtel}.
 * @example
 * registerOtel(metrics, { meterProvider });
 */
export interface OtelOptions {
  /** The meter to make the instruments on. @default `meterProvider.getMeter('weir')` */
  meter?: Meter;
  /** Where the meter comes from. @default the global MeterProvider of @opentelemetry/api */
  meterProvider?: MeterProvider;
}

/** What {@link registerOtel} returns. */
export interface OtelRegistration {
  /** Stops reporting these metrics to the meter. Idempotent. */
  unregister(): void;
}

const OPTION_KEYS = optionKeys<OtelOptions>({ meter: 1, meterProvider: 1 });
const registered = new WeakMap<Meter, Map<Metrics, OtelRegistration>>();

/**
 * Reports `metrics` through an OpenTelemetry meter, under the same names (which the
 * Prometheus exporter prints as `weir/metrics/prometheus` does). Registering the same
 * metrics on the same meter again returns the first registration and never throws.
 * @throws {TypeError} for bad options.
 * @example
 * import { MeterProvider } from '@opentelemetry/sdk-metrics';
 * import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
 * const meterProvider = new MeterProvider({ readers: [new PrometheusExporter({ port: 9464 })] });
 * registerOtel(metrics, { meterProvider });
 */
export function registerOtel(metrics: Metrics, options?: OtelOptions): OtelRegistration {
  checkObject('options', options);
  checkKeys('registerOtel', options, OPTION_KEYS);
  const meter =
    options?.meter ?? (options?.meterProvider ?? otelMetrics.getMeterProvider()).getMeter('weir');
  let byMeter = registered.get(meter);
  if (byMeter === undefined) registered.set(meter, (byMeter = new Map()));
  const known = byMeter.get(metrics);
  if (known !== undefined) return known;

  const observables = new Map<string, Observable>();
  const histograms = new Map<string, Histogram>();
  for (const d of metrics.definitions) {
    const o = { description: d.description, unit: d.unit };
    if (d.kind === 'histogram') {
      histograms.set(
        d.name,
        meter.createHistogram(d.name, {
          ...o,
          advice: { explicitBucketBoundaries: [...metrics.buckets] },
        }),
      );
    } else if (d.kind === 'counter') {
      observables.set(d.name, meter.createObservableCounter(d.name, o));
    } else if (d.kind === 'updowncounter') {
      observables.set(d.name, meter.createObservableUpDownCounter(d.name, o));
    } else {
      observables.set(d.name, meter.createObservableGauge(d.name, o));
    }
  }
  const callback: BatchObservableCallback = (result) => {
    for (const family of metrics.collect()) {
      const instrument = observables.get(family.definition.name);
      if (instrument === undefined) continue;
      for (const p of family.points as MetricPoint[]) {
        result.observe(instrument, p.value, p.attributes as OtelAttributes);
      }
    }
  };
  meter.addBatchObservableCallback(callback, [...observables.values()]);
  const stopRecording = metrics.observe((d, attributes, value) =>
    histograms.get(d.name)?.record(value, attributes as OtelAttributes),
  );
  let done = false;
  const registration: OtelRegistration = {
    unregister() {
      if (done) return;
      done = true;
      meter.removeBatchObservableCallback(callback, [...observables.values()]);
      stopRecording();
      byMeter.delete(metrics);
    },
  };
  byMeter.set(metrics, registration);
  return registration;
}
