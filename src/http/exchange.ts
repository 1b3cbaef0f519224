import type { Dispatcher } from 'undici';
import { isWeirError } from '../internal/errors.js';
import type { Lease } from '../pool/index.js';
import { type Connection, keepAliveHintMs } from './connection.js';
import { HttpError, isSocketError, requestError } from './errors.js';
import type { LegacyHandler } from './handler.js';
import type { OriginPool } from './origin-pool.js';

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

/** A body that can be sent a second time: absent, a string or bytes (not a stream). */
export function isReplayable(body: unknown): boolean {
  return (
    body == null ||
    typeof body === 'string' ||
    body instanceof Uint8Array ||
    body instanceof ArrayBuffer
  );
}

/** Turns a pool's acquire failure into the error a caller of `weir/http` should see. */
export function acquireError(origin: string, error: unknown): unknown {
  if (isWeirError(error, 'ERR_POOL_CREATE_FAILED') && error.cause instanceof HttpError) {
    return error.cause;
  }
  if (isWeirError(error, 'ERR_POOL_CREATE_TIMEOUT')) {
    return new HttpError(
      'ERR_HTTP_CONNECT_TIMEOUT',
      origin,
      `Timed out connecting to ${origin} (connectTimeoutMs); is the server up and reachable?`,
      error,
    );
  }
  return error;
}

const IDLE = 0;
const ACQUIRING = 1;
const SENT = 2;
const DONE = 3;

/**
 * One request's way through an origin's pool: wait for a connection, send on it, give the
 * connection back when the response ends (or retire it when it broke), and retry once when
 * a keep-alive socket that sat idle or served before turned out to be closed before any
 * response byte arrived (nodejs/node#47130): on HTTP/1.1 on the same connection with a
 * socket opened for the retry (never another idle one, which may be as stale), on HTTP/2
 * on another session when one went away.
 *
 * It is the handler undici's Client drives, and drives the caller's handler in turn: the
 * caller sees one `onConnect` (its abort works in every phase) and one outcome, whatever
 * happened underneath.
 * @internal
 */
export class Exchange implements LegacyHandler {
  readonly #origin: OriginPool;
  readonly #opts: Dispatcher.DispatchOptions;
  readonly #outer: LegacyHandler;
  #state = IDLE;
  #lease: Lease<Connection> | null = null;
  #conn: Connection | null = null;
  #started = false;
  #retried = false;
  #acquireAbort: AbortController | null = null;
  #underlyingAbort: ((reason?: unknown) => void) | null = null;
  #abortReason: unknown = undefined;
  #aborted = false;

  constructor(origin: OriginPool, opts: Dispatcher.DispatchOptions, outer: LegacyHandler) {
    this.#origin = origin;
    this.#opts = opts;
    this.#outer = outer;
  }

  start(): void {
    this.#origin.requests++;
    // The caller gets its abort at once, so it can cancel while waiting for a connection.
    // (An inline arrow, not a class field: that would be one more allocation per request
    // whether or not the caller has an abort to pass it to.)
    this.#outer.onConnect?.((reason) => this.#abort(reason));
    if (this.#aborted) return;
    this.#acquire();
  }

  #abort(reason: unknown): void {
    if (this.#aborted || this.#state === DONE) return;
    this.#aborted = true;
    this.#abortReason = reason ?? new DOMException('The request was aborted', 'AbortError');
    if (this.#state === ACQUIRING) this.#acquireAbort?.abort(this.#abortReason);
    else if (this.#state === SENT) this.#underlyingAbort?.(this.#abortReason);
    else this.#fail(this.#abortReason);
  }

  #acquire(): void {
    this.#state = ACQUIRING;
    // A free connection is taken synchronously and the request dispatched in this call:
    // no promise between the lease and undici, and no AbortController, which only a wait
    // needs (so that an abort removes the waiter from the queue). A retry skips this: it
    // runs inside undici's error callback, before the connection's own close or GOAWAY
    // listeners have run, so the connection that just failed may still look usable.
    if (!this.#retried) {
      const ready = this.#origin.pool.tryAcquire();
      if (ready !== null) {
        this.#onLease(ready);
        return;
      }
    }
    const controller = new AbortController();
    this.#acquireAbort = controller;
    this.#origin.pool.acquire({ signal: controller.signal }).then(
      (lease) => this.#onLease(lease),
      (error: unknown) => {
        if (this.#state !== ACQUIRING) return;
        this.#fail(
          this.#aborted ? this.#abortReason : acquireError(this.#origin.origin.key, error),
        );
      },
    );
  }

  #onLease(lease: Lease<Connection>): void {
    if (this.#state !== ACQUIRING) {
      lease.release();
      return;
    }
    this.#acquireAbort = null;
    const conn = lease.value;
    if (conn.closed !== undefined) {
      // Closed while idle, between the pool's last look and now: replace it.
      lease.destroy(conn.closed);
      this.#acquire();
      return;
    }
    this.#lease = lease;
    this.#conn = conn;
    conn.requests++;
    conn.inFlight++;
    this.#origin.inFlight++;
    this.#send(conn);
  }

