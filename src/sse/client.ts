import { type Clock, realClock } from '../internal/clock.js';
import { describe } from '../internal/errors.js';
import {
  checkFn,
  checkInt,
  checkKeys,
  checkMs,
  checkObject,
  optionKeys,
} from '../internal/options.js';
import { abortReason, checkSignal, onAbort } from '../internal/signals.js';
import { readChunks } from '../internal/web-stream.js';
import { exponentialDelay } from '../resilience/backoff.js';
import { sleep } from '../resilience/sleep.js';
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

/** What {@link connectSse} tells its callbacks about one connection attempt. */
export interface SseAttemptInfo {
  /** The attempt's number: 1 for the first request, then counting every reconnection. */
  attempt: number;
  /** The `Last-Event-ID` the attempt sends ('' for none). */
  lastEventId: string;
}

/** What a `headers` function of {@link connectSse} gets before each request. */
export interface SseHeadersInfo extends SseAttemptInfo {
  /** Aborted when the stream is stopped: pass it on to a token request. */
  signal: AbortSignal;
}

/** What `onReconnect` of {@link connectSse} is told: the coming attempt and its delay. */
export interface SseReconnectInfo extends SseAttemptInfo {
  /** How long the client waits before the attempt, in ms. */
  delayMs: number;
  /** Why the last connection ended: its failure, or undefined when it simply closed. */
  error: unknown;
}

type HeadersFn = (info: SseHeadersInfo) => Record<string, string> | Promise<Record<string, string>>;

/** Request headers, or a function giving them before each request (see {@link connectSse}). */
export type SseHeaders = Record<string, string> | HeadersFn;

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
  /**
   * More request headers (`Authorization`, …), or a function returning them, called before
   * each request (the first and every reconnection), so that a reconnection sends a fresh
   * token. It may be async; it gets the attempt's number, its `Last-Event-ID` and a signal
   * aborted when the stream is stopped. If it throws or rejects, the stream fails with
   * that error (not retried: retry inside it if the token service is flaky).
   */
  headers?: SseHeaders | undefined;
  /** Aborting it ends the iteration with `signal.reason` and aborts the request. */
  signal?: AbortSignal | undefined;
  /** Resume after this id (sent as `Last-Event-ID` on the first request). @default '' */
  lastEventId?: string | undefined;
  /** Reconnection delay until the server sets one with `retry:`. @default 3000 (ms) */
  retryMs?: number | undefined;
  /**
   * Shortest delay before any reconnection, whatever the server's `retry:` says, so that a
   * server answering `retry: 0` and closing cannot make the client spin. `retryMs` and
   * `maxRetryMs` may not be lower.
   * @default 500 (ms, the floor Firefox's EventSource keeps)
   */
  minRetryMs?: number | undefined;
  /** Cap of the backoff on repeated failures. @default 60000 (ms) */
  maxRetryMs?: number | undefined;
  /**
   * Failed attempts in a row (no response, or a broken one) before giving up. A connection
   * that ends without an event is not a failure here, though it lengthens the backoff.
   * @default Infinity
   */
  maxRetries?: number | undefined;
  /**
   * Called when a connection is open (status 200, `text/event-stream`), before its events
   * are read, like `EventSource`'s `open` event; the response's headers can be checked
   * here. The events wait for a returned promise. If it throws or rejects, the stream
   * fails with that error and the connection is closed (not retried).
   */
  onOpen?: ((response: SseFetchResponse, info: SseAttemptInfo) => void | Promise<void>) | undefined;
  /**
   * Called for each failed attempt that will be retried (no response, or the body broke),
   * which the stream itself hides. An error that ends the stream is thrown to its reader
   * instead. If it throws, the stream fails with that error.
   */
  onError?: ((error: unknown, info: SseAttemptInfo) => void) | undefined;
  /**
   * Called when a reconnection is scheduled (after a failure or after the server closed the
   * stream), with the delay before it, like `EventSource`'s `error` event while it
   * reconnects. If it throws, the stream fails with that error.
   */
  onReconnect?: ((info: SseReconnectInfo) => void) | undefined;
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
  minRetryMs: 1,
  maxRetryMs: 1,
  maxRetries: 1,
  onOpen: 1,
  onError: 1,
  onReconnect: 1,
  maxLineLength: 1,
  maxEventLength: 1,
  clock: 1,
  random: 1,
});

