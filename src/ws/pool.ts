// A pool of resilient connections to one endpoint on the managed layer: leases for
// request/response work, or, with `streams`, logical streams multiplexed over the
// connections, each placed on the least-loaded one.
import type { Clock } from '../internal/clock.js';
import {
  checkInt,
  checkKeys,
  checkObject,
  type KeyList,
  omitKeys,
  optionKeys,
} from '../internal/options.js';
import { PooledClient } from '../managed/client.js';
import { createManagedPool } from '../managed/managed-pool.js';
import type { Manager } from '../managed/manager.js';
import type { ManagedPoolOptions } from '../managed/options.js';
import type { AcquireOptions, Lease, PoolStats } from '../pool/index.js';
import { ClientSession } from './client-session.js';
import { kSend, WsConnection } from './connection.js';
import { WS_OPTION_KEYS, type WsOptions } from './options.js';
import type { WsStream } from './stream.js';

/**
 * Options of the multiplexed streams of a {@link WsPool} (`streams: true` takes the defaults).
 * @example
 * createWsPool({ url, connections: 4, streams: { window: 256 } });
 */
export interface WsStreamsOptions {
  /** Messages a reader may have unread, per stream and direction, before its writer waits. @default 128 */
  window?: number;
}

/**
 * Options of {@link WsPool.openStream}.
 * @example
 * const s = await pool.openStream({ reliable: true, label: 'orders' });
 */
export interface OpenStreamOptions {
  /**
   * At-least-once delivery: messages are numbered, kept until acknowledged and replayed
   * after a reconnection; the receiver drops duplicates, so each side reads every message
   * once, in order, as long as the session survives (the server's `sessionTtlMs`).
   * @default false
   */
  reliable?: boolean;
  /** This stream's window (see {@link WsStreamsOptions.window}). */
  window?: number;
  /** A label the server sees at open (a topic, a method). @default '' */
  label?: string;
  /** Aborts the wait for a first connection. */
  signal?: AbortSignal;
}

/**
 * Options of {@link createWsPool}: the endpoint, how many connections, the options of each
 * connection (`connectWs`'s), and the managed pool's options for leases.
 * @example
 * const options: WsPoolOptions = { url: 'wss://example.com/rpc', connections: 4, pingIntervalMs: 15_000 };
 */
export interface WsPoolOptions
  extends Omit<WsOptions, 'signal'>,
    Pick<
      ManagedPoolOptions,
      | 'name'
      | 'acquireTimeoutMs'
      | 'maxWaiting'
      | 'maxLifetimeMs'
      | 'lifetimeJitter'
      | 'leakDetectionMs'
      | 'breaker'
      | 'createRetry'
    > {
  /** The endpoint, ws:// or wss://. */
  url: string | URL;
  /** Connections kept open (and reopened after one gives up). @default 1 */
  connections?: number;
  /** Carry multiplexed streams instead of plain messages (see {@link WsPool.openStream}). */
  streams?: boolean | WsStreamsOptions;
  /** Source of time for the pool and its connections. @default the real clock */
  clock?: Clock;
}

const POOL_KEYS = optionKeys<WsPoolOptions>({
  ...(omitKeys(WS_OPTION_KEYS, 'signal') as KeyList<Omit<WsOptions, 'signal'>>),
  name: 1,
  acquireTimeoutMs: 1,
  maxWaiting: 1,
  maxLifetimeMs: 1,
  lifetimeJitter: 1,
  leakDetectionMs: 1,
  breaker: 1,
  createRetry: 1,
  url: 1,
  connections: 1,
  streams: 1,
  clock: 1,
});
const OPEN_KEYS = optionKeys<OpenStreamOptions>({ reliable: 1, window: 1, label: 1, signal: 1 });

/**
 * A snapshot returned by {@link WsPool.stats}: the managed pool's counts, plus the
 * connections' own.
 * @example
 * const { open, reconnecting, bufferedBytes } = pool.stats();
 */
export interface WsPoolStats extends PoolStats {
  /** Connections open now. */
  open: number;
  /** Connections between two sockets (connecting again or waiting out the backoff). */
  reconnecting: number;
  /** Bytes waiting to go out, over every connection. */
  bufferedBytes: number;
  /** Totals since the pool was created, closed connections included. */
  messagesIn: number;
  messagesOut: number;
  reconnects: number;
  /** Multiplexed streams open now. */
  streams: number;
}

