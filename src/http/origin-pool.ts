import { createPool, type Pool, type PoolStats } from '../pool/index.js';
import { type Connection, makeConnector, openConnection } from './connection.js';
import { statsCode } from './errors.js';
import type { ResolvedOriginOptions } from './options.js';
import type { Origin } from './origin.js';

/** Statistics of one origin's pool. Counts are totals since the pool was created. */
export interface OriginStats {
  /** `scheme://host:port`. */
  origin: string;
  /** Connections open or opening. */
  connections: number;
  /** Connections serving at least one request. */
  active: number;
  /** Connections serving none. */
  idle: number;
  /** Connections being opened. */
  opening: number;
  /** Requests sent and not yet finished. */
  inFlight: number;
  /** Requests waiting for a connection. */
  queued: number;
  /** Requests started (a retry counts once). */
  requests: number;
  /** Connections opened. */
  opened: number;
  /** Connections closed. */
  closed: number;
  /**
   * Share of requests served by a connection that was already open, from 0 to 1:
   * `(requests - opened) / requests`. 0 before the first request.
   */
  reuseRate: number;
  /** Requests per connection opened (the "requests / connections"). */
  requestsPerConnection: number;
  /** Requests retried on a fresh connection after a stale keep-alive socket or GOAWAY. */
  retries: number;
  /** Streams in flight on each open HTTP/2 session (empty for HTTP/1.1). */
  h2Streams: number[];
  /** Failed requests by error code. */
  errors: Record<string, number>;
  /** The underlying `weir/pool` snapshot (waits, timeouts, breaker state). */
  pool: PoolStats;
}

/** @internal The pool of connections to one origin, and what is measured about it. */
export class OriginPool {
  readonly origin: Origin;
  readonly options: ResolvedOriginOptions;
  readonly pool: Pool<Connection>;
  readonly #conns = new Set<Connection>();
  inFlight = 0;
  requests = 0;
  retries = 0;
  readonly errors = new Map<string, number>();

  constructor(origin: Origin, options: ResolvedOriginOptions, name: string) {
    this.origin = origin;
    this.options = options;
    const connector = makeConnector(origin, options);
    const hooks = {
      onClose: (conn: Connection) => {
        this.pool.retire(conn, conn.closed);
      },
      onStreamLimit: (conn: Connection, limit: number) => {
        this.pool.setLeaseLimit(conn, Math.min(limit, options.maxConcurrentStreams));
      },
    };
    // An https origin may answer h2: until the first connection says, expect one create to
    // serve a whole session's worth of requests (an HTTP/1.1 server corrects it after one
    // connect). Without that, a first burst would open `connections` HTTP/2 sessions.
    const mayBeH2 = origin.protocol === 'https:' ? options.allowH2 : options.h2c;
    this.pool = createPool<Connection>({
      create: async (signal) => {
        const conn = await openConnection(origin, options, connector, hooks, signal);
        this.#conns.add(conn);
        return conn;
      },
      destroy: (conn) => {
        this.#conns.delete(conn);
        return conn.destroy();
      },
      leaseLimit: (conn) => (conn.h2 ? options.maxConcurrentStreams : 1),
      maxLeasesPerResource: mayBeH2 ? options.maxConcurrentStreams : 1,
      min: options.minConnections,
      max: options.connections,
      idleTimeoutMs: options.idleTimeoutMs,
      maxLifetimeMs: options.maxLifetimeMs,
      lifetimeJitter: 0.1,
      createTimeoutMs: options.connectTimeoutMs,
      acquireTimeoutMs: options.acquireTimeoutMs,
      maxWaiting: options.maxWaiting,
      // A refused connect is retried for the next request soon, not after seconds.
      createRetry: { initialDelayMs: 10, maxDelayMs: 1_000 },
      breaker: options.breaker === false ? false : { name: origin.key, ...options.breaker },
      name: `${name} ${origin.key}`,
      clock: options.clock,
    });
  }

  /**
   * Retires `conn` if it still serves nothing after `ms`: the server said (`Keep-Alive:
   * timeout=N`) that it closes idle connections sooner than `idleTimeoutMs`. undici's
   * Client closes the socket then too; doing it here, on the pool's clock, takes the
   * connection out of the idle list at the same moment and keeps it testable.
   */
  retireWhenIdleFor(conn: Connection, ms: number): void {
    const clock = this.options.clock;
    clock.clearTimeout(conn.keepAliveTimer);
    const served = conn.requests;
    conn.keepAliveTimer = clock.setTimeout(
      () => {
        conn.keepAliveTimer = undefined;
        if (conn.requests === served && conn.inFlight === 0) {
          this.pool.retire(conn, "idle past the server's Keep-Alive timeout");
        }
      },
      ms,
      true,
    );
  }

  countError(error: unknown): void {
    const code = statsCode(error);
    this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
  }

  stats(): OriginStats {
    const p = this.pool.stats();
    const h2Streams: number[] = [];
    for (const c of this.#conns) if (c.h2 && c.closed === undefined) h2Streams.push(c.inFlight);
    return {
      origin: this.origin.key,
      connections: p.size,
      active: p.active,
      idle: p.idle,
      opening: p.creating,
      inFlight: this.inFlight,
      queued: p.pending,
      requests: this.requests,
      opened: p.created,
      closed: p.destroyed,
      reuseRate: this.requests === 0 ? 0 : Math.max(0, (this.requests - p.created) / this.requests),
      requestsPerConnection: p.created === 0 ? 0 : this.requests / p.created,
      retries: this.retries,
      h2Streams,
      errors: Object.fromEntries(this.errors),
      pool: p,
    };
  }
}
