// The server half of the stream framing, on a `ws` server: sessions keyed by the id in
// each HELLO, kept for `sessionTtlMs` after their socket is lost so that a client that
// reconnects resumes its streams (ACKs, then a replay of what was not acknowledged).
import type { IncomingMessage } from 'node:http';
import type { WebSocket, WebSocketServer } from 'ws';
import { type Clock, realClock, type TimerHandle } from '../internal/clock.js';
import { describe } from '../internal/errors.js';
import {
  checkFn,
  checkInt,
  checkKeys,
  checkMs,
  checkObject,
  optionKeys,
} from '../internal/options.js';
import { WsError } from './errors.js';
import { decode, encodeReset, encodeWelcome, type Frame, HELLO, OPEN } from './frame.js';
import { SendQueue } from './send-queue.js';
import { Session } from './session.js';
import { WsStream } from './stream.js';

/**
 * What `onStream` of {@link acceptWsStreams} is told besides the stream.
 * @example
 * onStream: (stream, { request }) => authorize(request.headers) || stream.reset('forbidden')
 */
export interface WsStreamInfo {
  /** The session's id (hex), the same across the client's reconnections. */
  session: string;
  /** The HTTP request of the socket that opened the stream. */
  request: IncomingMessage;
}

/**
 * Options of {@link acceptWsStreams}.
 * @example
 * acceptWsStreams(wss, { onStream: (s) => s.messages().pipeTo(s.writable()), sessionTtlMs: 30_000 });
 */
export interface WsStreamServerOptions {
  /** Called for each stream a client opens. A throw (or a rejected promise) resets that stream. */
  onStream: (stream: WsStream, info: WsStreamInfo) => void | Promise<void>;
  /** The largest window a client may ask for; an OPEN above it is reset. @default 4_096 */
  maxWindow?: number;
  /**
   * How long a session outlives its socket, waiting for the client to reconnect and
   * resume; then its streams are reset. @default 60_000 ms
   */
  sessionTtlMs?: number;
  /** Bound of what waits to go out on one socket, in bytes. @default 1_048_576 */
  maxBufferedBytes?: number;
  /** Source of time for the session timers. @default the real clock */
  clock?: Clock;
}

const KEYS = optionKeys<WsStreamServerOptions>({
  onStream: 1,
  maxWindow: 1,
  sessionTtlMs: 1,
  maxBufferedBytes: 1,
  clock: 1,
});
const RESOLVED: Promise<void> = Promise.resolve();
const noop = (): void => {};

interface Config {
  onStream: WsStreamServerOptions['onStream'];
  maxWindow: number;
  sessionTtlMs: number;
  maxBufferedBytes: number;
  clock: Clock;
}

class ServerSession extends Session {
  readonly key: string;
  readonly #server: WsStreamServer;
  readonly #config: Config;
  #ws: WebSocket | undefined;
  #request: IncomingMessage | undefined;
  #queue: SendQueue | undefined;
  #ttl: TimerHandle;

  constructor(server: WsStreamServer, key: string, config: Config) {
    super();
    this.#server = server;
    this.key = key;
    this.#config = config;
  }