interface Tracked {
  conn: WsConnection;
  session: ClientSession | undefined;
}

// The pool's own view of its connections, made before the managed pool (which connects its
// `min` connections from its constructor on).
class Fleet {
  readonly live = new Map<WsConnection, Tracked>();
  readonly streams: boolean;
  readonly window: number;
  closedIn = 0;
  closedOut = 0;
  closedReconnects = 0;

  constructor(streams: boolean, window: number) {
    this.streams = streams;
    this.window = window;
  }

  async connect(
    url: string | URL,
    options: Omit<WsOptions, 'signal'>,
    signal: AbortSignal,
    retire: (reason?: unknown) => void,
  ): Promise<WsConnection> {
    const session = this.streams ? new ClientSession() : undefined;
    const conn = new WsConnection(url, options, session, 'createWsPool');
    session?.bind((frame, s) => conn[kSend](frame, s));
    this.live.set(conn, { conn, session });
    conn.on('close', (e) => {
      if (e.reconnecting) return;
      const c = conn.stats();
      this.closedIn += c.messagesIn;
      this.closedOut += c.messagesOut;
      this.closedReconnects += c.reconnects;
      this.live.delete(conn);
      retire(e.error ?? 'closed');
    });
    try {
      await conn.opened({ signal });
    } catch (error) {
      await conn.close();
      throw error;
    }
    return conn;
  }
}

/**
 * A pool of {@link WsConnection}s to one endpoint, on `weir/managed`: `acquire`/`use` lend
 * a connection to one borrower at a time (request/response over it), `openStream` places
 * a logical stream on the least-loaded connection (with `streams`). Made by
 * {@link createWsPool}.
 */
export class WsPool extends PooledClient<WsConnection> {
  readonly #fleet: Fleet;

  /** @internal Use {@link createWsPool}. */
  constructor(options: WsPoolOptions) {
    checkObject('options', options);
    if (options === undefined) throw new TypeError('Expected `options` with a `url`');
    checkKeys('createWsPool', options, POOL_KEYS);
    const {
      url,
      connections = 1,
      streams,
      name = 'ws',
      acquireTimeoutMs,
      maxWaiting,
      maxLifetimeMs,
      lifetimeJitter,
      leakDetectionMs,
      breaker = false,
      createRetry,
      ...wsOptions
    } = options;
    const n = checkInt('connections', connections, 1);
    let window = 128;
    if (streams !== undefined && streams !== false && streams !== true) {
      checkObject('streams', streams);
      checkKeys('createWsPool streams', streams, optionKeys<WsStreamsOptions>({ window: 1 }));
      window = checkInt('streams.window', streams.window ?? 128, 1);
    } else if (streams !== undefined && typeof streams !== 'boolean') {
      throw new TypeError('Expected `streams` to be a boolean or an object');
    }
    // Checks url and the connection options now, not at the first connect.
    new WsConnection(url, { ...wsOptions, signal: AbortSignal.abort() }, undefined, 'createWsPool');
    const managed: ManagedPoolOptions = {
      name,
      min: n,
      max: n,
      breaker,
      // A connection times its own handshakes and reconnects by itself.
      connectTimeoutMs: Number.POSITIVE_INFINITY,
    };
    if (wsOptions.clock !== undefined) managed.clock = wsOptions.clock;
    if (wsOptions.random !== undefined) managed.random = wsOptions.random;
    for (const [k, v] of Object.entries({
      acquireTimeoutMs,
      maxWaiting,
      maxLifetimeMs,
      lifetimeJitter,
      leakDetectionMs,
      createRetry,
    })) {
      if (v !== undefined) (managed as Record<string, unknown>)[k] = v;
    }
    const fleet = new Fleet(streams !== undefined && streams !== false, window);
    const manager: Manager<WsConnection> = {
      connect: (signal, retire) => fleet.connect(url, wsOptions, signal, retire),
      close: (conn) => conn.close(),
      isBroken: (conn) => conn.state === 'closed' || conn.state === 'closing',
    };
    super(createManagedPool(manager, managed));
    this.#fleet = fleet;
  }

