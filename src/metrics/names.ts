// Every metric weir reports: its OpenTelemetry name (the semantic conventions 1.45 for
// connection pools and HTTP clients, weir's own `weir.*` for the rest), kind, unit and
// attributes, and the one rule both adapters use to spell it for Prometheus.

/**
 * How a metric behaves: a `counter` only goes up (a total since start), an
 * `updowncounter` is a count that goes both ways (OpenTelemetry's UpDownCounter, a
 * Prometheus gauge), a `gauge` is a reading, a `histogram` a distribution of observations.
 */
export type MetricKind = 'counter' | 'updowncounter' | 'gauge' | 'histogram';

/** One metric weir reports. */
export interface MetricDefinition {
  /** OpenTelemetry name, e.g. `db.client.connection.wait_time`. */
  readonly name: string;
  readonly kind: MetricKind;
  /** UCUM unit as OpenTelemetry writes it: `s`, `By`, `{connection}`. */
  readonly unit: string;
  readonly description: string;
  /** The attribute keys its points carry (never a per-request value). */
  readonly attributes: readonly string[];
}

/**
 * Bucket boundaries of every duration histogram, in seconds (OpenTelemetry's HTTP
 * duration buckets with 1 ms in front: the SDK's default boundaries are milliseconds-scale
 * and would put every pool wait in the first bucket).
 */
export const DURATION_BUCKETS: readonly number[] = Object.freeze([
  0.001, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10,
]);

/** Attribute keys. */
export const ATTR = Object.freeze({
  poolName: 'db.client.connection.pool.name',
  connectionState: 'db.client.connection.state',
  httpState: 'http.connection.state',
  serverAddress: 'server.address',
  serverPort: 'server.port',
  breakerName: 'weir.breaker.name',
  breakerState: 'weir.breaker.state',
  limiterName: 'weir.rate_limiter.name',
  semaphoreName: 'weir.semaphore.name',
  channelName: 'weir.channel.name',
  wasmMemoryState: 'weir.wasm.memory.state',
  streamName: 'weir.json.stream.name',
  streamOutcome: 'weir.json.stream.outcome',
} as const);

const pool = [ATTR.poolName] as const;
const server = [ATTR.serverAddress, ATTR.serverPort] as const;

function def(
  name: string,
  kind: MetricKind,
  unit: string,
  description: string,
  attributes: readonly string[],
): MetricDefinition {
  return Object.freeze({ name, kind, unit, description, attributes: Object.freeze(attributes) });
}

