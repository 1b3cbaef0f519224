import type { Dispatcher } from 'undici';
import { isWeirError } from '../internal/errors.js';
import type { Lease } from '../pool/index.js';
import { type Connection, keepAliveHintMs } from './connection.js';
import { Deadline, timeoutMs } from './deadline.js';
import {
  codeOf,
  HttpError,
  isSocketError,
  isUnprocessed,
  requestError,
  retiredError,
} from './errors.js';
import type { LegacyHandler } from './handler.js';
import type { OriginManager } from './origin-pool.js';
import { absoluteForm, proxyAuthError } from './proxy.js';

/** @internal The methods whose requests weir may send twice (RFC 9110 §9.2.2). */
export const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

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

/**
 * Retries of a request that the server provably never processed (refused unsent, HTTP/2
 * REFUSED_STREAM, above a GOAWAY's last stream id): each goes to another connection, and
 * under a server that keeps sending GOAWAY the next one may go away too. Bounded, so that
 * a server refusing everything fails the request instead of looping.
 */
const MAX_UNPROCESSED_RETRIES = 4;

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
 * on another session when one went away. A request the server provably never processed
 * (see {@link isUnprocessed}) is retried on another connection up to
 * {@link MAX_UNPROCESSED_RETRIES} times, whatever its method.
 *
 * It is the handler undici's Client drives, and drives the caller's handler in turn: the
 * caller sees one `onConnect` (its abort works in every phase) and one outcome, whatever
 * happened underneath. It also keeps the request's headers and body timeouts
 * ({@link Deadline}). A callback of the caller's handler that throws ends the request
 * with that error, as undici does.
 * @internal
 */
export class Exchange implements LegacyHandler {
  readonly #origin: OriginManager;
  readonly #opts: Dispatcher.DispatchOptions;
  readonly #outer: LegacyHandler;
  readonly #headersMs: number | undefined;
  readonly #bodyMs: number | undefined;
  #state = IDLE;
  #lease: Lease<Connection> | null = null;
  #conn: Connection | null = null;
  #started = false;
  #retried = false;
  #socketRetried = false;
  #unprocessedRetries = 0;
  #deadline: Deadline | null = null;
  /** What the caller's own handler threw: reported back to it as is. */
  #thrown: unknown = undefined;
  #acquireAbort: AbortController | null = null;
  #underlyingAbort: ((reason?: unknown) => void) | null = null;
  #abortReason: unknown = undefined;
  #aborted = false;

  /**
   * `headersMs` and `bodyMs` are the request's own timeouts (weir's: Infinity is off),
   * undefined for the origin's. undici's own timeouts are off: `opts` must not set them.
   */
  constructor(
    origin: OriginManager,
    opts: Dispatcher.DispatchOptions,
    outer: LegacyHandler,
    headersMs?: number,
    bodyMs?: number,
  ) {
    this.#origin = origin;
    this.#opts = opts;
    this.#outer = outer;
    this.#headersMs = headersMs;
    this.#bodyMs = bodyMs;
  }

