// The connections to one origin as the managed layer runs them: an OriginManager opens,
// closes and judges them, feeds the pool what the server says (HTTP/2 stream limits,
// Keep-Alive hints, closes) and keeps the origin's figures.
import type { KeyedPoolSpec, Manager, SharedManagedPool } from '../managed/index.js';
import type { Lease, PoolStats } from '../pool/index.js';
import {
  type Connection,
  type ConnectionEnv,
  makeConnector,
  openConnection,
} from './connection.js';
import { type OriginNetwork, originNetwork } from './connector.js';
import { statsCode } from './errors.js';
import type { ResolvedOriginOptions } from './options.js';
import type { Origin } from './origin.js';
import { type Forwarding, forwardingOf } from './proxy.js';

/** Statistics of one origin's pool. Counts are totals since the pool was created. */
export interface OriginStats {
  /** `scheme://host:port`. */
  origin: string;
  /** Connections open or opening (those lent to Node's client by the pool's agent too). */
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
  /** Requests started, through the agent too (a retry counts once). */
  requests: number;
  /**
   * Connections opened: by the pool, and in place of a connection's closed socket (for the
   * retry after a keep-alive race, or to switch a connection between undici and the agent).
   */
  opened: number;
  /** Connections closed (counted like `opened`). */
  closed: number;
  /**
   * Share of requests served by a connection that was already open, from 0 to 1:
   * `(requests - opened) / requests`. 0 before the first request.
   */
  reuseRate: number;
  /** Requests per connection opened (the "requests / connections"). */
  requestsPerConnection: number;
  /** Requests retried on a newly opened connection after a stale keep-alive socket or GOAWAY. */
  retries: number;
  /** Streams in flight on each open HTTP/2 session (empty for HTTP/1.1). */
  h2Streams: number[];
  /** Failed requests by error code. */
  errors: Record<string, number>;
  /** TLS handshakes of the origin's connections (https only). */
  tlsHandshakes: number;
  /** Of those, how many resumed a kept session (see `tls.resumeSessions`). */
  tlsResumed: number;
  /** The proxy the origin's connections go through (`scheme://host:port`), if any. */
  proxy: string | undefined;
  /** The underlying `weir/pool` snapshot (waits, timeouts, breaker state). */
  pool: PoolStats;
}

/**
 * @internal How to run the connections to one origin (a {@link Manager} of a shared managed
 * pool), and what is measured about them. undici's requests and the agent's (Node's HTTP
 * client) share its pool: one `connections` budget, one queue, one shutdown, one set of
 * figures.
 */
export class OriginManager implements Manager<Connection> {
  readonly origin: Origin;
  readonly options: ResolvedOriginOptions;
  /** The pool this manager runs; set by {@link OriginManager.attach} as the pool is made. */
  pool!: SharedManagedPool<Connection, OriginManager>;
  readonly #env: ConnectionEnv;
  readonly #conns = new Set<Connection>();
  readonly #name: string;
  inFlight = 0;
  requests = 0;
  retries = 0;
  /** Sockets opened in place of a connection's previous one. */
  reopened = 0;
  readonly errors = new Map<string, number>();
  /** Agent requests waiting for a connection: new connections then offer HTTP/1.1 only. */
  #agentWaiting = 0;
  /** The origin's DNS cache, TLS sessions and proxy. */
  readonly network: OriginNetwork;
  /** Set when an http origin's requests go in absolute form to a forwarding proxy. */
  readonly forward: Forwarding | null;