/** Every metric, by a short key. */
export const METRICS = Object.freeze({
  // OpenTelemetry semantic conventions 1.45: database client connection pools.
  connectionCount: def(
    'db.client.connection.count',
    'updowncounter',
    '{connection}',
    'The number of connections that are currently in the state described by the state attribute.',
    [ATTR.poolName, ATTR.connectionState],
  ),
  idleMax: def(
    'db.client.connection.idle.max',
    'updowncounter',
    '{connection}',
    'The maximum number of idle open connections allowed.',
    pool,
  ),
  idleMin: def(
    'db.client.connection.idle.min',
    'updowncounter',
    '{connection}',
    'The minimum number of idle open connections allowed.',
    pool,
  ),
  limit: def(
    'db.client.connection.limit',
    'updowncounter',
    '{connection}',
    'The maximum number of open connections allowed.',
    pool,
  ),
  pending: def(
    'db.client.connection.pending_requests',
    'updowncounter',
    '{request}',
    'The number of current pending requests for an open connection.',
    pool,
  ),
  timeouts: def(
    'db.client.connection.timeouts',
    'counter',
    '{timeout}',
    'The number of connection timeouts that have occurred trying to obtain a connection from the pool.',
    pool,
  ),
  createTime: def(
    'db.client.connection.create_time',
    'histogram',
    's',
    'The time it took to create a new connection.',
    pool,
  ),
  waitTime: def(
    'db.client.connection.wait_time',
    'histogram',
    's',
    'The time it took to obtain an open connection from the pool.',
    pool,
  ),
  useTime: def(
    'db.client.connection.use_time',
    'histogram',
    's',
    'The time between borrowing a connection and returning it to the pool.',
    pool,
  ),
  // weir's own, per pool.
  createErrors: def(
    'weir.pool.create_errors',
    'counter',
    '{error}',
    'Creates (connects) of the pool that failed.',
    pool,
  ),
  // OpenTelemetry semantic conventions 1.45: HTTP client connections, per origin.
  httpOpen: def(
    'http.client.open_connections',
    'updowncounter',
    '{connection}',
    'Number of outbound HTTP connections that are currently active or idle on the client.',
    [ATTR.httpState, ...server],
  ),
  httpDuration: def(
    'http.client.connection.duration',
    'histogram',
    's',
    'The duration of the successfully established outbound HTTP connections.',
    server,
  ),
  // weir's own.
  breakerState: def(
    'weir.breaker.state',
    'gauge',
    '1',
    'Whether the circuit breaker is in the state of the state attribute (1) or not (0).',
    [ATTR.breakerName, ATTR.breakerState],
  ),
  breakerTransitions: def(
    'weir.breaker.transitions',
    'counter',
    '{transition}',
    'State changes of the circuit breaker, by the state it moved to.',
    [ATTR.breakerName, ATTR.breakerState],
  ),
  limiterWaiting: def(
    'weir.rate_limiter.waiting',
    'updowncounter',
    '{call}',
    'Calls waiting for tokens of the rate limiter.',
    [ATTR.limiterName],
  ),
  limiterRejected: def(
    'weir.rate_limiter.rejected',
    'counter',
    '{call}',
    'Calls the rate limiter refused because too many already waited.',
    [ATTR.limiterName],
  ),
  semaphoreWaiting: def(
    'weir.semaphore.waiting',
    'updowncounter',
    '{call}',
    'Calls waiting for a permit of the semaphore.',
    [ATTR.semaphoreName],
  ),
  semaphoreRejected: def(
    'weir.semaphore.rejected',
    'counter',
    '{call}',
    'Calls the semaphore refused because too many already waited.',
    [ATTR.semaphoreName],
  ),
  semaphoreAvailable: def(
    'weir.semaphore.available',
    'updowncounter',
    '{permit}',
    'Permits of the semaphore free now.',
    [ATTR.semaphoreName],
  ),
  channelLength: def(
    'weir.channel.length',
    'updowncounter',
    '{value}',
    'Values buffered in the channel.',
    [ATTR.channelName],
  ),
  channelCapacity: def(
    'weir.channel.capacity',
    'updowncounter',
    '{value}',
    'Values the channel can buffer.',
    [ATTR.channelName],
  ),
  channelSenders: def(
    'weir.channel.blocked_senders',
    'updowncounter',
    '{sender}',
    'Senders waiting for room in the channel.',
    [ATTR.channelName],
  ),
  channelReceivers: def(
    'weir.channel.blocked_receivers',
    'updowncounter',
    '{receiver}',
    'Receivers waiting for a value of the channel.',
    [ATTR.channelName],
  ),
  wsReconnects: def(
    'weir.ws.reconnects',
    'counter',
    '{reconnect}',
    'Reconnections of the WebSocket pool’s connections.',
    pool,
  ),
  wsBuffered: def(
    'weir.ws.buffered',
    'updowncounter',
    'By',
    'Bytes waiting to go out on the WebSocket pool’s connections.',
    pool,
  ),
  wasmMemory: def(
    'weir.wasm.memory.usage',
    'updowncounter',
    'By',
    'Linear memory of the WebAssembly pool’s instances, leased (used) or idle.',
    [ATTR.poolName, ATTR.wasmMemoryState],
  ),
  wasmMemoryLimit: def(
    'weir.wasm.memory.limit',
    'updowncounter',
    'By',
    'The WebAssembly pool’s memory budget (maxTotalMemoryMb).',
    pool,
  ),
  streamChunks: def(
    'weir.json.stream.chunks',
    'counter',
    '{chunk}',
    'Chunks the JSON/NDJSON streams handed on.',
    [ATTR.streamName],
  ),
  streamBytes: def(
    'weir.json.stream.bytes',
    'counter',
    'By',
    'Bytes of the chunks the JSON/NDJSON streams handed on.',
    [ATTR.streamName],
  ),
  streamErrors: def(
    'weir.json.stream.errors',
    'counter',
    '{error}',
    'JSON/NDJSON streams that failed.',
    [ATTR.streamName],
  ),
  streamDuration: def(
    'weir.json.stream.duration',
    'histogram',
    's',
    'How long each JSON/NDJSON stream ran, from its first pull to its end, by outcome.',
    [ATTR.streamName, ATTR.streamOutcome],
  ),
} as const);

/** Every definition, in a fixed order. */
export const DEFINITIONS: readonly MetricDefinition[] = Object.freeze(Object.values(METRICS));

/**
 * A name or attribute key as Prometheus spells it: every character outside `[a-zA-Z0-9_]`
 * becomes `_`, runs of `_` collapse, a leading digit gets a `_` — the rule of
 * OpenTelemetry's Prometheus exporter, so both adapters print the same series.
 */
export function prometheusLabel(name: string): string {
  const s = name.replace(/[^a-z0-9_]/gi, '_').replace(/_{2,}/g, '_');
  return /^[0-9]/.test(s) ? `_${s}` : s;
}

/**
 * The Prometheus name of a metric: {@link prometheusLabel} of its name, and `_total` after
 * a counter's. No unit suffix: OpenTelemetry's Prometheus exporter (0.223) appends none,
 * and the two adapters must print the same series.
 * @example
 * prometheusName(METRICS.timeouts); // 'db_client_connection_timeouts_total'
 */
export function prometheusName(d: Pick<MetricDefinition, 'name' | 'kind'>): string {
  const s = prometheusLabel(d.name);
  return d.kind === 'counter' && !s.endsWith('_total') ? `${s}_total` : s;
}
