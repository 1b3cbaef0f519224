import type { Socket } from 'node:net';
import type { buildConnector } from 'undici';
import { Client } from 'undici';
import type { TimerHandle } from '../internal/clock.js';
import { abortReason, onAbort } from '../internal/signals.js';
import { buildOriginConnector, type Connector, type OriginNetwork } from './connector.js';
import { connectError, HttpError } from './errors.js';
import { goawayError, makeGoawayGraceful, type SessionLike } from './goaway.js';
import { H2Session } from './h2-session.js';
import type { ResolvedOriginOptions } from './options.js';
import type { Origin } from './origin.js';

/**
 * A server's `Keep-Alive: timeout=N` is honoured less this margin, so that the client
 * closes first and never writes a request on a socket the server is closing.
 */
export const KEEP_ALIVE_MARGIN_MS = 1_000;

/**
 * @internal The idle time a response allows its connection: 0 when the server closes it
 * after this response (`Connection: close`, or `Keep-Alive: timeout=N` with N s less
 * {@link KEEP_ALIVE_MARGIN_MS} at most 0, which Node sends for any keep-alive under 1 s),
 * N s less the margin when that is below `idleTimeoutMs`, else undefined (`idleTimeoutMs`
 * applies).
 */
export function keepAliveHintMs(raw: Buffer[], idleTimeoutMs: number): number | undefined {
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    // Compare the length first: most responses carry a handful of headers, and only
    // `connection` and `keep-alive` (if any) are ten bytes long.
    if (name.length !== 10) continue;
    const lower = name.toString('latin1').toLowerCase();
    const value = raw[i + 1]!;
    if (lower === 'keep-alive') {
      const m = /timeout=(\d+)/i.exec(value.toString('latin1'));
      if (m === null) return undefined;
      const ms = Math.max(0, Number(m[1]) * 1000 - KEEP_ALIVE_MARGIN_MS);
      return ms < idleTimeoutMs ? ms : undefined;
    }
    // `keep-alive`, by far the most common value, has ten bytes: skip it unread.
    if (lower === 'connection' && value.length !== 10) {
      if (/(^|[\s,])close($|[\s,])/i.test(value.toString('latin1'))) return 0;
    }
  }
  return undefined;
}

// A counter that moves once per turn of the event loop (in its check phase) after it was
// read: a socket stamped with it and handed out while the stamp is still current was
// opened in the same turn, so it cannot have sat idle, and no close from the server can
// have been waiting for it.
let turn = 0;
let turning = false;
const nextTurn = (): void => {
  turn++;
  turning = false;
};
function stampTurn(): number {
  if (!turning) {
    turning = true;
    setImmediate(nextTurn).unref();
  }
  return turn;
}

/** The parts of an origin's pool that every connection to it shares. */
export interface ConnectionEnv {
  readonly origin: Origin;
  readonly options: ResolvedOriginOptions;
  /** Opens sockets; offers HTTP/2 by ALPN where the options allow it. */
  readonly connector: Connector;
  /** Opens sockets that speak HTTP/1.1 only (for Node's client, and to reopen in place). */
  readonly h1Connector: Connector;
  readonly hooks: ConnectionHooks;
}

/** A connection-level event the owning pool reacts to. */
export interface ConnectionHooks {
  /** The current socket closed (server close, reset, GOAWAY, idle timeout inside undici). */
  onClose(conn: Connection, error: unknown): void;
  /** An HTTP/2 server announced how many streams it allows at once. */
  onStreamLimit(conn: Connection, limit: number): void;
  /** A socket was opened in place of the connection's previous one. */
  onReopen(conn: Connection): void;
}

// Who has the current socket: nobody yet (opened by the pool), undici's Client, or Node's
// HTTP client through the pool's agent.
const NOBODY = 0;
const UNDICI = 1;
const NODE = 2;

