// One resilient WebSocket connection: a socket of `ws` that is replaced when it dies,
// with a heartbeat that notices a half-open socket, reconnection with full-jitter backoff
// drawn by each connection for itself, sends bounded in bytes that queue in order across
// a reconnection, and an inbox that holds what arrives from the moment the socket opens.
import WebSocket from 'ws';
import type { TimerHandle } from '../internal/clock.js';
import { Emitter } from '../internal/emitter.js';
import { TimeoutError } from '../internal/errors.js';
import { abortReason, onAbort } from '../internal/signals.js';
import { type Backoff, exponentialBackoff } from '../resilience/backoff.js';
import type { Pull, Run } from '../stream/pull.js';
import { kOpen } from '../stream/sources.js';
import { type Stream, stream } from '../stream/stream.js';
import { WsError } from './errors.js';
import { Heartbeat } from './heartbeat.js';
import { Inbox, type WsMessage } from './inbox.js';
import { type ResolvedWsOptions, resolveWsOptions, type WsOptions } from './options.js';
import { SendQueue, type WsData } from './send-queue.js';

/**
 * Where a connection is: `connecting` (a handshake in flight, the first or a later one),
 * `open`, `reconnecting` (waiting out the backoff), `closing` (after `close()`), `closed`.
 */
export type WsState = 'connecting' | 'open' | 'reconnecting' | 'closing' | 'closed';

/**
 * Typed events of a {@link WsConnection}; subscribe with `conn.on(name, listener)`.
 * @example
 * conn.on('reconnect', ({ retry, delayMs }) => log.info({ retry, delayMs }, 'ws reconnecting'));
 */
export interface WsConnectionEvents {
  /** The socket opened; `attempt` counts every handshake so far (1 for the first). */
  open: (e: { attempt: number; protocol: string }) => void;
  /**
   * A socket closed. `reconnecting` tells whether another follows; `error` is why it ended
   * when weir knows (a heartbeat or connect timeout, the socket's error, the fatal code).
   */
  close: (e: { code: number; reason: string; reconnecting: boolean; error: unknown }) => void;
  /** A reconnection is scheduled: the `retry`-th in a row, `delayMs` from now. */
  reconnect: (e: { retry: number; delayMs: number; error: unknown }) => void;
  /** The socket reported an error (a close event follows). */
  error: (e: { error: unknown }) => void;
  /** A pong came back, `latencyMs` after its ping. */
  pong: (e: { latencyMs: number }) => void;
}

/**
 * A snapshot returned by {@link WsConnection.stats}.
 * @example
 * const { state, bufferedBytes } = conn.stats();
 */
export interface WsConnectionStats {
  state: WsState;
  /** Handshakes tried, the first included. */
  attempts: number;
  /** Times the connection opened again after losing its socket. */
  reconnects: number;
  messagesIn: number;
  messagesOut: number;
  /** Bytes waiting to go out: the socket's `bufferedAmount` plus weir's queue. */
  bufferedBytes: number;
  /** The part of `bufferedBytes` held by weir (sends made while the socket was away or full). */
  queuedBytes: number;
  /** Sends waiting for room under `maxBufferedBytes`. */
  waitingSends: number;
  /** Messages accepted by `send()` and dropped because the connection closed before they went out. */
  dropped: number;
  /** Bytes of received messages not read yet. */
  inboxBytes: number;
  /** Round trip of the last ping, in ms (-1 before the first pong). */
  latencyMs: number;
}

/** @internal What a multiplexing session plugs into a connection instead of the inbox. */
export interface ConnectionHooks {
  /** The socket opened; `first` writes ahead of anything queued (a greeting). */
  open(first: (frame: Buffer) => void): void;
  message(data: Buffer, isBinary: boolean): void;
  /** The socket was lost; another follows. */
  down(): void;
  /** The connection closed for good. */
  closed(error: unknown): void;
}

/** @internal The send of a connection that carries a session (its public `send` refuses). */
export const kSend: unique symbol = Symbol('weir.ws.send');

const OPEN = WebSocket.OPEN;
const REFUSED = /Unexpected server response: (\d{3})/;
const RESOLVED: Promise<void> = Promise.resolve();

interface OpenWaiter {
  resolve: () => void;
  reject: (e: unknown) => void;
  dispose: () => void;
}

