import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerResponse } from 'node:http2';
import { Duplex, type Writable } from 'node:stream';
import {
  type BrotliCompress,
  constants,
  createBrotliCompress,
  createDeflate,
  createGzip,
  type Deflate,
  type Gzip,
} from 'node:zlib';
import { onFirst } from '../internal/events.js';
import { checkKeys, checkObject, optionKeys } from '../internal/options.js';
import { abortReason, checkSignal, onAbort } from '../internal/signals.js';
import type { Source } from '../stream/sources.js';
import { Stream, stream } from '../stream/stream.js';
import { releaseChunk } from './buffer-pool.js';
import { contentTypeOf } from './stringify.js';

/** A compression for {@link writeTo} and {@link toResponse}. */
export type Compression = 'gzip' | 'br' | 'deflate';

/** Options of {@link writeTo}. */
export interface WriteToOptions {
  /**
   * The `Content-Type` header.
   * @default the body's own (`application/json; charset=utf-8` for `jsonArray`,
   * `application/x-ndjson; charset=utf-8` for `ndjson`), else `application/octet-stream`
   */
  contentType?: string | undefined;
  /** Status code, when the headers were not sent yet. @default 200 */
  status?: number | undefined;
  /** More response headers. */
  headers?: Record<string, string | number | readonly string[]> | undefined;
  /**
   * Compress the body and set `Content-Encoding` (and `Vary: Accept-Encoding`). `'auto'`
   * picks brotli, then gzip, from the request's `Accept-Encoding`, and sends it as it is
   * when neither is accepted.
   * @default false
   */
  compress?: Compression | 'auto' | false | undefined;
  /** Aborting it stops the source and destroys the response (the request failed). */
  signal?: AbortSignal | undefined;
}

const WRITE_TO_KEYS = optionKeys<WriteToOptions>({
  contentType: 1,
  status: 1,
  headers: 1,
  compress: 1,
  signal: 1,
});

/** How {@link writeTo} ended: the whole body sent, or the client went away first. */
export type WriteOutcome = 'finished' | 'disconnected';

type NodeResponse = ServerResponse | Http2ServerResponse;

/**
 * Streams `body` (a byte stream, such as {@link jsonArray}'s) into a Node HTTP response:
 * it waits for `'drain'` whenever the response pushes back, gives every chunk back to its
 * {@link BufferPool} when (and only when) its write callback has fired, and optionally
 * compresses.
 *
 * When the client disconnects, the source is stopped at once (its `finally` blocks run)
 * and the promise resolves `'disconnected'`: a routine event, not an error. When the
 * body fails, the response is destroyed rather than ended, so the client sees a broken
 * transfer instead of a truncated `200`, and the promise rejects with the body's error.
 *
 * @throws rejects with the body's error (e.g. `ERR_JSON_ENCODE`), or `signal.reason`.
 * @example
 * http.createServer(async (req, res) => {
 *   await writeTo(res, jsonArray(rows(), { transform: toDto }), { compress: 'auto' });
 * });
 */
export async function writeTo(
  res: NodeResponse,
  body: Source<Uint8Array>,
  options?: WriteToOptions,
): Promise<WriteOutcome> {
  checkObject('options', options);
  checkKeys('writeTo', options, WRITE_TO_KEYS);
  const signal = checkSignal(options?.signal);
  const source = body instanceof Stream ? body : stream(body);
  const encoding = pickEncoding(options?.compress, (res as { req?: IncomingMessage }).req);
  if (signal?.aborted) {
    res.destroy(abortReason(signal) as Error);
    throw abortReason(signal);
  }
  if (!res.headersSent) {
    res.statusCode = options?.status ?? 200;
    res.setHeader(
      'Content-Type',
      options?.contentType ?? contentTypeOf(source) ?? 'application/octet-stream',
    );
    res.setHeader('X-Content-Type-Options', 'nosniff');
    if (encoding !== undefined) {
      res.setHeader('Content-Encoding', encoding);
      res.setHeader('Vary', 'Accept-Encoding');
    }
    for (const [k, v] of Object.entries(options?.headers ?? {})) res.setHeader(k, v);
  }

  const zip = encoding === undefined ? undefined : compressor(encoding);
  const dest = (zip ?? res) as unknown as Writable;
  const resumeZip = (): void => {
    zip?.resume();
  };
  if (zip !== undefined) {
    zip.on('data', (c: Buffer) => {
      if (!(res as unknown as Writable).write(c)) zip.pause();
    });
    res.on('drain', resumeZip);
    zip.on('error', (error) => res.destroy(error));
  }

  // Stops the source when the client goes away or the caller aborts.
  const stop = new AbortController();
  let disconnected = false;
  const onClose = (): void => {
    if (res.writableFinished) return;
    disconnected = true;
    zip?.destroy();
    stop.abort(new DOMException('The client disconnected', 'AbortError'));
  };
  res.on('close', onClose);
  const disposeAbort = onAbort(signal, (reason) => stop.abort(reason));

  const it = source.values({ signal: stop.signal });
  // Bytes written whose callback has not fired yet. A sink that takes writes
  // synchronously (a fast socket) returns true from write() and calls back only on a later
  // tick, so 'drain' alone would let a synchronous source run to its end with every
  // chunk still held; waiting on this count bounds memory and lets buffers be reused.
  let inflight = 0;
  let wake: (() => void) | undefined;
  const limit = Math.max(dest.writableHighWaterMark, 4 * 32 * 1024);
  try {
    for (;;) {
      const r = await it.next();
      if (r.done === true) break;
      const chunk = r.value;
      if (disconnected) break;
      inflight += chunk.length;
      // The chunk's buffer is reused only once the write is complete: after write()
      // returns, the bytes may still wait in the response's buffer.
      const ok = dest.write(chunk, (error) => {
        inflight -= chunk.length;
        if (error == null) releaseChunk(chunk);
        const w = wake;
        wake = undefined;
        w?.();
      });
      if (!ok) await drained(dest, res);
      else if (inflight > limit) {
        await completed(res, (resolve) => {
          wake = resolve;
        });
      }
    }
    if (disconnected) {
      await it.return?.();
      return 'disconnected';
    }
    await finish(res, zip);
    return disconnected ? 'disconnected' : 'finished';
  } catch (error) {
    if (disconnected) return 'disconnected';
    zip?.destroy();
    res.destroy(error instanceof Error ? error : new Error(String(error)));
    throw error;
  } finally {
    res.off('close', onClose);
    res.off('drain', resumeZip);
    disposeAbort();
  }
}

