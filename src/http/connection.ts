import type { Socket } from 'node:net';
import { buildConnector, Client } from 'undici';
import type { TimerHandle } from '../internal/clock.js';
import { abortReason } from '../internal/signals.js';
import { connectError, HttpError } from './errors.js';
import { goawayError, makeGoawayGraceful, type SessionLike } from './goaway.js';
import type { ResolvedOriginOptions } from './options.js';
import type { Origin } from './origin.js';

let nextId = 0;

/**
 * A server's `Keep-Alive: timeout=N` is honoured less this margin, so that the client
 * closes first and never writes a request on a socket the server is closing.
 */
export const KEEP_ALIVE_MARGIN_MS = 1_000;

/**
 * @internal The idle time a response's `Keep-Alive: timeout=N` header allows (N s less
 * {@link KEEP_ALIVE_MARGIN_MS}, at least 0), or undefined when the response has no such
 * hint or the hint allows at least `idleTimeoutMs`, which then applies.
 */
export function keepAliveHintMs(raw: Buffer[], idleTimeoutMs: number): number | undefined {
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    // Compare the length first: most responses carry a handful of headers and only one,
    // if any, is ten bytes long.
    if (name.length !== 10 || name.toString('latin1').toLowerCase() !== 'keep-alive') continue;
    const m = /timeout=(\d+)/i.exec(raw[i + 1]!.toString('latin1'));
    if (m === null) return undefined;
    const ms = Math.max(0, Number(m[1]) * 1000 - KEEP_ALIVE_MARGIN_MS);
    return ms < idleTimeoutMs ? ms : undefined;
  }
  return undefined;
}

/**
 * One pooled connection: an undici `Client` bound to exactly one socket that weir opened.
 * undici speaks the protocol on it (HTTP/1.1 or HTTP/2); weir decides when it opens, which
 * requests it serves and when it retires. The Client never reconnects on its own: a second
 * connect attempt is refused, so a closed connection is replaced by the pool, where it is
 * counted and bounded.
 */
export class Connection {
  /** Unique per process, for stats and tests. */
  readonly id = ++nextId;
  readonly client: Client;
  /** True when ALPN (or h2c) chose HTTP/2: the connection serves many requests at once. */
  readonly h2: boolean;
  readonly socket: Socket;
  /** Set when the connection closed (the error, or `true`); it is never handed out again. */
  closed: unknown = undefined;
  /** Requests dispatched on it. */
  requests = 0;
  /** Requests on it that have not finished. */
  inFlight = 0;
  /** Streams the HTTP/2 server allows at once, once its SETTINGS arrived. */
  serverStreams: number | undefined;
  /** How long the server's last `Keep-Alive` hint lets it sit idle, if below `idleTimeoutMs`. */
  keepAliveMs: number | undefined;
  /** Retires the connection when it stays idle for {@link Connection.keepAliveMs}. */
  keepAliveTimer: TimerHandle = undefined;

  constructor(client: Client, socket: Socket, h2: boolean) {
    this.client = client;
    this.socket = socket;
    this.h2 = h2;
  }

  /** Closes the connection; requests still on it fail. Never throws. */
  async destroy(): Promise<void> {
    this.closed ??= true;
    try {
      await this.client.destroy();
    } catch {
      // Already destroyed: nothing more to free.
    }
  }
}

/** A connection-level event the owning pool reacts to. */
export interface ConnectionHooks {
  /** The connection closed (server close, reset, GOAWAY, idle timeout inside undici). */
  onClose(conn: Connection, error: unknown): void;
  /** An HTTP/2 server announced how many streams it allows at once. */
  onStreamLimit(conn: Connection, limit: number): void;
}

type Connector = ReturnType<typeof buildConnector>;

/** @internal Builds the socket opener of one origin; it keeps that origin's TLS session cache. */
export function makeConnector(origin: Origin, o: ResolvedOriginOptions): Connector {
  const tls = o.tls;
  return buildConnector({
    ...(tls as Record<string, unknown>),
    rejectUnauthorized: tls.rejectUnauthorized ?? true,
    allowH2: origin.protocol === 'https:' && o.allowH2,
    timeout: o.connectTimeoutMs,
  } as buildConnector.BuildOptions);
}

/**
 * Opens a socket to `origin` (TCP, then TLS with ALPN for https) and wraps it in a Client.
 * @throws {HttpError} `ERR_HTTP_CONNECT`, `ERR_HTTP_CONNECT_TIMEOUT` or `ERR_HTTP_TLS`.
 * @throws the signal's reason when `signal` aborts (the pool's create timeout or close).
 */
