import { type Clock, realClock } from '../internal/clock.js';
import {
  checkFn,
  checkInt,
  checkKeys,
  checkMs,
  checkObject,
  optionKeys,
} from '../internal/options.js';
import { abortReason, checkSignal, onAbort } from '../internal/signals.js';
import type { Source } from '../stream/sources.js';
import { type Stream, stream } from '../stream/stream.js';
import { SseResponseError, SseRetriesExhaustedError } from './errors.js';
import { type SseEvent, SseParser, type SseParserOptions } from './parser.js';

/** The part of a fetch `Response` that {@link connectSse} uses. */
export interface SseFetchResponse {
  status: number;
  headers: { get(name: string): string | null };
  body: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array> | null;
}

/**
 * A fetch-compatible function: global `fetch`, undici's `fetch`, or one bound to a pool,
 * such as `(url, init) => undici.fetch(url, { ...init, dispatcher: httpPool })`.
 */
export type SseFetch = (
  url: string,
  init: { method: 'GET'; headers: Record<string, string>; signal: AbortSignal },
) => Promise<SseFetchResponse>;

/** Options of {@link connectSse}. */
export interface ConnectSseOptions {
  /** How to make the request. @default globalThis.fetch */
  fetch?: SseFetch | undefined;
  /**
   * An undici `Dispatcher` to send the request through, such as a `weir/http` pool
   * (`createHttpPool()`): its pooled keep-alive or HTTP/2 connections carry the stream.
   * Uses undici's `fetch`; give either `pool` or `fetch`, not both.
   */
  pool?: object | undefined;
  /** More request headers (`Authorization`, …). */
  headers?: Record<string, string> | undefined;
  /** Aborting it ends the iteration with `signal.reason` and aborts the request. */
  signal?: AbortSignal | undefined;
  /** Resume after this id (sent as `Last-Event-ID` on the first request). @default '' */
  lastEventId?: string | undefined;
  /** Reconnection delay until the server sets one with `retry:`. @default 3000 (ms) */
  retryMs?: number | undefined;
  /** Cap of the backoff on repeated failures. @default 60000 (ms) */
  maxRetryMs?: number | undefined;
  /** Failed attempts in a row (no response, or a broken one) before giving up. @default Infinity */
  maxRetries?: number | undefined;
  /** Longest line, in characters (see {@link SseParserOptions}). @default 1048576 */
  maxLineLength?: number | undefined;
  /** Largest data of one event, in characters. @default 4194304 */
  maxEventLength?: number | undefined;
  /** @default realClock */
  clock?: Clock | undefined;
  /** Source of jitter in [0, 1). @default Math.random */
  random?: (() => number) | undefined;
}

const CONNECT_KEYS = optionKeys<ConnectSseOptions>({
  fetch: 1,
  pool: 1,
  headers: 1,
  signal: 1,
  lastEventId: 1,
  retryMs: 1,
  maxRetryMs: 1,
  maxRetries: 1,
  maxLineLength: 1,
  maxEventLength: 1,
  clock: 1,
  random: 1,
});

/**
 * Connects to a server-sent event stream, as a lazy {@link Stream} of events, like a
 * browser's `EventSource`: it reconnects when the connection ends or breaks, after the
 * server's `retry` delay (growing with jittered exponential backoff while attempts keep
 * failing, up to `maxRetryMs`), sending `Last-Event-ID`; it stops for good on HTTP 204.
 * Nothing is requested until the stream is read; stopping the iteration aborts the
 * request.
 *
 * @throws the stream fails with `ERR_SSE_STATUS` for a status other than 200 or 204,
 * `ERR_SSE_CONTENT_TYPE` for a response that is not `text/event-stream` (neither retried),
 * `ERR_SSE_RETRIES_EXHAUSTED` after `maxRetries` failed attempts in a row,
 * `ERR_SSE_LINE_TOO_LONG`/`ERR_SSE_EVENT_TOO_LARGE` over a limit, or `signal.reason`.
 * @example
 * for await (const e of connectSse('https://api.example.com/feed', { signal })) {
 *   if (e.event === 'price') update(JSON.parse(e.data));
 * }
 */
