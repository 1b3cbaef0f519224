import type { ConnectionOptions } from 'node:tls';
import type { Clock } from '../internal/clock.js';
import { realClock } from '../internal/clock.js';
import { describe } from '../internal/errors.js';
import {
  checkInt,
  checkKeys,
  checkMs,
  checkObject,
  type KeyList,
  optionKeys,
} from '../internal/options.js';
import { CIRCUIT_BREAKER_KEYS, type CircuitBreakerOptions } from '../resilience/breaker.js';

/** TLS settings of an https origin; passed to `tls.connect`. */
export interface HttpTlsOptions {
  /** Certificate authorities to trust instead of Node's bundled ones (PEM). */
  ca?: ConnectionOptions['ca'];
  /** Client certificate chain (PEM), for servers that ask for one. */
  cert?: ConnectionOptions['cert'];
  /** Client private key (PEM). */
  key?: ConnectionOptions['key'];
  /** Client certificate and key as PKCS#12. */
  pfx?: ConnectionOptions['pfx'];
  /** Passphrase of `key` or `pfx`. */
  passphrase?: string;
  /** Refuse servers whose certificate does not verify. Turn off only in tests. @default true */
  rejectUnauthorized?: boolean;
  /** Server name sent for SNI and checked against the certificate. @default the URL's host name */
  servername?: string;
  /** Lowest TLS version accepted. @default Node's (`TLSv1.2`) */
  minVersion?: ConnectionOptions['minVersion'];
}

/** Settings of the pool of one origin; every field can also be set per origin. */
export interface OriginOptions {
  /** Most connections open to the origin at once (idle, busy and opening). @default 10 */
  connections?: number;
  /** Connections kept open even when idle, opened at the first request. @default 0 */
  minConnections?: number;
  /**
   * An idle connection is closed after this long. Below the 5 s keep-alive of common
   * servers so that the client closes first; a server's `Keep-Alive: timeout=N` hint
   * lowers it for that connection to N s less 1 s (the pool retires the connection then,
   * and undici's Client closes its socket). With N of 1 or less (Node sends `timeout=0`
   * for any keep-alive under 1 s), or `Connection: close`, the connection is not reused.
   * @default 4_000 ms
   */
  idleTimeoutMs?: number;
  /**
   * A connection is retired after this long (once its requests finish), so that DNS
   * changes and rebalanced servers are picked up; jittered by up to 10% so that
   * connections do not all retire at once. @default 300_000 ms
   */
  maxLifetimeMs?: number;
  /** Opening a connection (TCP and TLS) longer than this fails with `ERR_HTTP_CONNECT_TIMEOUT`. @default 10_000 ms */
  connectTimeoutMs?: number;
  /**
   * No response headers this long after the request was written fails it with
   * `ERR_HTTP_HEADERS_TIMEOUT` (while a request body is being written, each chunk restarts
   * it). Timed on the pool's `clock`, to the millisecond; `Infinity` turns it off.
   * @default 300_000 ms
   */
  headersTimeoutMs?: number;
  /**
   * No body bytes for this long fails the request with `ERR_HTTP_BODY_TIMEOUT`; time the
   * reader holds the body paused does not count. `Infinity` turns it off.
   * @default 300_000 ms
   */
  bodyTimeoutMs?: number;
  /** How long a request waits for a free connection before `ERR_POOL_TIMEOUT`. @default 30_000 ms */
  acquireTimeoutMs?: number;
  /** Requests waiting for a connection at once; more fail with `ERR_POOL_EXHAUSTED`. @default 10_000 */
  maxWaiting?: number;
  /**
   * A response body that is neither read nor finished (it filled its buffer) is discarded
   * after this long with `ERR_HTTP_UNREAD_BODY`, so it cannot pin its connection.
   * @default 30_000 ms
   */
  unreadBodyTimeoutMs?: number;
  /** Offer HTTP/2 by ALPN on https origins. @default true */
  allowH2?: boolean;
  /** Speak HTTP/2 without TLS (h2c, prior knowledge) to an http origin. @default false */
  h2c?: boolean;
  /**
   * Most concurrent streams per HTTP/2 session; the server's own `maxConcurrentStreams`
   * lowers it once its SETTINGS arrive. @default 100
   */
  maxConcurrentStreams?: number;
  /**
   * Let the process exit while the pool holds only idle connections: their sockets are
   * unref'd (as undici and Node's own agents do), so an idle pool, pre-opened
   * `minConnections` included, never keeps the process alive; a connection serving a
   * request keeps it alive as usual. `false` keeps the process alive while any
   * connection is open, until `close()`.
   * @default true
   */
  allowExitOnIdle?: boolean;
  /** TLS settings for https origins. */
  tls?: HttpTlsOptions;
  /**
   * A circuit breaker per origin (options of `CircuitBreaker` from `weir/resilience`): after
   * repeated connection failures, requests fail fast with `ERR_CIRCUIT_OPEN` until a probe
   * connects. `false` turns it off. @default false
   */
  breaker?: false | CircuitBreakerOptions;
}

