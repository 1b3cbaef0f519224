// One request on an HTTP/2 stream of a node:http2 client session, driving a dispatch
// handler with the callbacks undici's Client would (onConnect, onHeaders, onData,
// onComplete, onError), so that the exchange above cannot tell the carriers apart.
import http2, { type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import type { Dispatcher } from 'undici';
import { HttpError, retiredError } from './errors.js';
import type { LegacyHandler } from './handler.js';

const {
  NGHTTP2_CANCEL,
  NGHTTP2_NO_ERROR,
  HTTP2_HEADER_AUTHORITY,
  HTTP2_HEADER_METHOD,
  HTTP2_HEADER_PATH,
  HTTP2_HEADER_STATUS,
} = http2.constants;

/** HTTP/2 frame type of HEADERS (RFC 9113 §6.2). */
const HEADERS_FRAME = 1;

/**
 * Connection-specific header fields, which HTTP/2 forbids (RFC 9113 §8.2.2): dropped, as
 * undici's own HTTP/2 client does, so that a request written for HTTP/1.1 goes out as is.
 */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
]);

/** What a stream needs of its session. */
export interface StreamOwner {
  readonly session: ClientHttp2Session;
  /** `scheme://host:port`, for messages. */
  readonly originKey: string;
  /** The stream finished (completed, failed or aborted): one fewer in flight. */
  streamDone(request: H2Request): void;
}

/** Not written yet: waiting for its turn on the session, or about to be written. */
const NOT_STARTED = 0;
const OPEN = 1;
const DONE = 2;

const kRequest = Symbol('weir.h2Request');
type TaggedStream = ClientHttp2Stream & { [kRequest]?: H2Request };

/**
 * @internal A request carried on one stream. Its abort works in every phase: before the
 * stream opens (nothing is sent), while the request or the response is on its way and
 * after the headers (RST_STREAM with CANCEL); after the outcome it does nothing.
 * Backpressure both ways: a request body is read only as fast as the stream takes it (its
 * flow-control window), and a handler that returns false pauses the stream, which stops
 * reading it and so stops the window updates the server needs to send more.
 */
export class H2Request {
  readonly #owner: StreamOwner;
  readonly opts: Dispatcher.DispatchOptions;
  readonly #handler: LegacyHandler;
  #state = NOT_STARTED;
  #stream: TaggedStream | null = null;
  /** The stream's HEADERS could not be sent: no RST_STREAM may name it (see below). */
  #unsent = false;
  #trailers: Buffer[] | null = null;
  /** The request body is still being written. */
  #writing = false;
  /** The response headers arrived. */
  #responded = false;

  constructor(owner: StreamOwner, opts: Dispatcher.DispatchOptions, handler: LegacyHandler) {
    this.#owner = owner;
    this.opts = opts;
    this.#handler = handler;
  }

  /**
   * Whether undici would hold this request back while other streams are in flight on the
   * session: a request that may not be retried (not idempotent, or a one-shot body stream)
   * is sent only on a session with nothing else in flight, so that another stream's
   * failure cannot take it down with the session.
   */
  get exclusive(): boolean {
    const o = this.opts;
    const method = o.method ?? 'GET';
    const idempotent = o.idempotent ?? (method === 'GET' || method === 'HEAD');
    return !idempotent || isOneShot(o.body);
  }

  /** True once the request has its outcome (it may still wait in the session's queue). */
  get done(): boolean {
    return this.#state === DONE;
  }

  /**
   * Hands the handler its abort, at once, so that a request waiting in the session's queue
   * can be aborted too. Returns false if the handler aborted (or threw) from onConnect.
   */
  connect(): boolean {
    try {
      this.#handler.onConnect?.((reason) => this.abort(reason));
    } catch (error) {
      this.abort(error);
    }
    return this.#state === NOT_STARTED;
  }