export function openConnection(
  origin: Origin,
  o: ResolvedOriginOptions,
  connector: Connector,
  hooks: ConnectionHooks,
  signal: AbortSignal,
): Promise<Connection> {
  return new Promise<Connection>((resolve, reject) => {
    let settled = false;
    const onAbort = (): void => {
      if (settled) return;
      settled = true;
      reject(abortReason(signal));
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    connector(
      {
        hostname: origin.hostname,
        host: `${origin.hostname}:${origin.port}`,
        protocol: origin.protocol,
        port: String(origin.port),
        servername: o.tls.servername ?? null,
      } as unknown as buildConnector.Options,
      (error, socket) => {
        signal.removeEventListener('abort', onAbort);
        if (settled) {
          // Arrived after the pool gave up on it: nobody may use it.
          socket?.destroy();
          return;
        }
        settled = true;
        if (error !== null || socket === null) {
          reject(connectError(origin.key, error));
          return;
        }
        if (o.h2c && origin.protocol === 'http:') {
          (socket as Socket & { alpnProtocol?: string }).alpnProtocol = 'h2';
        }
        resolve(wrap(origin, o, socket as Socket, hooks));
      },
    );
  });
}

function wrap(
  origin: Origin,
  o: ResolvedOriginOptions,
  socket: Socket,
  hooks: ConnectionHooks,
): Connection {
  const h2 = (socket as Socket & { alpnProtocol?: string | false }).alpnProtocol === 'h2';
  let handedOver = false;
  let conn: Connection | undefined;
  const client = new Client(`${origin.protocol}//${hostForUrl(origin.hostname)}:${origin.port}`, {
    // The Client gets the socket weir opened, once. It connects lazily on its first request;
    // a later reconnect (after the socket closed) is refused, and the request that wanted it
    // is retried by weir on a connection from the pool: it was never sent.
    connect: (_options, callback) => {
      // undici expects the callback on a later tick, as a real connect would: called within
      // connect() it would miss the Client's own resume and the request would never be written.
      process.nextTick(() => {
        if (handedOver || socket.destroyed) {
          callback(
            new HttpError(
              'ERR_HTTP_CONNECTION_RETIRED',
              origin.key,
              `The connection to ${origin.key} is closed; the request was not sent`,
            ),
            null,
          );
          return;
        }
        handedOver = true;
        callback(null, socket as never);
        if (h2 && conn !== undefined) watchSession(conn, hooks);
      });
    },
    allowH2: h2,
    // undici caps requests in flight per Client at `pipelining` (1 unless given), HTTP/2
    // included; the pool's lease limit is the real bound, so let the Client take them all.
    pipelining: h2 ? o.maxConcurrentStreams : 1,
    maxConcurrentStreams: o.maxConcurrentStreams,
    keepAliveTimeout: o.idleTimeoutMs,
    // A server's Keep-Alive hint may lower the idle timeout, never raise it.
    keepAliveMaxTimeout: o.idleTimeoutMs,
    keepAliveTimeoutThreshold: KEEP_ALIVE_MARGIN_MS,
    // weir keeps the headers and body timeouts itself, precisely and on the pool's clock
    // (deadline.ts); undici's would fire up to a second late.
    headersTimeout: 0,
    bodyTimeout: 0,
  });
  conn = new Connection(client, socket, h2);
  const c = conn;
  client.on('disconnect', (_origin, _targets, error) => {
    if (c.closed === undefined) c.closed = error ?? true;
    hooks.onClose(c, error);
  });
  // A socket that closes before its first request never reaches the Client's listeners.
  socket.once('close', () => {
    if (!handedOver && c.closed === undefined) {
      c.closed = true;
      hooks.onClose(c, undefined);
    }
  });
  socket.on('error', noop);
  return c;
}

const noop = (): void => {};

function hostForUrl(hostname: string): string {
  return hostname.includes(':') ? `[${hostname}]` : hostname;
}

/**
 * undici does not expose the HTTP/2 session; its server's SETTINGS (how many streams it
 * allows) come from the session it attaches to the socket. Looked up by the symbol's
 * description; if a future undici hides it, the configured `maxConcurrentStreams` stays.
 */
function watchSession(conn: Connection, hooks: ConnectionHooks): void {
  const socket = conn.socket as unknown as Record<symbol, unknown>;
  const key = Object.getOwnPropertySymbols(socket).find(
    (s) => s.description?.toLowerCase() === 'http2session',
  );
  const session = key === undefined ? undefined : (socket[key] as SessionLike | undefined);
  if (session === undefined || typeof session.on !== 'function') return;
  const apply = (settings: { maxConcurrentStreams?: number } | undefined): void => {
    const limit = settings?.maxConcurrentStreams;
    if (typeof limit === 'number' && limit >= 1) {
      conn.serverStreams = limit;
      hooks.onStreamLimit(conn, limit);
    }
  };
  session.on('remoteSettings', apply);
  makeGoawayGraceful(session, (code, lastStreamId) => {
    // Takes no new streams from now on; those the server accepted finish on it.
    conn.closed ??= goawayError(code, lastStreamId);
    hooks.onClose(conn, conn.closed);
  });
}