/** Options of {@link createHttpPool}: defaults for every origin plus per-origin overrides. */
export interface HttpPoolOptions extends OriginOptions {
  /**
   * Overrides for particular origins, keyed by origin (`https://api.example.com`, with or
   * without the default port); merged over the defaults above (`tls` is merged too).
   */
  origins?: Record<string, OriginOptions>;
  /** Name used in messages and metrics. @default 'http' */
  name?: string;
  /** Source of time for the pools' timers and for progress rates. @default the real clock */
  clock?: Clock;
}

const TLS_KEYS = optionKeys<HttpTlsOptions>({
  ca: 1,
  cert: 1,
  key: 1,
  pfx: 1,
  passphrase: 1,
  rejectUnauthorized: 1,
  servername: 1,
  minVersion: 1,
});
const originKeys: KeyList<OriginOptions> = {
  connections: 1,
  minConnections: 1,
  idleTimeoutMs: 1,
  maxLifetimeMs: 1,
  connectTimeoutMs: 1,
  headersTimeoutMs: 1,
  bodyTimeoutMs: 1,
  acquireTimeoutMs: 1,
  maxWaiting: 1,
  unreadBodyTimeoutMs: 1,
  allowH2: 1,
  h2c: 1,
  maxConcurrentStreams: 1,
  allowExitOnIdle: 1,
  tls: 1,
  breaker: 1,
};
const ORIGIN_KEYS = optionKeys(originKeys);
/** @internal The keys of {@link HttpPoolOptions}, for pools that take them and more. */
export const HTTP_POOL_KEYS = optionKeys<HttpPoolOptions>({
  ...originKeys,
  origins: 1,
  name: 1,
  clock: 1,
});

/** @internal Settings of one origin after defaults and validation. */
export interface ResolvedOriginOptions {
  connections: number;
  minConnections: number;
  idleTimeoutMs: number;
  maxLifetimeMs: number;
  connectTimeoutMs: number;
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
  acquireTimeoutMs: number;
  maxWaiting: number;
  unreadBodyTimeoutMs: number;
  allowH2: boolean;
  h2c: boolean;
  maxConcurrentStreams: number;
  allowExitOnIdle: boolean;
  tls: HttpTlsOptions;
  breaker: false | CircuitBreakerOptions;
  clock: Clock;
}

function checkBool(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') {
    throw new TypeError(`Expected \`${name}\` to be a boolean, got ${describe(value)}`);
  }
  return value;
}