  #send(conn: Connection): void {
    this.#state = SENT;
    this.#underlyingAbort = null;
    // Reused unless the Client asks for a socket for this request (and one is opened for it).
    conn.fresh = false;
    try {
      conn.client.dispatch(this.#opts, this as Dispatcher.DispatchHandler);
    } catch (error) {
      this.onError(error as Error);
    }
  }

  // ---- driven by undici's Client --------------------------------------------------

  onConnect(abort: (reason?: unknown) => void): void {
    this.#underlyingAbort = abort;
    if (this.#aborted) abort(this.#abortReason);
  }

  onResponseStarted(): void {
    this.#outer.onResponseStarted?.();
  }

  onHeaders(status: number, raw: Buffer[], resume: () => void, statusText: string): boolean {
    this.#started = true;
    // HTTP/1.1 only: each response may renew or drop the server's idle-timeout hint.
    const conn = this.#conn;
    if (conn !== null && !conn.h2 && status >= 200) {
      conn.keepAliveMs = keepAliveHintMs(raw, this.#origin.options.idleTimeoutMs);
      conn.reopens = 0;
    }
    return this.#outer.onHeaders?.(status, raw, resume, statusText) ?? true;
  }

  onData(chunk: Buffer): boolean {
    return this.#outer.onData?.(chunk) ?? true;
  }

  onComplete(trailers: Buffer[] | null): void {
    this.#finish(undefined);
    this.#outer.onComplete?.(trailers);
  }

  onUpgrade(status: number, raw: Buffer[] | string[] | null, socket: unknown): void {
    // The socket now belongs to the caller (CONNECT, WebSocket): it never returns to the pool.
    this.#conn?.handOff();
    this.#finish(new Error('upgraded'));
    this.#outer.onUpgrade?.(status, raw, socket);
  }

  onError(error: Error): void {
    if (this.#state !== SENT) return;
    if (!this.#aborted && !this.#started && this.#mayRetry(error)) {
      this.#retry(error);
      return;
    }
    this.#finish(error);
    this.#fail(this.#aborted ? this.#abortReason : error);
  }

  // ---- outcomes -------------------------------------------------------------------

  #mayRetry(error: unknown): boolean {
    if (this.#retried) return false;
    // Refused by a closed connection before anything was written: safe for any method and
    // any body, a one-shot stream included (nothing of it was read).
    if (isWeirError(error, 'ERR_HTTP_CONNECTION_RETIRED')) return true;
    // A one-shot body may have been partly sent: it is never replayed.
    if (!isReplayable(this.#opts.body) || !isSocketError(error)) return false;
    const method = (this.#opts.method ?? 'GET').toUpperCase();
    if (!IDEMPOTENT.has(method)) return false;
    // HTTP/1.1: a socket that sat idle or served before may have been closed by the server
    // as the request went out; one opened for this very request that fails is the server's
    // answer. HTTP/2: a GOAWAY or a reset session refuses streams on any session.
    const conn = this.#conn!;
    return conn.h2 || !conn.fresh;
  }

  #retry(error: unknown): void {
    this.#retried = true;
    this.#origin.retries++;
    const conn = this.#conn!;
    if (!conn.h2 && !isWeirError(error, 'ERR_HTTP_CONNECTION_RETIRED')) {
      // HTTP/1.1: again on this connection, whose Client opens a socket for it. Sent after
      // undici's error callback returns, once it has let go of the failed socket.
      queueMicrotask(() => {
        if (this.#state === SENT && this.#conn === conn) this.#send(conn);
      });
      return;
    }
    this.#finish(error);
    this.#acquire();
  }

  /** Gives the connection back: reusable after a clean finish, retired after a broken one. */
  #finish(error: unknown): void {
    const conn = this.#conn;
    const lease = this.#lease;
    if (conn === null || lease === null) return;
    this.#conn = null;
    this.#lease = null;
    this.#state = DONE;
    conn.inFlight--;
    this.#origin.inFlight--;
    // An HTTP/1.1 error leaves the socket in an unknown state (undici resets it); an HTTP/2
    // stream error leaves its session healthy unless the session itself closed.
    if (error === undefined || (conn.h2 && conn.closed === undefined)) {
      if (conn.keepAliveMs === 0 && !conn.h2) {
        // The server closes it now (`Connection: close`, `Keep-Alive: timeout=0`): it must
        // not go back to the pool, where the next request would take it first.
        lease.destroy("closed by the server's Keep-Alive hint");
        return;
      }
      if (conn.keepAliveMs !== undefined && conn.inFlight === 0) {
        this.#origin.retireWhenIdleFor(conn, conn.keepAliveMs);
      }
      lease.release();
    } else {
      lease.destroy(error);
    }
  }

  #fail(error: unknown): void {
    this.#state = DONE;
    const mapped = requestError(this.#origin.origin.key, error);
    this.#origin.countError(mapped);
    this.#outer.onError?.(mapped as Error);
  }
}