  attach(ws: WebSocket, request: IncomingMessage, resumed: boolean): void {
    if (this.#ws !== undefined) {
      const old = this.#ws;
      this.detach(old);
      old.terminate();
    }
    this.#config.clock.clearTimeout(this.#ttl);
    this.#ttl = undefined;
    this.#ws = ws;
    this.#request = request;
    const queue = new SendQueue(this.#config.maxBufferedBytes, this.#config.clock, Infinity);
    this.#queue = queue;
    ws.send(encodeWelcome(resumed));
    queue.attach(ws);
    for (const s of this.streams.values()) s.resume();
  }

  detach(ws: WebSocket): void {
    if (ws !== this.#ws) return;
    this.#ws = undefined;
    this.#queue?.close(new WsError('ERR_WS_CLOSED', 'The socket of this session closed'), false);
    this.#queue = undefined;
    // Unref'd: a session waiting for its client must not keep the process alive.
    this.#ttl = this.#config.clock.setTimeout(() => this.expire(), this.#config.sessionTtlMs, true);
  }

  expire(): void {
    this.#config.clock.clearTimeout(this.#ttl);
    this.#ttl = undefined;
    this.failAll(
      new WsError('ERR_WS_STREAM_RESET', 'The client did not come back within sessionTtlMs'),
    );
    this.#server[kForget](this);
  }

  close(): void {
    const ws = this.#ws;
    if (ws !== undefined) {
      this.detach(ws);
      ws.terminate();
    }
    this.expire();
  }

  transmit(frame: Buffer, reliable: boolean, signal: AbortSignal | undefined): Promise<void> {
    const q = this.#queue;
    if (q === undefined) return RESOLVED;
    const sent = q.send(frame, signal);
    return reliable ? sent.catch(noop) : sent;
  }

  control(frame: Buffer): void {
    this.#queue?.send(frame, undefined).catch(noop);
  }

  protected frame(f: Frame): void {
    if (f.type !== OPEN) {
      this.violation(
        new WsError('ERR_WS_PROTOCOL', `Unexpected frame type ${f.type} from a client`),
      );
      return;
    }
    if (this.streams.has(f.id)) return; // sent again after a reconnection
    if (f.window < 1 || f.window > this.#config.maxWindow) {
      this.control(encodeReset(f.id, `protocol: window ${f.window} above maxWindow`));
      return;
    }
    const s = new WsStream(this, f.id, f.reliable, f.window, f.label);
    this.streams.set(f.id, s);
    const fail = (error: unknown): void =>
      s.reset(error instanceof Error ? error.message : String(error));
    try {
      const r: unknown = this.#config.onStream(s, { session: this.key, request: this.#request! });
      if (r instanceof Promise) r.catch(fail);
    } catch (error) {
      fail(error);
    }
  }

  protected violation(_error: unknown): void {
    this.#ws?.close(1002, 'stream framing violated');
  }
}

const kForget: unique symbol = Symbol('weir.ws.forget');

/**
 * The server half of weir's multiplexed streams, made by {@link acceptWsStreams}. One
 * instance may serve several `ws` servers (`attach`), and keeps sessions across them: a
 * server socket that is restarted, with the same `WsStreamServer`, resumes its clients.
 * Sessions live in this process's memory; a process restart loses them.
 */
export class WsStreamServer {
  readonly #config: Config;
  readonly #sessions = new Map<string, ServerSession>();
  readonly #servers = new Map<WebSocketServer, (ws: WebSocket, req: IncomingMessage) => void>();
  #closed = false;

  /** @internal Use {@link acceptWsStreams}. */
  constructor(options: WsStreamServerOptions) {
    checkObject('options', options);
    checkKeys('acceptWsStreams', options, KEYS);
    if (options === undefined) throw new TypeError('Expected `options` with `onStream`');
    const clock = options.clock ?? realClock;
    if (typeof clock !== 'object' || clock === null || typeof clock.setTimeout !== 'function') {
      throw new TypeError(`Expected \`clock\` to be a Clock, got ${describe(clock)}`);
    }
    this.#config = {
      onStream: checkFn<Config['onStream']>('onStream', options.onStream, true)!,
      maxWindow: checkInt('maxWindow', options.maxWindow ?? 4_096, 1),
      sessionTtlMs: checkMs('sessionTtlMs', options.sessionTtlMs ?? 60_000, 0),
      maxBufferedBytes: checkInt('maxBufferedBytes', options.maxBufferedBytes ?? 1_048_576, 1),
      clock,
    };
  }

  /** Sessions held now (attached or waiting for their client). */
  get sessions(): number {
    return this.#sessions.size;
  }

  /** Streams open now, over every session. */
  get streams(): number {
    let n = 0;
    for (const s of this.#sessions.values()) n += s.streams.size;
    return n;
  }

  /** Serves the stream framing on the connections of another `ws` server too. */
  attach(wss: WebSocketServer): void {
    if (this.#closed) throw new WsError('ERR_WS_CLOSED', 'This stream server is closed');
    if (this.#servers.has(wss)) return;
    const listener = (ws: WebSocket, req: IncomingMessage): void => this.#accept(ws, req);
    this.#servers.set(wss, listener);
    wss.on('connection', listener);
  }

  /**
   * Stops serving: detaches from every `ws` server, terminates the sockets of its
   * sessions, resets their streams and clears every timer. The `ws` servers stay up.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const [wss, listener] of this.#servers) wss.off('connection', listener);
    this.#servers.clear();
    for (const s of [...this.#sessions.values()]) s.close();
  }

  /** @internal */
  [kForget](session: ServerSession): void {
    if (this.#sessions.get(session.key) === session) this.#sessions.delete(session.key);
  }

  #accept(ws: WebSocket, req: IncomingMessage): void {
    let session: ServerSession | undefined;
    ws.on('error', noop);
    ws.on('message', (data, isBinary) => {
      if (session !== undefined) {
        session.receive(data as Buffer, isBinary);
        return;
      }
      let f: Frame;
      try {
        f = decode(data as Buffer);
      } catch {
        ws.close(1002, 'stream framing violated');
        return;
      }
      if (!isBinary || f.type !== HELLO || this.#closed) {
        ws.close(1002, 'expected a HELLO frame');
        return;
      }
      const key = f.session.toString('hex');
      let s = this.#sessions.get(key);
      const resumed = s !== undefined;
      if (s === undefined) {
        s = new ServerSession(this, key, this.#config);
        this.#sessions.set(key, s);
      }
      session = s;
      s.attach(ws, req, resumed);
    });
    ws.on('close', () => session?.detach(ws));
  }
}

/**
 * Serves weir's multiplexed streams (see docs/ws-streams.md) on the connections of a `ws`
 * server: each stream a client opens is handed to `onStream`.
 * @throws {TypeError|RangeError} for a bad option, naming it.
 * @example
 * const wss = new WebSocketServer({ port: 8080 });
 * acceptWsStreams(wss, {
 *   onStream: async (stream) => {
 *     for await (const m of stream) await stream.write(m); // echo
 *     await stream.end();
 *   },
 * });
 */
export function acceptWsStreams(
  wss: WebSocketServer,
  options: WsStreamServerOptions,
): WsStreamServer {
  const server = new WsStreamServer(options);
  server.attach(wss);
  return server;
}
