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
import { checkDnsOptions, type HttpDnsOptions } from './dns.js';
import { type HttpProxyOption, parseProxyUrl } from './proxy.js';

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
  /**
   * Resume the origin's last TLS session on a new connection (an abbreviated handshake:
   * no certificate exchange, one round trip less on TLS 1.2). The origin keeps its newest
   * session and offers it on every connection it opens; `stats()` counts
   * `tlsHandshakes` and `tlsResumed`. @default true
   */
  resumeSessions?: boolean;
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
   * Most concurrent streams per HTTP/2 session: how many requests one pooled session serves
   * at once (its lease count). The server's own `maxConcurrentStreams` lowers it; with the
   * default engine the server's SETTINGS are known before the session serves its first
   * request. 100 is a starting point (RFC 9113 §6.5.2 recommends servers allow at least
   * 100). An integer from 1 to 2,147,483,647. @default 100
   */
  maxConcurrentStreams?: number;
  /**
   * HTTP/2 flow control: the window each stream starts with (`SETTINGS_INITIAL_WINDOW_SIZE`),
   * in bytes: how much of one response the server may send before the client reads it.
   * 65,536 is a starting point for small and medium responses; raise it (with
   * `connectionWindowSize`) for large downloads over links with a long round trip. An
   * integer from 0 to 2,147,483,647. @default 65_536 bytes
   */
  initialWindowSize?: number;
  /**
   * HTTP/2 flow control: the window of the whole session, shared by its streams, in bytes
   * (widened from the protocol's 65,535 by a WINDOW_UPDATE as the session opens). Keep it
   * at least `initialWindowSize`, or one stream's response can hold back the others. An
   * integer from 65,535 to 2,147,483,647. @default 131_072 bytes
   */
  connectionWindowSize?: number;
  /**
   * What carries HTTP/2 sessions: `'node'` (the pool drives a `node:http2` session behind
   * the same Dispatcher surface; about twice as fast as undici's) or `'undici'` (undici's
   * own HTTP/2 client). @default 'node'
   */
  h2Engine?: 'node' | 'undici';
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
  /**
   * Send the origin's connections through a proxy: a URL (`http://user:pass@proxy:3128`;
   * its user and password become `Proxy-Authorization: Basic`), `'fromEnv'` to take it from
   * `HTTPS_PROXY`/`HTTP_PROXY` and `NO_PROXY` (lower-case spellings first) when the origin's
   * pool is made, or `false`. https origins (and h2c) go through a CONNECT tunnel, TLS
   * end to end with the origin; http origins are forwarded: plain HTTP/1.1 to the proxy,
   * requests in absolute form. Tunnelled or forwarded, each connection is one of the
   * origin's pool: `connections`, the queue, the timeouts and `stats()` hold as without a
   * proxy. A proxy that cannot be reached or refuses the tunnel fails with
   * `ERR_HTTP_PROXY`, one that answers 407 with `ERR_HTTP_PROXY_AUTH`. @default false
   */
  proxy?: HttpProxyOption;
  /**
   * Origins that bypass `proxy`: host names separated by commas or spaces, each matching
   * itself and its subdomains, optionally with a port (`internal.example:8443`); `*` for
   * every origin. With `proxy: 'fromEnv'` it defaults to `NO_PROXY`. @default none
   */
  noProxy?: string;
  /**
   * A DNS cache for the origin's host name (see {@link HttpDnsOptions}): resolved at most
   * once per `ttlMs`, every address tried in turn when one refuses (the one that refused
   * is tried last afterwards), so that connections opened after a change (new ones, and
   * those replacing connections retired at `maxLifetimeMs`) go to the new addresses.
   * `false` resolves on every connection, as Node does. @default { ttlMs: 10_000 }
   */
  dns?: false | HttpDnsOptions;
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
  resumeSessions: 1,
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
  initialWindowSize: 1,
  connectionWindowSize: 1,
  h2Engine: 1,
  allowExitOnIdle: 1,
  tls: 1,
  breaker: 1,
  proxy: 1,
  noProxy: 1,
  dns: 1,
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
  initialWindowSize: number;
  connectionWindowSize: number;
  h2Engine: 'node' | 'undici';
  allowExitOnIdle: boolean;
  tls: HttpTlsOptions;
  breaker: false | CircuitBreakerOptions;
  proxy: HttpProxyOption;
  noProxy: string | undefined;
  dns: false | HttpDnsOptions;
  clock: Clock;
}

function checkBool(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') {
    throw new TypeError(`Expected \`${name}\` to be a boolean, got ${describe(value)}`);
  }
  return value;
}

/** The largest value of an HTTP/2 window or stream count (RFC 9113 §6.5.2, §6.9.1). */
const H2_MAX = 2 ** 31 - 1;

function checkWindow(name: string, value: unknown, min: number): number {
  const n = checkInt(name, value, min);
  if (n > H2_MAX) {
    throw new RangeError(
      `Expected \`${name}\` to be an integer from ${min} to ${H2_MAX} (HTTP/2's limit), got ${describe(value)}`,
    );
  }
  return n;
}

function checkEngine(value: unknown): 'node' | 'undici' {
  if (value === undefined) return 'node';
  if (value !== 'node' && value !== 'undici') {
    throw new TypeError(`Expected \`h2Engine\` to be 'node' or 'undici', got ${describe(value)}`);
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
  const proxy = o.proxy ?? false;
  if (proxy !== false && proxy !== 'fromEnv') parseProxyUrl(proxy);
  if (o.noProxy !== undefined && typeof o.noProxy !== 'string') {
    throw new TypeError(`Expected \`noProxy\` to be a string, got ${describe(o.noProxy)}`);
  }
  const tls = { ...base.tls, ...override?.tls };
  checkBool('tls.resumeSessions', tls.resumeSessions, true);
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
    maxConcurrentStreams: checkWindow('maxConcurrentStreams', o.maxConcurrentStreams ?? 100, 1),
    initialWindowSize: checkWindow('initialWindowSize', o.initialWindowSize ?? 65_536, 0),
    connectionWindowSize: checkWindow(
      'connectionWindowSize',
      o.connectionWindowSize ?? 131_072,
      65_535,
    ),
    h2Engine: checkEngine(o.h2Engine),
    allowExitOnIdle: checkBool('allowExitOnIdle', o.allowExitOnIdle, true),
    tls,
    breaker: o.breaker ?? false,
    proxy,
    noProxy: o.noProxy,
    dns: checkDnsOptions(o.dns),
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