/** @internal Merges per-origin overrides over the defaults and validates the result. */
export function resolveOriginOptions(
  base: HttpPoolOptions,
  override: OriginOptions | undefined,
): ResolvedOriginOptions {
  checkObject('options', base);
  checkKeys('createHttpPool', base, HTTP_POOL_KEYS);
  checkObject('origin options', override);
  checkKeys("an origin of createHttpPool's `origins`", override, ORIGIN_KEYS);
  const o: OriginOptions = { ...base, ...override };
  checkObject('tls', o.tls);
  checkKeys("createHttpPool's `tls`", o.tls, TLS_KEYS);
  checkObject('breaker', o.breaker === false ? undefined : o.breaker);
  checkKeys("createHttpPool's `breaker`", o.breaker, CIRCUIT_BREAKER_KEYS);
  const connections = checkInt('connections', o.connections ?? 10, 1);
  const minConnections = checkInt('minConnections', o.minConnections ?? 0, 0);
  if (minConnections > connections) {
    throw new RangeError(
      `Expected \`minConnections\` (${minConnections}) to be <= \`connections\` (${connections})`,
    );
  }
  const clock = base.clock ?? realClock;
  return {
    connections,
    minConnections,
    idleTimeoutMs: checkMs('idleTimeoutMs', o.idleTimeoutMs ?? 4_000, 1),
    maxLifetimeMs: checkMs('maxLifetimeMs', o.maxLifetimeMs ?? 300_000, 1),
    connectTimeoutMs: checkMs('connectTimeoutMs', o.connectTimeoutMs ?? 10_000, 1, false),
    headersTimeoutMs: checkMs('headersTimeoutMs', o.headersTimeoutMs ?? 300_000, 0),
    bodyTimeoutMs: checkMs('bodyTimeoutMs', o.bodyTimeoutMs ?? 300_000, 0),
    acquireTimeoutMs: checkMs('acquireTimeoutMs', o.acquireTimeoutMs ?? 30_000),
    maxWaiting: checkInt('maxWaiting', o.maxWaiting ?? 10_000, 0, true),
    unreadBodyTimeoutMs: checkMs('unreadBodyTimeoutMs', o.unreadBodyTimeoutMs ?? 30_000, 0),
    allowH2: checkBool('allowH2', o.allowH2, true),
    h2c: checkBool('h2c', o.h2c, false),
    maxConcurrentStreams: checkInt('maxConcurrentStreams', o.maxConcurrentStreams ?? 100, 1),
    allowExitOnIdle: checkBool('allowExitOnIdle', o.allowExitOnIdle, true),
    tls: { ...base.tls, ...override?.tls },
    breaker: o.breaker ?? false,
    clock,
  };
}

/** undici takes 0 for "no timeout"; weir spells it Infinity. */
export function undiciMs(ms: number): number {
  return Number.isFinite(ms) ? ms : 0;
}

// RFC 9110 §5.6.2: a method is a token.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** The per-request options {@link checkRequestOptions} looks at. */
interface RequestOptionsLike {
  method?: unknown;
  headers?: unknown;
  headersTimeoutMs?: unknown;
  bodyTimeoutMs?: unknown;
}

/**
 * @internal Checks the options of one `request` as the pool's options are checked, before
 * any connection is taken: a bad one throws here, never inside undici on an open connection.
 * @throws {TypeError|RangeError} naming the option.
 */
export function checkRequestOptions(o: RequestOptionsLike | undefined): void {
  if (o === undefined) return;
  if (o.method !== undefined && (typeof o.method !== 'string' || !TOKEN.test(o.method))) {
    throw new TypeError(
      `Expected \`method\` to be an HTTP method such as 'GET', got ${describe(o.method)}`,
    );
  }
  const h = o.headers;
  if (
    h !== undefined &&
    (typeof h !== 'object' || h === null || (Array.isArray(h) && h.length % 2 !== 0))
  ) {
    throw new TypeError(
      `Expected \`headers\` to be an object or an array of name/value pairs, got ${describe(h)}`,
    );
  }
  // Same rule as the pool's own: milliseconds >= 0, Infinity to turn the timeout off.
  if (o.headersTimeoutMs !== undefined) checkMs('headersTimeoutMs', o.headersTimeoutMs, 0);
  if (o.bodyTimeoutMs !== undefined) checkMs('bodyTimeoutMs', o.bodyTimeoutMs, 0);
}

/**
 * @internal Checks a timeout of undici's dispatch options (`headersTimeout`,
 * `bodyTimeout`: milliseconds >= 0, 0 for none) before any connection is taken.
 * @throws {TypeError|RangeError} naming the option.
 */
export function checkDispatchTimeout(name: string, value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  return checkMs(name, value, 0, false);
}