export function connectSse(url: string | URL, options?: ConnectSseOptions): Stream<SseEvent> {
  checkObject('options', options);
  checkKeys('connectSse', options, CONNECT_KEYS);
  const href = String(url);
  const pool = options?.pool;
  if (pool !== undefined && options?.fetch !== undefined) {
    throw new TypeError('Give connectSse either `pool` or `fetch`, not both');
  }
  if (
    pool !== undefined &&
    (typeof pool !== 'object' || typeof (pool as { dispatch?: unknown }).dispatch !== 'function')
  ) {
    throw new TypeError('Expected `pool` to be an undici Dispatcher such as a weir/http pool');
  }
  const fetchFn =
    checkFn<SseFetch>('fetch', options?.fetch, false) ??
    (pool === undefined ? (globalThis.fetch as SseFetch) : viaDispatcher(pool));
  const signal = checkSignal(options?.signal);
  const retryMs = checkMs('retryMs', options?.retryMs ?? 3000, 0, false);
  const maxRetryMs = checkMs('maxRetryMs', options?.maxRetryMs ?? 60_000, 0, false);
  const maxRetries = checkInt(
    'maxRetries',
    options?.maxRetries ?? Number.POSITIVE_INFINITY,
    0,
    true,
  );
  const maxLineLength = checkInt('maxLineLength', options?.maxLineLength ?? 1024 * 1024, 1);
  const maxEventLength = checkInt('maxEventLength', options?.maxEventLength ?? 4 * 1024 * 1024, 1);
  const clock = options?.clock ?? realClock;
  const random = checkFn<() => number>('random', options?.random, false) ?? Math.random;
  const extra = { ...options?.headers };

  async function* events(): AsyncGenerator<SseEvent> {
    let lastEventId = options?.lastEventId ?? '';
    let retry = retryMs;
    let failures = 0;
    for (;;) {
      if (signal?.aborted) throw abortReason(signal);
      const attempt = new AbortController();
      const disposeAbort = onAbort(signal, (reason) => attempt.abort(reason));
      let failure: unknown;
      try {
        const headers: Record<string, string> = {
          Accept: 'text/event-stream',
          'Cache-Control': 'no-cache',
          ...extra,
        };
        if (lastEventId !== '') headers['Last-Event-ID'] = lastEventId;
        let res: SseFetchResponse | undefined;
        try {
          res = await fetchFn(href, { method: 'GET', headers, signal: attempt.signal });
        } catch (error) {
          if (signal?.aborted) throw abortReason(signal);
          failure = error;
        }
        if (res !== undefined) {
          if (res.status === 204) {
            await discard(res);
            return;
          }
          const type = res.headers.get('content-type');
          if (res.status !== 200 || !isEventStream(type)) {
            await discard(res);
            throw new SseResponseError(
              res.status !== 200 ? 'ERR_SSE_STATUS' : 'ERR_SSE_CONTENT_TYPE',
              href,
              res.status,
              type,
            );
          }
          failures = 0;
          const queue: SseEvent[] = [];
          const parser = new SseParser({
            onEvent: (e) => queue.push(e),
            onRetry: (ms) => {
              retry = ms;
            },
            lastEventId,
            maxLineLength,
            maxEventLength,
          });
          try {
            for await (const chunk of bodyOf(res)) {
              parser.feed(chunk);
              for (const e of queue) {
                lastEventId = e.id;
                yield e;
              }
              queue.length = 0;
              lastEventId = parser.lastEventId;
            }
          } catch (error) {
            if (signal?.aborted) throw abortReason(signal);
            if (
              error instanceof Error &&
              'code' in error &&
              String(error.code).startsWith('ERR_SSE_')
            ) {
              throw error;
            }
            failure = error;
          }
          parser.end();
        }
      } finally {
        disposeAbort();
        // Ends a request whose body is still open (stopped early, or a thrown error).
        attempt.abort(new DOMException('The event stream was closed', 'AbortError'));
      }
      if (failure !== undefined) {
        failures++;
        if (failures > maxRetries) throw new SseRetriesExhaustedError(failures, failure);
      }
      await sleep(delayFor(retry, failures, maxRetryMs, random), clock, signal);
    }
  }
  return stream(events() as Source<SseEvent>);
}

// The server's delay for a plain reconnection; on repeated failures, exponential backoff
// with "equal jitter" (half fixed, half random), so a fleet does not reconnect in step.
function delayFor(retry: number, failures: number, cap: number, random: () => number): number {
  if (failures <= 1) return retry;
  const base = Math.min(cap, Math.max(retry, 1) * 2 ** (failures - 1));
  return base / 2 + random() * (base / 2);
}

function sleep(ms: number, clock: Clock, signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortReason(signal));
      return;
    }
    const timer = clock.setTimeout(() => {
      dispose();
      resolve();
    }, ms);
    const dispose = onAbort(signal, (reason) => {
      clock.clearTimeout(timer);
      reject(reason);
    });
  });
}

function isEventStream(type: string | null): boolean {
  if (type === null) return false;
  return type.split(';', 1)[0]!.trim().toLowerCase() === 'text/event-stream';
}

function bodyOf(res: SseFetchResponse): AsyncIterable<Uint8Array> {
  const body = res.body;
  if (body === null) return (async function* () {})();
  if (Symbol.asyncIterator in body) return body as AsyncIterable<Uint8Array>;
  const rs = body as ReadableStream<Uint8Array>;
  return {
    async *[Symbol.asyncIterator]() {
      const reader = rs.getReader();
      try {
        for (;;) {
          const r = await reader.read();
          if (r.done) return;
          yield r.value;
        }
      } finally {
        reader.cancel().catch(() => {});
        reader.releaseLock();
      }
    },
  };
}

async function discard(res: SseFetchResponse): Promise<void> {
  const body = res.body;
  if (body !== null && typeof (body as ReadableStream).cancel === 'function') {
    await (body as ReadableStream).cancel().catch(() => {});
  }
}

/** undici's `fetch` bound to `dispatcher`; undici is loaded only when a pool is given. */
function viaDispatcher(dispatcher: object): SseFetch {
  let load: Promise<SseFetch> | undefined;
  return async (url, init) => {
    load ??= import('undici').then(
      ({ fetch }) => ((u, i) => fetch(u, { ...i, dispatcher: dispatcher as never })) as SseFetch,
    );
    return (await load)(url, init);
  };
}