/**
 * Connects to a server-sent event stream, as a lazy {@link Stream} of events, like a
 * browser's `EventSource`: it reconnects when the connection ends or breaks, after the
 * server's `retry` delay (never under `minRetryMs`, and growing with jittered exponential
 * backoff, up to `maxRetryMs`, while attempts keep failing or connections keep ending
 * without an event), sending `Last-Event-ID`; it stops for good on HTTP 204. Nothing is
 * requested until the stream is read; stopping the iteration aborts the request.
 *
 * The connection's life is reported through callbacks in the options (`onOpen`,
 * `onError`, `onReconnect`), as the parser reports through `onEvent`: the stream is the
 * events, and the callbacks are set before the first request, so none is missed.
 *
 * @throws the stream fails with `ERR_SSE_STATUS` for a status other than 200 or 204,
 * `ERR_SSE_CONTENT_TYPE` for a response that is not `text/event-stream` (neither retried),
 * `ERR_SSE_RETRIES_EXHAUSTED` after `maxRetries` failed attempts in a row,
 * `ERR_SSE_LINE_TOO_LONG`/`ERR_SSE_EVENT_TOO_LARGE` over a limit, with what a callback or
 * the `headers` function threw, or with `signal.reason`.
 * @throws {TypeError|RangeError} at once for a bad option.
 * @example
 * const feed = connectSse('https://api.example.com/feed', {
 *   signal,
 *   headers: async () => ({ Authorization: `Bearer ${await getToken()}` }),
 *   onReconnect: ({ delayMs }) => log.warn(`feed lost, reconnecting in ${delayMs} ms`),
 * });
 * for await (const e of feed) {
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
  const minRetryMs = checkMs('minRetryMs', options?.minRetryMs ?? 500, 0, false);
  const retryMs = checkMs('retryMs', options?.retryMs ?? 3000, 0, false);
  const maxRetryMs = checkMs('maxRetryMs', options?.maxRetryMs ?? 60_000, 0, false);
  for (const [name, value] of [
    ['retryMs', retryMs],
    ['maxRetryMs', maxRetryMs],
  ] as const) {
    if (value < minRetryMs) {
      throw new RangeError(
        `Expected \`${name}\` to be >= \`minRetryMs\` (${minRetryMs}), got ${value}; lower \`minRetryMs\` to reconnect sooner`,
      );
    }
  }
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
  const onOpen = checkFn<NonNullable<ConnectSseOptions['onOpen']>>(
    'onOpen',
    options?.onOpen,
    false,
  );
  const onError = checkFn<NonNullable<ConnectSseOptions['onError']>>(
    'onError',
    options?.onError,
    false,
  );
  const onReconnect = checkFn<NonNullable<ConnectSseOptions['onReconnect']>>(
    'onReconnect',
    options?.onReconnect,
    false,
  );
  const headersOption = options?.headers;
  let headersFn: HeadersFn | undefined;
  let fixedHeaders: Record<string, string> = {};
  if (typeof headersOption === 'function') headersFn = headersOption;
  else if (headersOption !== undefined) {
    checkObject('headers', headersOption);
    fixedHeaders = { ...headersOption };
  }

  async function* events(): AsyncGenerator<SseEvent> {
    let lastEventId = options?.lastEventId ?? '';
    let retry = retryMs;
    let failures = 0; // failed attempts in a row, for maxRetries
    let empty = 0; // attempts in a row that delivered no event, for the backoff
    let attempt = 0;
    for (;;) {
      if (signal?.aborted) throw abortReason(signal);
      attempt++;
      const info: SseAttemptInfo = { attempt, lastEventId };
      const controller = new AbortController();
      const disposeAbort = onAbort(signal, (reason) => controller.abort(reason));
      let failure: unknown;
      let delivered = false;
      try {
        const headers: Record<string, string> = {
          Accept: 'text/event-stream',
          'Cache-Control': 'no-cache',
          ...(headersFn === undefined
            ? fixedHeaders
            : await headersFrom(headersFn, { ...info, signal: controller.signal })),
        };
        if (lastEventId !== '') headers['Last-Event-ID'] = lastEventId;
        let res: SseFetchResponse | undefined;
        try {
          res = await fetchFn(href, { method: 'GET', headers, signal: controller.signal });
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
          if (onOpen !== undefined) {
            try {
              await untilAborted(onOpen(res, info), controller.signal);
            } catch (error) {
              await discard(res);
              throw error;
            }
          }
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
                delivered = true;
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
        controller.abort(new DOMException('The event stream was closed', 'AbortError'));
      }
      // A connection that delivered nothing did not work, whatever its status said: a
      // server that accepts and closes at once must meet the backoff, as a failure does.
      empty = delivered ? 0 : empty + 1;
      if (failure !== undefined) {
        failures++;
        if (failures > maxRetries) throw new SseRetriesExhaustedError(failures, failure);
        onError?.(failure, info);
      }
      const delayMs = delayFor(retry, empty, minRetryMs, maxRetryMs, random);
      onReconnect?.({ attempt: attempt + 1, lastEventId, delayMs, error: failure });
      await sleep(clock, delayMs, signal);
    }
  }
  return stream(events() as Source<SseEvent>);
}

// The server's delay (never under the floor) for a plain reconnection; after attempts in
// a row that failed or delivered nothing, exponential backoff with "equal jitter" (half
// fixed, half random), so a fleet does not reconnect in step.
function delayFor(
  retry: number,
  strikes: number,
  floor: number,
  cap: number,
  random: () => number,
): number {
  const base = Math.max(retry, floor);
  if (strikes <= 1) return base;
  // A server's retry above the cap is its wish, not backoff: the cap does not shorten it.
  return Math.max(floor, exponentialDelay(strikes, base, 2, Math.max(cap, base), 'equal', random));
}

async function headersFrom(fn: HeadersFn, info: SseHeadersInfo): Promise<Record<string, string>> {
  const headers = await untilAborted(fn(info), info.signal);
  if (typeof headers !== 'object' || headers === null) {
    throw new TypeError(
      `Expected \`headers()\` to return an object of header names to values, got ${describe(headers)}`,
    );
  }
  return headers;
}

// Awaits a user callback's promise, but no longer than until `signal` aborts: stopping the
// stream must not wait on a token service.
function untilAborted<T>(value: T | Promise<T>, signal: AbortSignal): T | Promise<T> {
  if (!(value instanceof Promise)) return value;
  if (signal.aborted) return Promise.reject(abortReason(signal));
  return new Promise<T>((resolve, reject) => {
    const dispose = onAbort(signal, reject);
    value.then(
      (v) => {
        dispose();
        resolve(v);
      },
      (e: unknown) => {
        dispose();
        reject(e);
      },
    );
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
  return readChunks(body as ReadableStream<Uint8Array>, true);
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