// Waits until `arm`'s callback is called, or the response closes.
function completed(res: NodeResponse, arm: (resolve: () => void) => void): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = (): void => {
      res.off('close', done);
      resolve();
    };
    res.on('close', done);
    arm(done);
  });
}

function drained(dest: Writable, res: NodeResponse): Promise<void> {
  // A disconnect while waiting: the loop sees `disconnected` and stops.
  return new Promise<void>((resolve) => onFirst(dest, 'drain', res, 'close', resolve));
}

function finish(res: NodeResponse, zip: Writable | undefined): Promise<void> {
  return new Promise<void>((resolve) => {
    onFirst(res, 'finish', res, 'close', resolve);
    if (zip === undefined) res.end();
    else {
      zip.once('end', () => res.end());
      zip.end();
    }
  });
}

function pickEncoding(
  compress: WriteToOptions['compress'],
  req: IncomingMessage | undefined,
): Compression | undefined {
  if (compress === undefined || compress === false) return undefined;
  if (compress === 'gzip' || compress === 'br' || compress === 'deflate') return compress;
  if (compress !== 'auto') {
    throw new TypeError(
      `Expected \`compress\` to be 'gzip', 'br', 'deflate', 'auto' or false, got ${String(compress)}`,
    );
  }
  const accept = String(req?.headers['accept-encoding'] ?? '');
  if (/\bbr\b/.test(accept)) return 'br';
  if (/\bgzip\b/.test(accept)) return 'gzip';
  return undefined;
}

function compressor(encoding: Compression): Gzip | BrotliCompress | Deflate {
  if (encoding === 'gzip') return createGzip();
  if (encoding === 'deflate') return createDeflate();
  // Quality 4 streams at gzip-like speed; the default (11) is meant for static files.
  return createBrotliCompress({ params: { [constants.BROTLI_PARAM_QUALITY]: 4 } });
}

/** Options of {@link toResponse}. */
export interface ResponseOptions {
  /** @default the body's own content type (see {@link WriteToOptions.contentType}) */
  contentType?: string | undefined;
  /** @default 200 */
  status?: number | undefined;
  /** More response headers. */
  headers?: Record<string, string> | undefined;
  /** Compress the body and set `Content-Encoding`. @default false */
  compress?: Compression | false | undefined;
}

const RESPONSE_KEYS = optionKeys<ResponseOptions>({
  contentType: 1,
  status: 1,
  headers: 1,
  compress: 1,
});

/**
 * A web `Response` whose body pulls from `body` only as the client reads (backpressure),
 * for servers built on the Fetch API (Hono, Next.js route handlers, `Bun.serve`, Deno).
 * Cancelling the body (a disconnect) stops the source; a failing source errors the body,
 * so the server aborts the transfer instead of completing it. Chunks are not given back
 * to a pool here, since a web stream never says when it is done with one.
 *
 * @throws {TypeError} at once for a bad option.
 * @example
 * export const GET = () => toResponse(jsonArray(listOrders()), { compress: 'gzip' });
 */
export function toResponse(body: Source<Uint8Array>, options?: ResponseOptions): Response {
  checkObject('options', options);
  checkKeys('toResponse', options, RESPONSE_KEYS);
  const source = body instanceof Stream ? body : stream(body);
  const compress = options?.compress ?? false;
  if (compress !== false && compress !== 'gzip' && compress !== 'br' && compress !== 'deflate') {
    throw new TypeError(
      `Expected \`compress\` to be 'gzip', 'br', 'deflate' or false, got ${String(compress)}`,
    );
  }
  let readable = source.toReadableStream() as ReadableStream<Uint8Array>;
  const headers = new Headers(options?.headers);
  headers.set(
    'Content-Type',
    options?.contentType ?? contentTypeOf(source) ?? 'application/octet-stream',
  );
  if (compress !== false) {
    const z = Duplex.toWeb(compressor(compress)) as unknown as {
      readable: ReadableStream<Uint8Array>;
      writable: WritableStream<Uint8Array>;
    };
    readable = readable.pipeThrough(z);
    headers.set('Content-Encoding', compress);
    headers.set('Vary', 'Accept-Encoding');
  }
  return new Response(readable, { status: options?.status ?? 200, headers });
}