  /** Refuses the request unsent: the session went away before it was written. */
  refuse(): void {
    if (this.#state !== NOT_STARTED) return;
    this.#state = DONE;
    this.#handler.onError?.(retiredError(this.#owner.originKey));
  }

  /** Opens the stream and writes the request. Never throws; failures go to onError. */
  start(): void {
    if (this.#state !== NOT_STARTED) return;
    this.#state = OPEN;
    const o = this.opts;
    if (o.upgrade != null || o.method === 'CONNECT') {
      this.#fail(
        new HttpError(
          'ERR_HTTP_INVALID_REQUEST',
          this.#owner.originKey,
          `An upgrade or CONNECT is not carried over HTTP/2 to ${this.#owner.originKey}; use an HTTP/1.1 connection`,
        ),
      );
      return;
    }
    const body = o.body;
    let stream: TaggedStream;
    try {
      const headers = toH2Headers(o, body);
      // No options object: Node copies and extends it on every call, and the call it makes
      // with one costs a third more than without (measured). Node ends the stream itself
      // for a method whose payload is meaningless (GET, HEAD, DELETE…); others without a
      // body are ended below.
      stream = this.#owner.session.request(headers) as TaggedStream;
    } catch (error) {
      this.#fail(
        new HttpError(
          'ERR_HTTP_INVALID_REQUEST',
          this.#owner.originKey,
          `The request to ${this.#owner.originKey} is malformed for HTTP/2: ${(error as Error).message}`,
          error,
        ),
      );
      return;
    }
    this.#stream = stream;
    stream[kRequest] = this;
    stream.on('response', onResponse);
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('error', onError);
    stream.on('close', onClose);
    stream.on('frameError', onFrameError);
    stream.on('trailers', onTrailers);
    if (body != null) this.#writeBody(stream, body);
    else if (!stream.writableEnded) stream.end();
  }