/**
 * One pooled connection, which is one unit of the origin's `connections` budget: at most
 * one socket at a time, opened by weir and spoken on by undici's `Client` (HTTP/1.1, and
 * HTTP/2 with `h2Engine: 'undici'`), by a node:http2 session ({@link H2Session}, HTTP/2 by
 * default), or lent to Node's HTTP client by the pool's agent. weir decides when it opens,
 * which requests it serves and when it retires.
 *
 * An HTTP/1.1 connection may open a new socket in place of its current one, never more
 * than one at a time: for a request that the Client holds unsent while the socket closed
 * under it, for the one retry of a request that a server closed a reused socket under, and
 * to switch the connection between undici and Node's client. An HTTP/2 session is not
 * reopened: requests it refuses go to the origin's other connections.
 * @internal
 */
export class Connection {
  /**
   * The protocol engine on the socket: undici's Client, or a node:http2 session
   * (`h2Engine: 'node'`); replaced when an HTTP/2 session becomes HTTP/1.1.
   */
  client: Client | H2Session;
  /** True while the socket speaks HTTP/2 (ALPN or h2c): it serves many requests at once. */
  h2: boolean;
  /** The current socket. */
  socket: Socket;
  /** Set when the current socket closed and none replaced it (the error, or `true`). */
  closed: unknown = undefined;
  /** Requests dispatched on it. */
  requests = 0;
  /** Requests on it that have not finished (undici's, and one lent to Node's client). */
  inFlight = 0;
  /** Streams the HTTP/2 server allows at once, once its SETTINGS arrived. */
  serverStreams: number | undefined;
  /** How long the server's last `Keep-Alive` hint lets it sit idle (0: not at all). */
  keepAliveMs: number | undefined;
  /** Retires the connection when it stays idle for {@link Connection.keepAliveMs}. */
  keepAliveTimer: TimerHandle = undefined;
  /**
   * The request on the current socket is the first it carries, and the socket was opened
   * for it (it never sat idle). A failure there is the server's answer, not the keep-alive
   * race, and is not retried.
   */
  fresh = false;
  /** Sockets opened in place since a response last arrived (a bound against a loop). */
  reopens = 0;
  readonly #env: ConnectionEnv;
  #owner = NOBODY;
  /** Changes with each socket: events of a replaced socket are ignored. */
  #gen = 0;
  /** The socket generation the Client holds. */
  #undiciGen = -1;
  #openedTurn = 0;
  #destroyed = false;
  /** The socket was handed off to the caller (an upgrade): it is not the connection's to close. */
  #handedOff = false;
  /** Gives up on a socket being opened in place (when the connection is destroyed). */
  #abandonOpening: (() => void) | null = null;

  constructor(env: ConnectionEnv, socket: Socket, h2: boolean) {
    this.#env = env;
    this.h2 = h2;
    this.socket = socket;
    this.#attach(socket, h2);
    this.client =
      h2 && env.options.h2Engine === 'node' ? this.#makeSession(socket) : this.#makeClient(h2);
  }

  /**
   * Resolves when the connection can take requests: for a node:http2 session, once the
   * server's first SETTINGS arrived (so its stream limit is known before the pool lends
   * the session out). @throws {HttpError} `ERR_HTTP_CONNECT` if the session ends first.
   */
  ready(): Promise<void> | undefined {
    return this.client instanceof H2Session ? this.client.ready : undefined;
  }

  #makeSession(socket: Socket): H2Session {
    const gen = this.#gen;
    // The session has the socket from now on.
    this.#owner = UNDICI;
    this.#undiciGen = gen;
    const session = new H2Session(this.#env.origin, this.#env.options, socket, {
      onGoaway: (code, lastStreamId) => this.#closedNow(gen, goawayError(code, lastStreamId)),
      onClose: (error) => this.#closedNow(gen, error),
      onStreamLimit: (limit) => {
        if (gen !== this.#gen) return;
        this.serverStreams = limit;
        this.#env.hooks.onStreamLimit(this, limit);
      },
    });
    session.ready.then(() => {
      if (gen === this.#gen) this.serverStreams = session.serverStreams;
    }, noop);
    return session;
  }