/**
 * A WebSocket connection that stays healthy: made by {@link connectWs}. Read messages with
 * `for await (const m of conn)` or `conn.messages()` (a `weir/stream`); write with
 * `send()` or pipe a stream into `conn.writable()`; close with `close()` or `await using`.
 */
export class WsConnection
  extends Emitter<WsConnectionEvents>
  implements AsyncIterable<WsMessage>, AsyncDisposable
{
  /** The URL it connects to. */
  readonly url: string;
  readonly #o: ResolvedWsOptions;
  readonly #backoff: Backoff;
  readonly #queue: SendQueue;
  readonly #inbox: Inbox;
  readonly #heartbeat: Heartbeat | undefined;
  readonly #hooks: ConnectionHooks | undefined;
  #ws: WebSocket | undefined;
  #state: WsState = 'connecting';
  #wasOpen = false;
  #retry = 0;
  #prevDelay = 0;
  #attempts = 0;
  #opens = 0;
  #messagesIn = 0;
  #connectTimer: TimerHandle;
  #retryTimer: TimerHandle;
  #closeTimer: TimerHandle;
  #lastError: unknown;
  #error: unknown;
  #openWaiters: OpenWaiter[] = [];
  #disposeSignal: () => void = noop;
  readonly #done: Promise<void>;
  #resolveDone!: () => void;

  /** @internal Use {@link connectWs}. */
  constructor(url: string | URL, options?: WsOptions, hooks?: ConnectionHooks, where?: string) {
    super();
    const o = resolveWsOptions(url, options, where);
    this.#o = o;
    this.url = o.url;
    this.#hooks = hooks;
    this.#backoff = exponentialBackoff({
      initialMs: o.reconnectDelayMs,
      maxMs: o.maxReconnectDelayMs,
      jitter: 'full',
    });
    this.#queue = new SendQueue(o.maxBufferedBytes, o.clock, o.sendTimeoutMs);
    this.#inbox = new Inbox(
      o.maxInboxBytes,
      () => this.#readingFull(),
      () => this.#readingRoom(),
    );
    if (Number.isFinite(o.pingIntervalMs)) {
      this.#heartbeat = new Heartbeat(
        o.clock,
        o.pingIntervalMs,
        o.pongTimeoutMs,
        () => this.#ws?.ping(),
        () => this.#dead(),
      );
    }
    this.#done = new Promise<void>((resolve) => {
      this.#resolveDone = resolve;
    });
    const signal = o.signal;
    if (signal?.aborted) {
      this.#state = 'closed';
      this.#error = abortReason(signal);
      this.#queue.close(this.#error, false);
      this.#inbox.end(this.#error);
      this.#resolveDone();
      return;
    }
    this.#disposeSignal = onAbort(signal, (reason) => this.#shutdown(reason, false, 1000, ''));
    try {
      this.#dial();
    } catch (error) {
      // `ws` refuses some options only when the socket is made (a malformed subprotocol).
      this.#disposeSignal();
      throw error;
    }
  }

  /** Where the connection is now. */
  get state(): WsState {
    return this.#state;
  }

  /** The subprotocol the server chose ('' for none, or while not open). */
  get protocol(): string {
    return this.#ws?.protocol ?? '';
  }

  /**
   * Resolves when the connection is open (at once if it is), rejects if it closes first.
   * @throws the connection's failure (`ERR_WS_FATAL_CLOSE`, `ERR_WS_HANDSHAKE_REFUSED`,
   *   `ERR_WS_RETRIES_EXHAUSTED`), `ERR_WS_CLOSED` after `close()`, or the signal's reason.
   * @example
   * await conn.opened({ signal: AbortSignal.timeout(5_000) });
   */
  opened(options?: { signal?: AbortSignal }): Promise<void> {
    if (this.#state === 'open') return RESOLVED;
    if (this.#state === 'closing' || this.#state === 'closed') return Promise.reject(this.#why());
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    return new Promise<void>((resolve, reject) => {
      const w: OpenWaiter = { resolve, reject, dispose: noop };
      w.dispose = onAbort(signal, (reason) => {
        const i = this.#openWaiters.indexOf(w);
        if (i >= 0) this.#openWaiters.splice(i, 1);
        reject(reason);
      });
      this.#openWaiters.push(w);
    });
  }

  /**
   * Sends one message (a string as text, bytes as binary). Resolves once the message is in
   * the socket or in weir's queue, which holds sends in order while the socket is
   * connecting, reconnecting or full; waits while the socket's `bufferedAmount` plus that
   * queue reach `maxBufferedBytes`. A message in the socket when it dies is lost with it:
   * use a stream with `reliable` delivery for what must arrive.
   * @throws `ERR_WS_CLOSED` after `close()` (also for a send still waiting), the failure
   *   that ended the connection, `ERR_WS_SEND_TIMEOUT` after `sendTimeoutMs`, or the
   *   signal's reason.
   * @example
   * for (const m of batch) await conn.send(JSON.stringify(m));
   */
  send(data: WsData, options?: { signal?: AbortSignal }): Promise<void> {
    if (this.#hooks !== undefined) {
      throw new TypeError('This connection carries multiplexed streams: send on a stream');
    }
    return this[kSend](data, options?.signal);
  }

  /** @internal */
  [kSend](data: WsData, signal?: AbortSignal): Promise<void> {
    if (this.#state === 'closing' || this.#state === 'closed') return Promise.reject(this.#why());
    return this.#queue.send(data, signal);
  }

  /**
   * The received messages as a `weir/stream` (text as strings, binary as Buffers). Messages
   * are buffered from the moment the socket opens, across reconnections, up to
   * `maxInboxBytes`; the stream ends after `close()` and fails with the connection's
   * failure. Each message goes to one reader.
   * @example
   * await conn.messages().map((m) => JSON.parse(String(m))).forEach(handle);
   */
  messages(): Stream<WsMessage> {
    return stream(this as AsyncIterable<WsMessage>);
  }

  /** @internal As a `weir/stream` source: buffered messages are pulled without a promise. */
  [kOpen](run: Run): Pull<WsMessage> {
    if (this.#hooks !== undefined) {
      throw new TypeError('This connection carries multiplexed streams: read a stream');
    }
    const inbox = this.#inbox;
    const signal = run.signal;
    return {
      next: () => inbox.tryTake() ?? inbox.next(signal),
      // Stopping early aborts `run.signal`, which takes the pending read out by itself.
      return: noop,
    };
  }

  [Symbol.asyncIterator](): AsyncIterator<WsMessage> {
    if (this.#hooks !== undefined) {
      throw new TypeError('This connection carries multiplexed streams: read a stream');
    }
    const inbox = this.#inbox;
    const owner = {};
    return {
      next: () => inbox.next(undefined, owner),
      return: () => {
        inbox.release(owner);
        return Promise.resolve({ done: true, value: undefined });
      },
    };
  }

  /**
   * A `WritableStream` onto `send()`, for `stream(source).pipeTo(conn.writable())`: each
   * write waits as `send()` does. Closing or aborting it leaves the connection open.
   */
  writable(): WritableStream<WsData> {
    return new WritableStream<WsData>({ write: (chunk) => this.send(chunk) }, { highWaterMark: 1 });
  }

  /** A cheap snapshot of the connection. */
  stats(): WsConnectionStats {
    return {
      state: this.#state,
      attempts: this.#attempts,
      reconnects: Math.max(0, this.#opens - 1),
      messagesIn: this.#messagesIn,
      messagesOut: this.#queue.written,
      bufferedBytes: this.#queue.bufferedBytes,
      queuedBytes: this.#queue.queuedBytes,
      waitingSends: this.#queue.waiting,
      dropped: this.#queue.dropped,
      inboxBytes: this.#inbox.bytes,
      latencyMs: this.#heartbeat?.latencyMs ?? -1,
    };
  }

  /**
   * Closes the connection for good: sends still waiting fail with `ERR_WS_CLOSED`, what is
   * queued goes out first if the socket is open, then the closing handshake, bounded by
   * `closeTimeoutMs` (the socket is destroyed after it). Readers get what is buffered, then
   * the end. Resolves when the socket is gone and every timer cleared; idempotent.
   * @example
   * await conn.close(1001, 'shutting down');
   */
  close(code = 1000, reason = ''): Promise<void> {
    this.#shutdown(
      new WsError('ERR_WS_CLOSED', 'The connection was closed by close()'),
      true,
      code,
      reason,
    );
    return this.#done;
  }

  /** Same as {@link WsConnection.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // ---- the socket ------------------------------------------------------------------

  #dial(): void {
    this.#retryTimer = undefined;
    this.#attempts++;
    this.#state = 'connecting';
    this.#wasOpen = false;
    this.#lastError = undefined;
    const o = this.#o;
    const ws = new WebSocket(o.url, o.protocols, o.client);
    this.#ws = ws;
    ws.on('open', () => this.#onOpen(ws));
    ws.on('message', (data, isBinary) => {
      if (ws === this.#ws) this.#onMessage(data as Buffer, isBinary);
    });
    ws.on('pong', () => {
      if (ws !== this.#ws || this.#heartbeat === undefined) return;
      const latencyMs = this.#heartbeat.pong();
      if (latencyMs >= 0) this.emit('pong', { latencyMs });
    });
    ws.on('error', (error) => {
      if (ws !== this.#ws) return;
      this.#lastError ??= error;
      this.emit('error', { error });
    });
    ws.on('close', (code, reason) => this.#onClose(ws, code, reason.toString()));
    this.#connectTimer = o.clock.setTimeout(() => {
      this.#connectTimer = undefined;
      this.#lastError = new TimeoutError(
        `The WebSocket handshake did not finish within ${o.connectTimeoutMs} ms (connectTimeoutMs)`,
      );
      ws.terminate();
    }, o.connectTimeoutMs);
  }

  #onOpen(ws: WebSocket): void {
    if (ws !== this.#ws) return;
    this.#o.clock.clearTimeout(this.#connectTimer);
    this.#connectTimer = undefined;
    this.#state = 'open';
    this.#wasOpen = true;
    this.#retry = 0;
    this.#prevDelay = 0;
    this.#opens++;
    if (this.#inbox.full) ws.pause();
    else this.#heartbeat?.start();
    this.#hooks?.open((frame) => ws.send(frame));
    this.#queue.attach(ws);
    const waiters = this.#openWaiters;
    this.#openWaiters = [];
    for (const w of waiters) {
      w.dispose();
      w.resolve();
    }
    this.emit('open', { attempt: this.#attempts, protocol: ws.protocol });
  }

  #onMessage(data: Buffer, isBinary: boolean): void {
    this.#messagesIn++;
    if (this.#hooks !== undefined) this.#hooks.message(data, isBinary);
    else this.#inbox.push(isBinary ? data : data.toString(), data.length);
  }

  #readingFull(): void {
    this.#ws?.pause();
    this.#heartbeat?.stop();
  }

  #readingRoom(): void {
    const ws = this.#ws;
    if (ws === undefined) return;
    ws.resume();
    if (this.#state === 'open') this.#heartbeat?.start();
  }

  /** No pong in time: the socket is half-open. */
  #dead(): void {
    const ws = this.#ws;
    if (ws === undefined) return;
    this.#lastError = new TimeoutError(
      `No pong within ${this.#o.pongTimeoutMs} ms (pongTimeoutMs): the connection was half-open`,
    );
    ws.terminate();
  }

  #onClose(ws: WebSocket, code: number, reason: string): void {
    if (ws !== this.#ws) return;
    const o = this.#o;
    this.#ws = undefined;
    o.clock.clearTimeout(this.#connectTimer);
    this.#connectTimer = undefined;
    this.#heartbeat?.stop();
    this.#queue.attach(undefined);
    if (this.#state === 'closing') {
      this.#finish(code, reason);
      return;
    }
    if (this.#state === 'closed') return;
    this.#hooks?.down();
    const cause = this.#lastError;
    const status = this.#wasOpen ? undefined : refusedStatus(cause);
    if (status !== undefined) {
      this.#fail(
        new WsError(
          'ERR_WS_HANDSHAKE_REFUSED',
          `The server refused the WebSocket handshake with HTTP ${status}; not retried`,
          { cause },
        ),
        code,
        reason,
      );
      return;
    }
    if (code !== 1005 && code !== 1006 && o.isFatalClose(code, reason)) {
      this.#fail(
        new WsError(
          'ERR_WS_FATAL_CLOSE',
          `The server closed the connection with code ${code}${reason === '' ? '' : ` (${reason})`}, which is fatal: not reconnecting`,
          { closeCode: code },
        ),
        code,
        reason,
      );
      return;
    }
    const retry = this.#retry + 1;
    if (retry > o.maxRetries) {
      this.#fail(
        new WsError(
          'ERR_WS_RETRIES_EXHAUSTED',
          `The connection could not be reopened after ${o.maxRetries} attempts in a row (maxRetries)`,
          { cause, closeCode: code },
        ),
        code,
        reason,
      );
      return;
    }
    const delayMs = this.#backoff(retry, this.#prevDelay, o.random);
    this.#retry = retry;
    this.#prevDelay = delayMs;
    this.#state = 'reconnecting';
    this.emit('close', { code, reason, reconnecting: true, error: cause });
    this.emit('reconnect', { retry, delayMs, error: cause });
    // The emit may have closed the connection.
    if (this.#state !== 'reconnecting') return;
    this.#retryTimer = o.clock.setTimeout(() => this.#redial(), delayMs);
  }

  #redial(): void {
    try {
      this.#dial();
    } catch (error) {
      this.#ws = undefined;
      this.#fail(error, 1006, '');
    }
  }

  /** The connection ends for good with `error` (no socket is left). */
  #fail(error: unknown, code: number, reason: string): void {
    this.#state = 'closed';
    this.#error = error;
    this.#release(error, error);
    this.emit('close', { code, reason, reconnecting: false, error });
    this.#resolveDone();
  }

  /** `close()` (graceful) or an abort: no more reconnections, the socket closes. */
  #shutdown(error: unknown, graceful: boolean, code: number, reason: string): void {
    if (this.#state === 'closing' || this.#state === 'closed') return;
    this.#state = 'closing';
    this.#error = error;
    const o = this.#o;
    o.clock.clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    o.clock.clearTimeout(this.#connectTimer);
    this.#connectTimer = undefined;
    this.#heartbeat?.stop();
    const ws = this.#ws;
    const flush = graceful && ws !== undefined && ws.readyState === OPEN;
    this.#queue.close(error, flush);
    this.#release(error, graceful ? undefined : error);
    if (ws === undefined) {
      this.#finish(code, reason);
    } else if (flush) {
      ws.close(code, reason);
      this.#closeTimer = o.clock.setTimeout(() => {
        this.#closeTimer = undefined;
        ws.terminate();
      }, o.closeTimeoutMs);
    } else {
      ws.terminate();
    }
  }

  /** Fails or ends everything that waits on the connection. */
  #release(error: unknown, inboxError: unknown): void {
    this.#disposeSignal();
    this.#queue.close(error, false);
    this.#inbox.end(inboxError);
    this.#hooks?.closed(error);
    const waiters = this.#openWaiters;
    this.#openWaiters = [];
    for (const w of waiters) {
      w.dispose();
      w.reject(error);
    }
  }

  #finish(code: number, reason: string): void {
    this.#o.clock.clearTimeout(this.#closeTimer);
    this.#closeTimer = undefined;
    this.#state = 'closed';
    this.emit('close', { code, reason, reconnecting: false, error: undefined });
    this.#resolveDone();
  }

  #why(): unknown {
    return this.#error ?? new WsError('ERR_WS_CLOSED', 'The connection is closed');
  }
}

/**
 * Opens a WebSocket connection that stays healthy: pinged, replaced when it dies, with
 * sends bounded in bytes and messages buffered from the moment it opens. Returns at once;
 * the first handshake is under way (`await conn.opened()` to wait for it).
 * @throws {TypeError|RangeError} for a URL that is not ws(s):// or a bad option, naming it.
 * @example
 * await using conn = connectWs('wss://example.com/feed', { pingIntervalMs: 15_000 });
 * await conn.opened();
 * await conn.send(JSON.stringify({ subscribe: 'prices' }));
 * for await (const message of conn) console.log(String(message));
 */
export function connectWs(url: string | URL, options?: WsOptions): WsConnection {
  return new WsConnection(url, options);
}

function refusedStatus(error: unknown): number | undefined {
  const m = error instanceof Error ? REFUSED.exec(error.message) : null;
  if (m === null) return undefined;
  const status = Number(m[1]);
  return status >= 400 && status < 500 && status !== 408 && status !== 429 ? status : undefined;
}

function noop(): void {}