  /** The caller's (or the exchange's) abort: RST_STREAM CANCEL once the stream is open. */
  abort(reason?: unknown): void {
    if (this.#state === DONE) return;
    const error = reason ?? new DOMException('The request was aborted', 'AbortError');
    if (this.#state === NOT_STARTED) {
      this.#state = DONE;
      this.#handler.onError?.(error as Error);
      return;
    }
    this.#fail(error);
  }

  // ---- request body ------------------------------------------------------------------

  #writeBody(stream: ClientHttp2Stream, body: unknown): void {
    if (typeof body === 'string' || body instanceof Uint8Array) {
      stream.end(body);
      this.#handler.onBodySent?.(body);
      this.#handler.onRequestSent?.();
      return;
    }
    this.#writing = true;
    this.#pump(stream, body).then(
      () => {
        this.#writing = false;
      },
      (error: unknown) => {
        this.#writing = false;
        this.#fail(error);
      },
    );
  }

  async #pump(stream: ClientHttp2Stream, body: unknown): Promise<void> {
    const source = chunksOf(body);
    for await (const chunk of source) {
      if (this.#state !== OPEN || stream.destroyed) return;
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Uint8Array);
      if (buf.byteLength === 0) continue;
      const more = stream.write(buf);
      this.#handler.onBodySent?.(buf);
      if (!more) await drained(stream);
    }
    if (this.#state !== OPEN || stream.destroyed) return;
    stream.end();
    this.#handler.onRequestSent?.();
  }

  // ---- response, from the stream's events ---------------------------------------------

  /** @internal */
  response(headers: http2.IncomingHttpHeaders): void {
    if (this.#state !== OPEN) return;
    this.#responded = true;
    const status = Number(headers[HTTP2_HEADER_STATUS]);
    const stream = this.#stream!;
    let more: boolean;
    try {
      this.#handler.onResponseStarted?.();
      more = this.#handler.onHeaders?.(status, rawOf(headers), resumeOf(stream), '') ?? true;
    } catch (error) {
      this.#fail(error);
      return;
    }
    if (more === false && this.#state === OPEN) stream.pause();
  }

  /** @internal */
  data(chunk: Buffer): void {
    if (this.#state !== OPEN) return;
    let more: boolean;
    try {
      more = this.#handler.onData?.(chunk) ?? true;
    } catch (error) {
      this.#fail(error);
      return;
    }
    if (more === false && this.#state === OPEN) this.#stream!.pause();
  }

  /** @internal */
  trailers(headers: http2.IncomingHttpHeaders): void {
    this.#trailers = rawOf(headers);
  }

  /** @internal The stream's readable side ended. */
  end(): void {
    if (this.#state !== OPEN) return;
    const stream = this.#stream!;
    // Node ends the readable side of a stream its session tore down too (a server that
    // closed the connection): that stream was reset (CANCEL), or never had its response.
    const code = stream.rstCode;
    if (!this.#responded || (code !== undefined && code !== NGHTTP2_NO_ERROR)) {
      this.closed(code);
      return;
    }
    this.#state = DONE;
    // A response that ended before the request body was all sent (the server answered
    // early): the rest is not wanted. RST_STREAM with NO_ERROR says so (RFC 9113 §8.1).
    if (this.#writing && !stream.destroyed) stream.close(NGHTTP2_NO_ERROR);
    this.#owner.streamDone(this);
    try {
      this.#handler.onComplete?.(this.#trailers);
    } catch (error) {
      this.#handler.onError?.(error as Error);
    }
  }

  /** @internal The stream failed (a reset from the server, the session's end). */
  error(error: unknown): void {
    this.#fail(error);
  }

  /** @internal The stream closed: if the request is still open, it ended early. */
  closed(rstCode: number | undefined): void {
    if (this.#state !== OPEN) return;
    this.#fail(
      this.#unsent
        ? retiredError(this.#owner.originKey)
        : new HttpError(
            'ERR_HTTP_SOCKET',
            this.#owner.originKey,
            `The HTTP/2 stream to ${this.#owner.originKey} closed before its response ended (RST_STREAM code ${rstCode ?? 'none'})`,
          ),
    );
  }

  /** @internal A frame of the stream could not be sent. */
  frameError(type: number): void {
    if (type !== HEADERS_FRAME) return;
    // A stream opened just before a GOAWAY arrived: its HEADERS never left, so the server
    // never saw it, and an RST_STREAM naming it would be a protocol error the server
    // answers by resetting every stream it accepted (RFC 9113 §5.1). It is refused unsent
    // here, and left for Node to close.
    this.#unsent = true;
    this.#fail(retiredError(this.#owner.originKey));
  }

  #fail(error: unknown): void {
    if (this.#state === DONE) return;
    const wasOpen = this.#state === OPEN;
    this.#state = DONE;
    const stream = this.#stream;
    if (stream !== null && !stream.destroyed && !this.#unsent) stream.close(NGHTTP2_CANCEL);
    if (wasOpen) this.#owner.streamDone(this);
    this.#handler.onError?.(error as Error);
  }
}

// Shared listeners with the stream as `this`: no closure per request.
function onResponse(this: TaggedStream, headers: http2.IncomingHttpHeaders): void {
  this[kRequest]?.response(headers);
}
function onData(this: TaggedStream, chunk: Buffer): void {
  this[kRequest]?.data(chunk);
}
function onEnd(this: TaggedStream): void {
  this[kRequest]?.end();
}
function onError(this: TaggedStream, error: Error): void {
  this[kRequest]?.error(error);
}
function onClose(this: TaggedStream): void {
  this[kRequest]?.closed(this.rstCode);
}
function onFrameError(this: TaggedStream, type: number): void {
  this[kRequest]?.frameError(type);
}
function onTrailers(this: TaggedStream, headers: http2.IncomingHttpHeaders): void {
  this[kRequest]?.trailers(headers);
}

function resumeOf(stream: ClientHttp2Stream): () => void {
  return () => {
    if (!stream.destroyed) stream.resume();
  };
}

/** A body that can be read once only (a stream or an iterator), not bytes. */
function isOneShot(body: unknown): boolean {
  return body != null && typeof body !== 'string' && !(body instanceof Uint8Array);
}

/** The chunks of a request body that is not bytes: a stream, an (async) iterable, a Blob. */
function chunksOf(body: unknown): AsyncIterable<unknown> | Iterable<unknown> {
  const b = body as Record<PropertyKey, unknown>;
  if (typeof b[Symbol.asyncIterator] === 'function') return body as AsyncIterable<unknown>;
  if (typeof b[Symbol.iterator] === 'function') return body as Iterable<unknown>;
  if (typeof (body as Blob).stream === 'function') {
    return (body as Blob).stream() as unknown as AsyncIterable<unknown>;
  }
  if (body instanceof ArrayBuffer) return [new Uint8Array(body)];
  if (ArrayBuffer.isView(body)) {
    return [new Uint8Array(body.buffer, body.byteOffset, body.byteLength)];
  }
  throw new TypeError(
    'Expected the request body to be a string, bytes, a stream or an (async) iterable of chunks',
  );
}

/** Resolves when the stream can take more, or is gone. */
function drained(stream: ClientHttp2Stream): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = (): void => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
  });
}

/** undici's dispatch headers (an object or a flat list of name/value pairs) for HTTP/2. */
function toH2Headers(o: Dispatcher.DispatchOptions, body: unknown): http2.OutgoingHttpHeaders {
  const out: http2.OutgoingHttpHeaders = {
    [HTTP2_HEADER_METHOD]: o.method ?? 'GET',
    [HTTP2_HEADER_PATH]: o.path,
  };
  const h = o.headers as unknown;
  if (h != null) {
    if (Array.isArray(h)) {
      for (let i = 0; i + 1 < h.length; i += 2) add(out, String(h[i]), h[i + 1]);
    } else if (typeof (h as Iterable<unknown>)[Symbol.iterator] === 'function') {
      for (const pair of h as Iterable<[string, unknown]>) add(out, String(pair[0]), pair[1]);
    } else {
      for (const name in h as Record<string, unknown>) {
        add(out, name, (h as Record<string, unknown>)[name]);
      }
    }
  }
  if (out['content-length'] === undefined) {
    const length =
      typeof body === 'string'
        ? Buffer.byteLength(body)
        : body instanceof Uint8Array
          ? body.byteLength
          : undefined;
    if (length !== undefined) out['content-length'] = length;
  }
  return out;
}

function add(out: http2.OutgoingHttpHeaders, rawName: string, value: unknown): void {
  if (value === undefined || value === null) return;
  const name = rawName.toLowerCase();
  if (HOP_BY_HOP.has(name)) return;
  if (name === 'host') {
    out[HTTP2_HEADER_AUTHORITY] = String(value);
    return;
  }
  // Only `te: trailers` may cross into HTTP/2 (RFC 9113 §8.2.2).
  if (name === 'te' && String(value).toLowerCase() !== 'trailers') return;
  const v = Array.isArray(value) ? value.map(String) : String(value);
  const prev = out[name];
  if (prev === undefined) out[name] = v;
  else out[name] = ([] as string[]).concat(prev as string | string[], v);
}

/**
 * Header names as Buffers, made once: responses repeat a handful of names (`content-type`,
 * `date`, `content-length`…). Bounded, so that a server inventing names cannot grow it.
 * The Buffers are shared between responses; nothing in the Dispatcher contract writes to
 * a raw header.
 */
const names = new Map<string, Buffer>();
const MAX_NAMES = 256;

function nameBuffer(name: string): Buffer {
  let b = names.get(name);
  if (b === undefined) {
    b = Buffer.from(name, 'latin1');
    if (names.size < MAX_NAMES) names.set(name, b);
  }
  return b;
}

/** Node's header object as undici's raw list of name/value Buffers, pseudo-headers left out. */
function rawOf(headers: http2.IncomingHttpHeaders): Buffer[] {
  const raw: Buffer[] = [];
  for (const name in headers) {
    if (name.charCodeAt(0) === 58 /* : */) continue;
    const value = headers[name];
    if (value === undefined) continue;
    const key = nameBuffer(name);
    if (Array.isArray(value)) {
      for (const v of value) raw.push(key, Buffer.from(v, 'latin1'));
    } else {
      raw.push(key, Buffer.from(String(value), 'latin1'));
    }
  }
  return raw;
}