  #makeClient(h2: boolean): Client {
    const { origin, options: o } = this.#env;
    const client = new Client(`${origin.protocol}//${hostForUrl(origin.hostname)}:${origin.port}`, {
      // The Client asks for a socket when it has a request to send and none open; it
      // never dials on its own.
      connect: (_options, callback) => this.#connectForUndici(callback),
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
    // An HTTP/1.1 socket's end is seen by the socket's own `close`; an HTTP/2 session may go
    // away (GOAWAY) before its socket closes.
    client.on('disconnect', (_origin, _targets, error) => {
      if (client === this.client && this.h2) this.#closedNow(this.#undiciGen, error ?? true);
    });
    return client;
  }

  /** True once {@link Connection.destroy} was called. */
  get destroyed(): boolean {
    return this.#destroyed;
  }

  /**
   * Lends the socket to Node's HTTP client (the caller holds the connection's only lease):
   * the current socket if Node already used it or nobody did and it speaks HTTP/1.1, else a
   * new HTTP/1.1 socket in its place. A socket that sat idle is handed over only after one
   * turn of the event loop, so that a close the server already sent is seen first.
   * @throws {HttpError} `ERR_HTTP_CONNECT`, `ERR_HTTP_CONNECT_TIMEOUT`, `ERR_HTTP_TLS`, or
   *   `ERR_HTTP_CONNECTION_RETIRED` when the connection was destroyed meanwhile.
   */
  async lendToNode(): Promise<Socket> {
    const s = this.socket;
    if (!s.destroyed && (this.#owner === NODE || (this.#owner === NOBODY && !this.h2))) {
      const sat = this.#owner === NODE || this.#openedTurn !== turn;
      if (sat) await new Promise<void>((resolve) => setImmediate(resolve));
      if (this.#destroyed) throw this.#retired();
      if (s === this.socket && !s.destroyed) {
        this.#owner = NODE;
        this.fresh = !sat;
        s.ref();
        return s;
      }
    }
    const fresh = await this.#reopen();
    this.#owner = NODE;
    this.fresh = true;
    fresh.ref();
    return fresh;
  }

  /** Node's client is done with the socket for now (its response ended with keep-alive). */
  parkFromNode(): void {
    if (this.#env.options.allowExitOnIdle) this.socket.unref();
  }

  /**
   * The socket now belongs to whoever upgraded it (CONNECT, WebSocket): the connection lets
   * go of it without closing it, and is destroyed without it.
   */
  handOff(): void {
    if (this.#handedOff) return;
    this.#handedOff = true;
    this.#gen++;
    // Back to the socket's own unref (see #attach).
    delete (this.socket as { unref?: unknown }).unref;
  }

  /** Closes the connection and its socket; requests still on it fail. Never throws. */
  async destroy(): Promise<void> {
    this.closed ??= true;
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#gen++;
    this.#abandonOpening?.();
    const s = this.socket;
    try {
      await this.client.destroy();
    } catch {
      // Already destroyed: nothing more to free.
    }
    if (this.#handedOff) return;
    // A socket the Client never took (opened by the pool, or lent to Node) is weir's to close.
    s.destroy();
    if (!s.closed) await new Promise((resolve) => s.once('close', resolve));
  }

  // ---- sockets ----------------------------------------------------------------------

  #attach(socket: Socket, h2: boolean): void {
    const gen = ++this.#gen;
    this.socket = socket;
    this.h2 = h2;
    this.closed = undefined;
    this.#owner = NOBODY;
    this.#openedTurn = stampTurn();
    socket.on('error', noop);
    socket.once('close', () => this.#closedNow(gen, true));
    if (!this.#env.options.allowExitOnIdle) {
      // undici unrefs a socket when its Client has nothing to do, and so does the agent: an
      // idle pool is then meant to keep the process alive, as its user asked.
      socket.unref = () => socket;
    } else {
      // Idle until someone takes it; who takes it refs it for as long as it is busy.
      socket.unref();
    }
  }

  #closedNow(gen: number, error: unknown): void {
    if (gen !== this.#gen || this.closed !== undefined) return;
    this.closed = error;
    this.#env.hooks.onClose(this, error);
  }

  #retired(): HttpError {
    const key = this.#env.origin.key;
    return new HttpError(
      'ERR_HTTP_CONNECTION_RETIRED',
      key,
      `The connection to ${key} is closed; the request was not sent`,
    );
  }

  /** undici's connect hook: hands the Client a socket for its next request. */
  #connectForUndici(callback: ConnectCallback): void {
    const s = this.socket;
    if (!this.#destroyed && this.#owner === NOBODY && !s.destroyed) {
      // The socket the pool opened. One that sat idle may have been closed by the server
      // meanwhile: give a close already on its way one turn of the event loop to show
      // (undici does the same before it reuses a socket, but not for its first request).
      const sat = this.#openedTurn !== turn;
      const gen = this.#gen;
      const hand = (): void => {
        if (this.#destroyed || gen !== this.#gen || s.destroyed) {
          this.#reconnect(callback);
          return;
        }
        this.#owner = UNDICI;
        this.#undiciGen = gen;
        this.fresh = !sat;
        s.ref();
        callback(null, s);
        if (this.h2) this.#watchSession(gen);
      };
      // Never within connect() itself: undici expects the callback on a later tick, as a
      // real connect would, or it misses its own resume and the request is never written.
      if (sat) setImmediate(hand);
      else process.nextTick(hand);
      return;
    }
    this.#reconnect(callback);
  }

  /**
   * The Client has a request it has not written and no socket (the last one closed): open
   * one in its place, so the request goes out on a socket that was just opened.
   */
  #reconnect(callback: ConnectCallback): void {
    // Two in a row without a response means the server closes what it accepts: stop there.
    if (this.#destroyed || this.h2 || this.reopens >= 2) {
      process.nextTick(callback, this.#retired(), null);
      return;
    }
    this.reopens++;
    this.#reopen().then(
      (s) => {
        this.#owner = UNDICI;
        this.#undiciGen = this.#gen;
        this.fresh = true;
        s.ref();
        callback(null, s);
      },
      (error: Error) => callback(error, null),
    );
  }

  /** Closes the current socket (if open) and opens an HTTP/1.1 one in its place. */
  #reopen(): Promise<Socket> {
    const { origin, options } = this.#env;
    const old = this.socket;
    // Its close is no news now: the connection lives on with the new socket.
    this.#gen++;
    if (this.#owner === UNDICI && this.h2) {
      // An HTTP/2 session is closed by its engine (undici does not expect its socket to go
      // first); the HTTP/1.1 socket that replaces it gets a Client of its own.
      const session = this.client;
      this.client = this.#makeClient(false);
      session.destroy().catch(noop);
    } else {
      old.destroy();
    }
    return new Promise<Socket>((resolve, reject) => {
      if (this.#destroyed) {
        reject(this.#retired());
        return;
      }
      let settled = false;
      const socket = this.#env.h1Connector(
        connectParams(origin, options),
        (error: Error | null, s: Socket | null) => {
          if (settled) {
            s?.destroy();
            return;
          }
          settled = true;
          this.#abandonOpening = null;
          if (error !== null || s === null) {
            this.closed ??= error ?? true;
            reject(connectError(origin.key, error));
            return;
          }
          this.#attach(s, false);
          this.#env.hooks.onReopen(this);
          resolve(s);
        },
      ) as unknown as Socket;
      this.#abandonOpening = () => {
        this.#abandonOpening = null;
        if (settled) return;
        settled = true;
        socket.destroy();
        reject(this.#retired());
      };
    });
  }

  /**
   * undici does not expose the HTTP/2 session; its server's SETTINGS (how many streams it
   * allows) come from the session it attaches to the socket. Looked up by the symbol's
   * description; if a future undici hides it, the configured `maxConcurrentStreams` stays.
   */
  #watchSession(gen: number): void {
    const socket = this.socket as unknown as Record<symbol, unknown>;
    const key = Object.getOwnPropertySymbols(socket).find(
      (s) => s.description?.toLowerCase() === 'http2session',
    );
    const session = key === undefined ? undefined : (socket[key] as SessionLike | undefined);
    if (session === undefined || typeof session.on !== 'function') return;
    const apply = (settings: { maxConcurrentStreams?: number } | undefined): void => {
      const limit = settings?.maxConcurrentStreams;
      if (gen === this.#gen && typeof limit === 'number' && limit >= 1) {
        this.serverStreams = limit;
        this.#env.hooks.onStreamLimit(this, limit);
      }
    };
    session.on('remoteSettings', apply);
    makeGoawayGraceful(session, (code, lastStreamId) => {
      // Takes no new streams from now on; those the server accepted finish on it.
      this.#closedNow(gen, goawayError(code, lastStreamId));
    });
  }
}

type ConnectCallback = buildConnector.Callback;

/**
 * @internal Builds a socket opener of one origin. The origin's openers share `net`: its
 * DNS cache, TLS sessions and proxy (see connector.ts).
 */
export function makeConnector(
  origin: Origin,
  o: ResolvedOriginOptions,
  offerH2: boolean,
  net: OriginNetwork,
): Connector {
  return buildOriginConnector(origin, o, offerH2, net);
}

function connectParams(origin: Origin, o: ResolvedOriginOptions): buildConnector.Options {
  return {
    hostname: origin.hostname,
    host: `${origin.hostname}:${origin.port}`,
    protocol: origin.protocol,
    port: String(origin.port),
    servername: o.tls.servername ?? null,
  } as unknown as buildConnector.Options;
}

/**
 * Opens a socket to `origin` (TCP, then TLS with ALPN for https) and makes it a connection.
 * With `h1Only`, it offers HTTP/1.1 only (a connection meant for Node's client).
 * @throws {HttpError} `ERR_HTTP_CONNECT`, `ERR_HTTP_CONNECT_TIMEOUT` or `ERR_HTTP_TLS`.
 * @throws the signal's reason when `signal` aborts (the pool's create timeout or close);
 *   the socket being opened is destroyed then.
 */
export function openConnection(
  env: ConnectionEnv,
  signal: AbortSignal,
  h1Only: boolean,
): Promise<Connection> {
  const { origin, options: o } = env;
  return new Promise<Connection>((resolve, reject) => {
    let settled = false;
    let opening: Socket | undefined;
    let aborting: (() => void) | undefined;
    const aborted = (reason: unknown): void => {
      if (settled) return;
      settled = true;
      // Not left to finish on its own: after close() no socket of the pool may stay open.
      if (aborting !== undefined) aborting();
      else opening?.destroy();
      reject(reason);
    };
    if (signal.aborted) return aborted(abortReason(signal));
    const dispose = onAbort(signal, aborted);
    const connector = h1Only ? env.h1Connector : env.connector;
    opening = connector(connectParams(origin, o), (error, socket) => {
      if (settled) {
        // Arrived after the pool gave up on it: nobody may use it.
        socket?.destroy();
        return;
      }
      if (error !== null || socket === null) {
        settled = true;
        dispose();
        reject(connectError(origin.key, error));
        return;
      }
      const s = socket as Socket & { alpnProtocol?: string | false };
      if (!h1Only && o.h2c && origin.protocol === 'http:') s.alpnProtocol = 'h2';
      const conn = new Connection(env, s, s.alpnProtocol === 'h2');
      const ready = conn.ready();
      if (ready === undefined) {
        settled = true;
        dispose();
        resolve(conn);
        return;
      }
      // A node:http2 session: handed out once the server's SETTINGS arrived. An abort
      // meanwhile (the pool's create timeout, its close) destroys it. The socket keeps the
      // process alive until the pool puts the session in its idle set: the pool expects a
      // new connection to hold the process, and nobody but the pool refs this one again.
      s.ref();
      ready.then(
        () => {
          if (settled) return;
          settled = true;
          dispose();
          resolve(conn);
        },
        (e: unknown) => {
          if (settled) return;
          settled = true;
          dispose();
          void conn.destroy();
          reject(e);
        },
      );
      aborting = () => void conn.destroy();
    }) as unknown as Socket;
  });
}

const noop = (): void => {};

function hostForUrl(hostname: string): string {
  return hostname.includes(':') ? `[${hostname}]` : hostname;
}
