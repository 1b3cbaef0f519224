// The request options and statistics of an HTTP pool, and the view of a pool that
// downloads, uploads and composed views work on: declared apart from the pool itself so
// that those modules do not import the module that imports them.
import type { Dispatcher } from 'undici';
import type { RequestBody } from './body.js';
import type { OriginStats } from './origin-pool.js';
import type { HttpResponse } from './response.js';

/** Options of {@link HttpPool.request}. */
export interface HttpRequestOptions {
  /** @default 'GET' */
  method?: string;
  /** Request headers. */
  headers?: Record<string, string | string[] | undefined> | string[];
  /** The request body; see {@link RequestBody}. */
  body?: RequestBody | null;
  /** Aborts the request in any phase (waiting for a connection, sending, receiving). */
  signal?: AbortSignal;
  /**
   * Overrides the origin's `headersTimeoutMs` for this request: no response headers this
   * long after the request was written fails it with `ERR_HTTP_HEADERS_TIMEOUT`.
   * `Infinity` turns it off. Checked like the pool's options, before a connection is taken.
   */
  headersTimeoutMs?: number;
  /**
   * Overrides the origin's `bodyTimeoutMs` for this request: no body bytes for this long
   * fails it with `ERR_HTTP_BODY_TIMEOUT`. `Infinity` turns it off.
   */
  bodyTimeoutMs?: number;
}

/** Totals over every origin, with each origin's own {@link OriginStats}. */
export interface HttpPoolStats {
  connections: number;
  active: number;
  idle: number;
  inFlight: number;
  queued: number;
  requests: number;
  opened: number;
  /** Share of requests served on an already open connection, 0 to 1. */
  reuseRate: number;
  retries: number;
  errors: Record<string, number>;
  origins: OriginStats[];
}

/** @internal What downloads, uploads and composed views need of a pool. */
export interface Requester {
  request(url: string | URL, options?: HttpRequestOptions): Promise<HttpResponse>;
}

/** @internal What a composed view needs of its pool. */
export type ComposablePool = Dispatcher & Requester & ThroughDispatch;

interface ThroughDispatch {
  requestThrough(
    dispatch: Dispatcher['dispatch'],
    url: string | URL,
    options: HttpRequestOptions | undefined,
  ): Promise<HttpResponse>;
}
