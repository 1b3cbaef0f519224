import type { Readable } from 'node:stream';
import { readChunks } from '../internal/web-stream.js';

/**
 * What a request body may be: bytes or a string (sent as is and replayable, so a
 * request with such a body may be retried after a stale keep-alive socket), or a stream
 * read with backpressure: a Node `Readable`, a web `ReadableStream`, a `weir/stream`
 * `Stream`, or any iterable or async iterable of chunks (sent once, never retried).
 */
export type RequestBody =
  | string
  | Uint8Array
  | ArrayBuffer
  | Readable
  | ReadableStream<Uint8Array>
  | AsyncIterable<Uint8Array | string>
  | Iterable<Uint8Array | string>;

/**
 * @internal Checks a request body and puts it in a form undici sends (undici reads
 * iterables and streams itself, pulling only as fast as the socket drains).
 * @throws {TypeError} for anything else.
 */
export function toDispatchBody(
  body: unknown,
): string | Uint8Array | Readable | AsyncIterable<unknown> | Iterable<unknown> | undefined {
  if (body == null) return undefined;
  if (typeof body === 'string' || body instanceof Uint8Array) return body;
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  if (typeof body === 'object') {
    const o = body as Record<symbol, unknown>;
    if (typeof o[Symbol.asyncIterator] === 'function') return body as AsyncIterable<unknown>;
    if (typeof o[Symbol.iterator] === 'function') return body as Iterable<unknown>;
    if (typeof (body as ReadableStream).getReader === 'function') {
      return readChunks(body as ReadableStream<Uint8Array>, false);
    }
  }
  throw new TypeError(
    'Expected `body` to be a string, bytes, a Readable, a ReadableStream or an (async) iterable of chunks',
  );
}

/** @internal The byte length of a replayable body, or undefined for a stream. */
export function knownLength(body: unknown): number | undefined {
  if (typeof body === 'string') return Buffer.byteLength(body);
  if (body instanceof Uint8Array || body instanceof ArrayBuffer) return body.byteLength;
  return undefined;
}
