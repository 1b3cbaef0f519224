// weir/metrics: the metrics of pools, channels, breakers, rate limiters, semaphores and JSON
// streams under OpenTelemetry's names, read by `weir/metrics/prometheus` (prom-client) or
// `weir/metrics/otel` (@opentelemetry/api). This entry point loads neither library.
export { isWeirError, WeirError, type WeirErrorCode } from '../internal/errors.js';
export type { JsonStreamMetrics, JsonStreamOutcome } from '../json/metered.js';
export type { Attributes, HistogramPoint, MetricPoint } from './histogram.js';
export {
  createMetrics,
  type MetricFamily,
  Metrics,
  type MetricsOptions,
} from './metrics.js';
export {
  ATTR,
  DEFINITIONS,
  DURATION_BUCKETS,
  METRICS,
  type MetricDefinition,
  type MetricKind,
  prometheusLabel,
  prometheusName,
} from './names.js';
export type {
  BreakerSource,
  ChannelSource,
  KeyedSource,
  LimiterSource,
  PoolSource,
  SemaphoreSource,
} from './sources.js';