  start(): void {
    this.#origin.requests++;
    // The caller gets its abort at once, so it can cancel while waiting for a connection.
    // (An inline arrow, not a class field: that would be one more allocation per request
    // whether or not the caller has an abort to pass it to.)
    try {
      this.#outer.onConnect?.((reason) => this.#abort(reason));
    } catch (error) {
      this.#thrown = error;
      this.#fail(error);
      return;
    }
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
      const f = this.#origin.forward;
      const opts = f === null ? this.#opts : absoluteForm(this.#opts, f);
      conn.client.dispatch(opts, this as Dispatcher.DispatchHandler);
    } catch (error) {
      this.onError(error as Error);
    }
  }

  // ---- driven by undici's Client --------------------------------------------------

  onConnect(abort: (reason?: unknown) => void): void {
    // undici calls this as it writes the request: the headers timeout starts now.
    this.#underlyingAbort = abort;
    if (this.#aborted) {
      abort(this.#abortReason);
      return;
    }
    if (this.#conn?.h2 && this.#conn.closed !== undefined) {
      // undici is about to write a request it had queued on a session that has since gone
      // away (GOAWAY): refuse it unsent, so that it is retried on another connection.
      abort(retiredError(this.#origin.origin.key));
      return;
    }
    this.#startDeadline();
  }

  onBodySent(): void {
    this.#deadline?.progress();
  }

  onRequestSent(): void {
    this.#deadline?.progress();
  }

  onResponseStarted(): void {
    this.#outer.onResponseStarted?.();
  }

  onHeaders(status: number, raw: Buffer[], resume: () => void, statusText: string): boolean {
    this.#started = true;
    const f = this.#origin.forward;
    if (status === 407 && f !== null) {
      // Only a proxy answers 407: the request never reached the origin.
      this.#thrown = proxyAuthError(f.route.key, this.#origin.origin.key);
      throw this.#thrown;
    }
    // HTTP/1.1 only: each response may renew or drop the server's idle-timeout hint.
    const conn = this.#conn;
    if (conn !== null && !conn.h2 && status >= 200) {
      conn.keepAliveMs = keepAliveHintMs(raw, this.#origin.options.idleTimeoutMs);
      conn.reopens = 0;
    }
    const deadline = this.#deadline;
    let resumeFn = resume;
    if (deadline !== null) {
      if (status >= 200) deadline.body();
      else deadline.progress();
      // The body timeout does not run while the reader holds the body paused.
      resumeFn = () => {
        deadline.paused = false;
        deadline.progress();
        resume();
      };
    }
    try {
      const more = this.#outer.onHeaders?.(status, raw, resumeFn, statusText) ?? true;
      if (deadline !== null) deadline.paused = more === false;
      return more;
    } catch (error) {
      // undici aborts the request with it, and onError hands it back to the caller.
      this.#thrown = error;
      throw error;
    }
  }

  onData(chunk: Buffer): boolean {
    const deadline = this.#deadline;
    if (deadline !== null) deadline.progress();
    try {
      const more = this.#outer.onData?.(chunk) ?? true;
      if (deadline !== null) deadline.paused = more === false;
      return more;
    } catch (error) {
      this.#thrown = error;
      throw error;
    }
  }

  onComplete(trailers: Buffer[] | null): void {
    this.#finish(undefined);
    try {
      this.#outer.onComplete?.(trailers);
    } catch (error) {
      // undici would turn it into onError; it cannot, the request is over for it. A handler
      // that throws here still gets its outcome (undici's retry handler throws to retry).
      this.#outer.onError?.(error as Error);
    }
  }

  onUpgrade(status: number, raw: Buffer[] | string[] | null, socket: unknown): void {
    // The socket now belongs to the caller (CONNECT, WebSocket): it never returns to the pool.
    this.#conn?.handOff();
    this.#finish(new Error('upgraded'));
    this.#outer.onUpgrade?.(status, raw, socket);
  }

  onError(error: Error): void {
    if (this.#state !== SENT) return;
    if (!this.#aborted && !this.#started && this.#thrown === undefined && this.#mayRetry(error)) {
      this.#retry(error);
      return;
    }
    this.#finish(error);
    this.#fail(this.#aborted ? this.#abortReason : error);
  }

  #startDeadline(): void {
    if (this.#deadline === null) {
      const o = this.#origin.options;
      const headersMs = timeoutMs(this.#headersMs, o.headersTimeoutMs);
      const bodyMs = timeoutMs(this.#bodyMs, o.bodyTimeoutMs);
      if (!Number.isFinite(headersMs) && !Number.isFinite(bodyMs)) return;
      this.#deadline = new Deadline(o.clock, this.#origin.origin.key, headersMs, bodyMs, (e) =>
        this.#abort(e),
      );
    }
    this.#deadline.start();
  }

  // ---- outcomes -------------------------------------------------------------------

  #mayRetry(error: unknown): boolean {
    if (isUnprocessed(error)) {
      // The server never saw it (refused unsent, REFUSED_STREAM, above a GOAWAY's last
      // stream): safe for any method, and again if the next connection goes away too.
      if (this.#unprocessedRetries >= MAX_UNPROCESSED_RETRIES) return false;
      // Refused before anything was written: any body, a one-shot stream included (nothing
      // of it was read). A stream the server refused may have had part of its body sent.
      return isWeirError(error, 'ERR_HTTP_CONNECTION_RETIRED') || isReplayable(this.#opts.body);
    }
    // A one-shot body may have been partly sent: it is never replayed.
    if (this.#socketRetried || !isReplayable(this.#opts.body)) return false;
    // An HTTP/2 stream that undici saw end early (reset, closed before its response).
    const h2Stream = this.#conn!.h2 && codeOf(error) === 'UND_ERR_INFO';
    if (!isSocketError(error) && !h2Stream) return false;
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
    const unprocessed = isUnprocessed(error);
    if (unprocessed) this.#unprocessedRetries++;
    else this.#socketRetried = true;
    this.#origin.retries++;
    const conn = this.#conn!;
    if (!conn.h2 && !unprocessed) {
      // HTTP/1.1 keep-alive race: again on this connection, whose Client opens a socket for
      // it. Sent after undici's error callback returns, once it has let go of the failed
      // socket. A request refused unsent goes to another connection instead.
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
    this.#deadline?.stop();
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

  /** Reports the outcome: undici's errors as weir's; the caller's own abort reason or throw as is. */
  #fail(error: unknown): void {
    this.#state = DONE;
    this.#deadline?.stop();
    const mine =
      (this.#aborted && error === this.#abortReason) ||
      (this.#thrown !== undefined && error === this.#thrown);
    const mapped = mine ? error : requestError(this.#origin.origin.key, error);
    this.#origin.countError(mapped);
    this.#outer.onError?.(mapped as Error);
  }
}