  constructor(origin: Origin, options: ResolvedOriginOptions, name: string) {
    this.origin = origin;
    this.options = options;
    this.#name = name;
    const network = originNetwork(origin, options);
    this.network = network;
    this.forward = forwardingOf(origin, network.route);
    this.#env = {
      origin,
      options,
      connector: makeConnector(origin, options, true, network),
      h1Connector: makeConnector(origin, options, false, network),
      hooks: {
        onClose: (conn) => {
          // An HTTP/1.1 connection with a request on it is left to that request: it reopens
          // the socket for a request that was not sent, or gives the connection up.
          if (conn.h2 || conn.inFlight === 0) this.pool.retire(conn, conn.closed);
        },
        onStreamLimit: (conn, limit) => {
          this.pool.setLeaseLimit(conn, Math.min(limit, options.maxConcurrentStreams));
        },
        onReopen: () => {
          this.reopened++;
        },
      },
    };
  }

  /** The options of this origin's pool, for the keyed pool that makes it. */
  spec(): KeyedPoolSpec<Connection, OriginManager> {
    const o = this.options;
    // An https origin may answer h2: until the first connection says, expect one connect
    // to serve a whole session's worth of requests (an HTTP/1.1 server corrects it after
    // one connect). Without that, a first burst would open `connections` HTTP/2 sessions.
    const mayBeH2 = this.origin.protocol === 'https:' ? o.allowH2 : o.h2c;
    const streams = o.maxConcurrentStreams;
    return {
      manager: this,
      options: {
        shared: {
          maxLeases: mayBeH2 ? streams : 1,
          // A node:http2 session knows the server's limit before it is lent out.
          leaseLimit: (conn) => (conn.h2 ? Math.min(conn.serverStreams ?? streams, streams) : 1),
        },
        min: o.minConnections,
        max: o.connections,
        idleTimeoutMs: o.idleTimeoutMs,
        maxLifetimeMs: o.maxLifetimeMs,
        lifetimeJitter: 0.1,
        connectTimeoutMs: o.connectTimeoutMs,
        acquireTimeoutMs: o.acquireTimeoutMs,
        maxWaiting: o.maxWaiting,
        // A refused connect is retried for the next request soon, not after seconds.
        createRetry: { initialDelayMs: 10, maxDelayMs: 1_000 },
        breaker: o.breaker === false ? false : { name: this.origin.key, ...o.breaker },
        allowExitOnIdle: o.allowExitOnIdle,
        name: `${this.#name} ${this.origin.key}`,
        clock: o.clock,
      },
    };
  }

  /** Binds the manager to the pool made from its {@link OriginManager.spec}. */
  attach(pool: SharedManagedPool<Connection, OriginManager>): void {
    this.pool = pool;
  }

  async connect(signal: AbortSignal): Promise<Connection> {
    const conn = await openConnection(this.#env, signal, this.#agentWaiting > 0);
    this.#conns.add(conn);
    return conn;
  }

  close(conn: Connection): Promise<void> {
    this.#conns.delete(conn);
    return conn.destroy();
  }

  /** Its socket closed and none replaced it (or it was destroyed). */
  isBroken(conn: Connection): boolean {
    return conn.closed !== undefined;
  }

  // With `allowExitOnIdle` only: while busy, whoever speaks on the socket (undici, Node's
  // client) refs it too; these keep an idle connection from holding the process.
  ref(conn: Connection): void {
    conn.socket.ref();
  }

  unref(conn: Connection): void {
    conn.socket.unref();
  }

  /**
   * A connection for Node's HTTP client, leased to the caller alone: an HTTP/1.1 one, or an
   * idle HTTP/2 session that the caller may close and reopen as HTTP/1.1. An HTTP/2 session
   * serving other requests is passed over (it takes no new streams until this returns, so
   * that it is not offered again) and stays as it is.
   * @throws whatever `pool.acquire` throws.
   */
  async acquireForNode(signal: AbortSignal): Promise<Lease<Connection>> {
    const passed: Connection[] = [];
    this.#agentWaiting++;
    try {
      for (;;) {
        const lease = this.pool.tryAcquire() ?? (await this.pool.acquire({ signal }));
        const conn = lease.value;
        if (!conn.h2) return lease;
        const shared = leasesOf(lease) > 1;
        this.pool.setLeaseLimit(conn, 1);
        if (!shared) return lease;
        passed.push(conn);
        lease.release();
      }
    } finally {
      this.#agentWaiting--;
      for (const conn of passed) {
        if (conn.h2 && !conn.destroyed) {
          const limit = this.options.maxConcurrentStreams;
          this.pool.setLeaseLimit(conn, Math.min(conn.serverStreams ?? limit, limit));
        }
      }
    }
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
    const opened = p.created + this.reopened;
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
      opened,
      closed: p.destroyed + this.reopened,
      reuseRate: this.requests === 0 ? 0 : Math.max(0, (this.requests - opened) / this.requests),
      requestsPerConnection: opened === 0 ? 0 : this.requests / opened,
      retries: this.retries,
      h2Streams,
      errors: Object.fromEntries(this.errors),
      tlsHandshakes: this.network.sessions.handshakes,
      tlsResumed: this.network.sessions.resumed,
      proxy: this.network.route?.key,
      pool: p,
    };
  }
}

/**
 * How many borrowers share the leased resource. The pool does not say; its lease carries
 * its record of the resource, whose `leases` count is read here. Unknown counts as shared.
 */
function leasesOf(lease: Lease<Connection>): number {
  const n = (lease.slot as { leases?: unknown } | null)?.leases;
  return typeof n === 'number' ? n : Number.POSITIVE_INFINITY;
}