  /**
   * Borrows a connection for one borrower (see `ManagedPool.acquire`): `await using lease
   * = await pool.acquire()`. A connection that is reconnecting is lent too: its sends queue.
   * @throws `ERR_POOL_TIMEOUT`, `ERR_POOL_CLOSED`, … as a managed pool does.
   */
  acquire(options?: AcquireOptions): Promise<Lease<WsConnection>> {
    return this.pool.acquire(options);
  }

  /**
   * Runs `fn` with a borrowed connection, and gives it back.
   * @example
   * const reply = await pool.use(async (conn) => { await conn.send('ping'); return conn.messages().first(); });
   */
  use<R>(fn: (conn: WsConnection) => R | Promise<R>, options?: AcquireOptions): Promise<R> {
    return this.pool.use(fn, options);
  }

  /**
   * Opens a logical stream on the connection that carries the fewest streams (then the
   * fewest buffered bytes). Needs a pool created with `streams`.
   * @throws {TypeError} without `streams`; `ERR_POOL_CLOSED` once the pool is closed; the
   *   signal's reason.
   * @example
   * await using s = await pool.openStream({ reliable: true });
   * await s.write('hello');
   */
  async openStream(options?: OpenStreamOptions): Promise<WsStream> {
    if (!this.#fleet.streams) {
      throw new TypeError('openStream() needs a pool created with `streams: true`');
    }
    checkObject('options', options);
    checkKeys('WsPool.openStream', options, OPEN_KEYS);
    const window = checkInt('window', options?.window ?? this.#fleet.window, 1);
    const label = options?.label ?? '';
    if (typeof label !== 'string') throw new TypeError('Expected `label` to be a string');
    let best = this.#leastLoaded();
    if (best === undefined) {
      // None yet: wait for the first connection (a lease waits for its connect).
      const signal = options?.signal;
      (await this.pool.acquire(signal === undefined ? undefined : { signal })).release();
      best = this.#leastLoaded();
    }
    if (best === undefined) throw new TypeError('The pool has no connection to open a stream on');
    return best.session!.openStream(options?.reliable === true, window, label);
  }

  /** The pool's stats, with the connections' counts. */
  override stats(): WsPoolStats {
    const s = super.stats() as WsPoolStats;
    let open = 0;
    let reconnecting = 0;
    let bufferedBytes = 0;
    const fleet = this.#fleet;
    let messagesIn = fleet.closedIn;
    let messagesOut = fleet.closedOut;
    let reconnects = fleet.closedReconnects;
    let streams = 0;
    for (const { conn, session } of fleet.live.values()) {
      const c = conn.stats();
      if (c.state === 'open') open++;
      else if (c.state === 'connecting' || c.state === 'reconnecting') reconnecting++;
      bufferedBytes += c.bufferedBytes;
      messagesIn += c.messagesIn;
      messagesOut += c.messagesOut;
      reconnects += c.reconnects;
      streams += session?.streams.size ?? 0;
    }
    return {
      ...s,
      open,
      reconnecting,
      bufferedBytes,
      messagesIn,
      messagesOut,
      reconnects,
      streams,
    };
  }

  #leastLoaded(): Tracked | undefined {
    let best: Tracked | undefined;
    let bestStreams = Number.POSITIVE_INFINITY;
    let bestBytes = Number.POSITIVE_INFINITY;
    for (const t of this.#fleet.live.values()) {
      const state = t.conn.state;
      if (state === 'closing' || state === 'closed') continue;
      const n = t.session!.streams.size;
      if (n > bestStreams) continue;
      const bytes = t.conn.stats().bufferedBytes;
      if (n < bestStreams || bytes < bestBytes) {
        best = t;
        bestStreams = n;
        bestBytes = bytes;
      }
    }
    return best;
  }
}

/**
 * Creates a pool of `connections` resilient connections to `url` (each as
 * {@link connectWs} makes them), opened at once and reopened when one gives up.
 * @throws {TypeError|RangeError} for a bad URL or option, naming it.
 * @example
 * await using pool = createWsPool({ url: 'ws://127.0.0.1:8080', connections: 4 });
 * const answer = await pool.use(async (conn) => {
 *   await conn.send('time?');
 *   return conn.messages().first();
 * });
 */
export function createWsPool(options: WsPoolOptions): WsPool {
  return new WsPool(options);
}
