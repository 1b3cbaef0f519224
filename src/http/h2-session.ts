// An HTTP/2 session carried by node:http2 on a socket the pool opened (TLS with ALPN h2,
// or h2c by prior knowledge), with the dispatch surface of undici's Client, so that one
// pooled connection is one session and its stream limit is its lease count.
import http2, { type ClientHttp2Session } from 'node:http2';
import type { Socket } from 'node:net';
import type { Dispatcher } from 'undici';
import { connectError } from './errors.js';
import { H2Request, type StreamOwner } from './h2-stream.js';
import { toLegacy } from './handler.js';
import type { ResolvedOriginOptions } from './options.js';
import type { Origin } from './origin.js';

/** What the session tells the connection that owns it. */
export interface H2SessionEvents {
  /** The server sent GOAWAY: no new streams; those it accepted finish. */
  onGoaway(code: number, lastStreamId: number): void;
  /** The session closed (its socket closed, an error, or it was destroyed). */
  onClose(error: unknown): void;
  /** The server's SETTINGS changed how many streams it allows at once (after the first). */
  onStreamLimit(limit: number): void;
}

/**
 * @internal One HTTP/2 session on `node:http2`, in place of undici's Client on an HTTP/2
 * socket. undici's HTTP/2 client costs about twice the CPU per request of a bare
 * node:http2 session (bench/RESULTS.md); this one adds little over the session itself.
 *
 * - `ready` resolves on the server's first SETTINGS, so the pool knows the session's stream
 *   limit before it lends it out; later SETTINGS go to `onStreamLimit`.
 * - A GOAWAY without error leaves Node's session to do what RFC 9113 §6.8 asks: the streams
 *   above its last stream id end with REFUSED_STREAM (unprocessed: retried elsewhere by
 *   the exchange, whatever the method), the others finish; requests waiting here are
 *   refused unsent. A GOAWAY with an error code, an error or a closed socket destroys the
 *   session: each stream fails with the session's error (retried only where the exchange's
 *   rules allow).
 * - Like undici, a request that may not be retried (not idempotent, or a one-shot body) is
 *   written only while no other stream is in flight, and waits here until then.
 */
export class H2Session implements StreamOwner {
  readonly session: ClientHttp2Session;
  readonly originKey: string;
  /** Resolves on the server's first SETTINGS; rejects if the session ends before. */
  readonly ready: Promise<void>;
  /** Streams the server allows at once, once its SETTINGS arrived. */
  serverStreams: number | undefined;
  /** Streams open (or opening) on the session. */
  running = 0;
  /** Requests held back until the session has nothing else in flight. */
  readonly #waiting: H2Request[] = [];
  #closed = false;
  #goingAway = false;
  #error: unknown = undefined;
  #closedPromise: Promise<void>;

  constructor(
    origin: Origin,
    options: ResolvedOriginOptions,
    socket: Socket,
    events: H2SessionEvents,
  ) {
    this.originKey = origin.key;
    const host = origin.hostname.includes(':') ? `[${origin.hostname}]` : origin.hostname;
    const session = http2.connect(`${origin.protocol}//${host}:${origin.port}`, {
      createConnection: () => socket,
      // Until the server's SETTINGS say otherwise, nghttp2 holds streams above this back.
      peerMaxConcurrentStreams: options.maxConcurrentStreams,
      settings: { enablePush: false, initialWindowSize: options.initialWindowSize },
    });
    this.session = session;
    let settled = false;
    let markReady: () => void = () => {};
    let markFailed: (e: unknown) => void = () => {};
    this.ready = new Promise<void>((resolve, reject) => {
      markReady = resolve;
      markFailed = reject;
    });
    // Unhandled only if nobody waits on it, which the connection always does.
    this.ready.catch(() => {});
    session.on('remoteSettings', (settings: http2.Settings) => {
      const limit = settings.maxConcurrentStreams;
      if (typeof limit === 'number' && limit >= 1) {
        this.serverStreams = limit;
        if (settled) events.onStreamLimit(limit);
      }
      if (!settled) {
        settled = true;
        markReady();
      }
    });
    session.on('goaway', (code: number, lastStreamId: number) => {
      this.#goingAway = true;
      events.onGoaway(code, lastStreamId);
      this.#refuseWaiting();
    });
    session.on('error', (error: unknown) => {
      this.#error = error;
    });
    this.#closedPromise = new Promise<void>((resolve) => {
      session.once('close', () => {
        this.#closed = true;
        this.#goingAway = true;
        if (!settled) {
          settled = true;
          markFailed(connectError(origin.key, this.#error ?? new Error('the session closed')));
        }
        events.onClose(this.#error ?? true);
        this.#refuseWaiting();
        resolve();
      });
    });
    // The connection window starts at 65,535 bytes whatever SETTINGS say (RFC 9113 §6.9.2);
    // only a WINDOW_UPDATE widens it, which this sends.
    try {
      session.setLocalWindowSize(options.connectionWindowSize);
    } catch {
      // The socket is already gone: the session closes and `ready` rejects.
    }
  }

  /**
   * undici's dispatch: writes the request on a new stream now, or later when it must wait
   * for the session to have nothing else in flight. Always returns true.
   */
  dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const request = new H2Request(this, opts, toLegacy(handler));
    if (!request.connect()) return true;
    if (this.#goingAway) {
      request.refuse();
      return true;
    }
    if (this.#waiting.length > 0 || (this.running > 0 && request.exclusive)) {
      this.#waiting.push(request);
      return true;
    }
    this.running++;
    request.start();
    return true;
  }

  /** @internal A stream finished; a request held back may go now. */
  streamDone(_request: H2Request): void {
    this.running--;
    if (this.running === 0 && this.#waiting.length > 0) queueMicrotask(() => this.#next());
  }

  #next(): void {
    while (this.#waiting.length > 0 && !this.#goingAway) {
      const first = this.#waiting[0]!;
      if (first.done) {
        // Aborted while it waited.
        this.#waiting.shift();
        continue;
      }
      if (this.running > 0 && first.exclusive) return;
      this.#waiting.shift();
      this.running++;
      first.start();
      if (first.exclusive) return;
    }
  }

  #refuseWaiting(): void {
    for (const r of this.#waiting.splice(0)) r.refuse();
  }

  /** Closes the session now: streams in flight fail. Resolves once it closed. Never throws. */
  destroy(): Promise<void> {
    this.#goingAway = true;
    if (!this.#closed) this.session.destroy();
    return this.#closedPromise;
  }
}
