// Which proxy an origin's connections go through (the `proxy` option, or HTTP_PROXY,
// HTTPS_PROXY and NO_PROXY when asked), and the CONNECT tunnel through it. The tunnel is
// undici's: a `Pool` to the proxy sends the CONNECT and hands over the socket, as undici's
// ProxyAgent does (one Client per tunnel, so that giving up on one closes only its own
// socket); the socket then becomes one of the origin pool's connections, counted
// and limited like any other.
import type { ClientRequest } from 'node:http';
import type { Socket } from 'node:net';
import { Client, type Dispatcher } from 'undici';
import { describe } from '../internal/errors.js';
import { HttpError } from './errors.js';
import type { Origin } from './origin.js';

/**
 * The `proxy` option: a proxy URL (`http://user:pass@proxy:3128`, or `https://` for TLS to
 * the proxy itself), `'fromEnv'` to read `HTTPS_PROXY`, `HTTP_PROXY` and `NO_PROXY` (or
 * their lower-case spellings, which win, as in curl and undici) when an origin's pool is
 * made, or `false` for none.
 */
export type HttpProxyOption = string | URL | 'fromEnv' | false;

/** @internal How an origin's connections reach it through a proxy. */
export interface ProxyRoute {
  /** The proxy, without credentials. */
  readonly url: URL;
  /** `Basic …` from the URL's user and password, if it has them. */
  readonly authorization: string | undefined;
  /**
   * `tunnel`: a CONNECT tunnel carries the connection (https, and h2c); `forward`: plain
   * HTTP/1.1 to the proxy, requests in absolute form.
   */
  readonly mode: 'tunnel' | 'forward';
  /** `scheme://host:port` of the proxy, for messages. */
  readonly key: string;
}

/**
 * @internal The route of `origin`'s connections, or null to connect directly.
 * @throws {TypeError} for a proxy URL that does not parse or is not http(s).
 */
export function proxyFor(
  origin: Origin,
  proxy: HttpProxyOption | undefined,
  noProxy: string | undefined,
  h2c: boolean,
  env: NodeJS.ProcessEnv = process.env,
): ProxyRoute | null {
  if (proxy === undefined || proxy === false) return null;
  let raw: string | URL | undefined = proxy;
  let exceptions = noProxy;
  if (proxy === 'fromEnv') {
    raw =
      origin.protocol === 'https:'
        ? (env.https_proxy ?? env.HTTPS_PROXY ?? env.http_proxy ?? env.HTTP_PROXY)
        : (env.http_proxy ?? env.HTTP_PROXY);
    exceptions ??= env.no_proxy ?? env.NO_PROXY;
    if (raw === undefined || raw === '') return null;
  }
  if (exceptions !== undefined && !shouldProxy(origin, exceptions)) return null;
  const url = parseProxyUrl(raw);
  const user = decodeURIComponent(url.username);
  const password = decodeURIComponent(url.password);
  const authorization =
    user === '' && password === ''
      ? undefined
      : `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  const clean = new URL(url.origin);
  return {
    url: clean,
    authorization,
    mode: origin.protocol === 'https:' || h2c ? 'tunnel' : 'forward',
    key: clean.origin,
  };
}

/** @internal Checks a proxy URL. @throws {TypeError} naming the option. */
export function parseProxyUrl(raw: string | URL): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    // Not echoed: the value may hold the proxy's password.
    throw new TypeError(
      `Expected \`proxy\` to be a proxy URL or 'fromEnv', got a ${typeof raw} that is not a URL`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TypeError(
      `Expected \`proxy\` to be an http: or https: URL, got ${describe(`${url.protocol}//${url.host}`)}`,
    );
  }
  return url;
}

/**
 * @internal True unless `noProxy` exempts `origin`. `noProxy` lists host names, separated by commas
 * or spaces, each optionally with a port (`example.com:8080`); an entry matches the name
 * and its subdomains (a leading `.` or `*.` is ignored); `*` exempts every origin. The
 * same rules as undici's `EnvHttpProxyAgent`.
 */
export function shouldProxy(origin: Origin, noProxy: string): boolean {
  const value = noProxy.trim();
  if (value === '') return true;
  if (value === '*') return false;
  const host = origin.hostname.toLowerCase().replace(/^\[|\]$/g, '');
  for (const raw of value.split(/[,\s]+/)) {
    if (raw === '') continue;
    const m = /^(.+):(\d+)$/.exec(raw);
    let name = (m === null ? raw : m[1]!).replace(/^\*?\./, '').toLowerCase();
    name = name.replace(/^\[|\]$/g, '');
    const port = m === null ? 0 : Number(m[2]);
    if (port !== 0 && port !== origin.port) continue;
    if (host === name || host.endsWith(`.${name}`)) return false;
  }
  return true;
}

/** @internal Settings of the tunnel's own connection to the proxy. */
export interface TunnelSettings {
  connectTimeoutMs: number;
  lookup: ((...args: never[]) => void) | undefined;
}

/**
 * @internal Opens CONNECT tunnels to one origin through one proxy, each with an undici
 * `Client` of its own: the CONNECT's socket leaves the Client when the proxy answers, and
 * a tunnel given up before that closes with its Client (undici leaves an aborted CONNECT's
 * socket open).
 */
export class Tunnel {
  readonly route: ProxyRoute;
  readonly #origin: Origin;
  readonly #connect: Record<string, unknown>;

  constructor(origin: Origin, route: ProxyRoute, settings: TunnelSettings) {
    this.#origin = origin;
    this.route = route;
    this.#connect = { timeout: settings.connectTimeoutMs };
    if (settings.lookup !== undefined) this.#connect.lookup = settings.lookup;
  }

  /**
   * A socket tunnelled to the origin, in plain TCP (TLS to the origin, if any, goes over it).
   * @throws {HttpError} `ERR_HTTP_PROXY` when the proxy cannot be reached or refuses the
   *   tunnel, `ERR_HTTP_PROXY_AUTH` when it answers 407; the signal's reason on abort.
   */
  async open(signal: AbortSignal): Promise<Socket> {
    const origin = this.#origin;
    const authority = `${hostForUrl(origin.hostname)}:${origin.port}`;
    const headers: Record<string, string> = { host: authority };
    if (this.route.authorization !== undefined) {
      headers['proxy-authorization'] = this.route.authorization;
    }
    let socket: Socket;
    let statusCode: number;
    const client = new Client(this.route.url, { connect: this.#connect });
    try {
      const answer = await client.connect({ path: authority, headers, signal });
      socket = answer.socket as Socket;
      statusCode = answer.statusCode;
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      throw proxyError(this.route.key, origin.key, `could not be reached`, error);
    } finally {
      // The answered socket has left it already; an unanswered one closes here.
      client.destroy().catch(noop);
    }
    if (statusCode === 200) return socket;
    socket.on('error', noop).destroy();
    if (statusCode === 407) throw proxyAuthError(this.route.key, origin.key);
    throw proxyError(this.route.key, origin.key, `refused the tunnel with status ${statusCode}`);
  }
}

/** @internal The proxy answered 407: it wants (other) credentials. */
export function proxyAuthError(proxy: string, origin: string): HttpError {
  return new HttpError(
    'ERR_HTTP_PROXY_AUTH',
    origin,
    `The proxy ${proxy} refused ${origin} with 407 Proxy Authentication Required; put its credentials in the proxy URL (http://user:password@host:port)`,
  );
}

function proxyError(proxy: string, origin: string, what: string, cause?: unknown): HttpError {
  const code = (cause as { code?: unknown } | undefined)?.code;
  return new HttpError(
    'ERR_HTTP_PROXY',
    origin,
    `The proxy ${proxy} for ${origin} ${what}${typeof code === 'string' ? ` (${code})` : ''}`,
    cause,
  );
}

/** @internal The proxy for forwarded requests could not be reached. */
export function forwardError(route: ProxyRoute, origin: string, cause: unknown): HttpError {
  return proxyError(route.key, origin, 'could not be reached', cause);
}

function hostForUrl(hostname: string): string {
  return hostname.includes(':') && !hostname.startsWith('[') ? `[${hostname}]` : hostname;
}

const noop = (): void => {};

/** @internal An http origin's requests through a forwarding proxy. */
export interface Forwarding {
  readonly route: ProxyRoute;
  /** `http://host[:port]`: what the absolute form puts before the path. */
  readonly prefix: string;
}

/** @internal The forwarding of `origin`'s requests, or null when they go as they are. */
export function forwardingOf(origin: Origin, route: ProxyRoute | null): Forwarding | null {
  if (route === null || route.mode !== 'forward') return null;
  const port = origin.port === 80 ? '' : `:${origin.port}`;
  return { route, prefix: `http://${hostForUrl(origin.hostname)}${port}` };
}

type DispatchHeaders = Dispatcher.DispatchOptions['headers'];

/**
 * @internal The dispatch options of a request forwarded by a proxy: the path in absolute
 * form (RFC 9112 §3.2.2) and the proxy's credentials; the `Host` header stays the origin's.
 */
export function absoluteForm(
  opts: Dispatcher.DispatchOptions,
  f: Forwarding,
): Dispatcher.DispatchOptions {
  const out: Dispatcher.DispatchOptions = { ...opts, path: f.prefix + (opts.path || '/') };
  const auth = f.route.authorization;
  if (auth !== undefined) {
    const headers = withHeader(opts.headers, 'proxy-authorization', auth);
    if (headers != null) out.headers = headers;
  }
  return out;
}

function withHeader(headers: DispatchHeaders, name: string, value: string): DispatchHeaders {
  if (headers == null) return { [name]: value };
  if (Array.isArray(headers)) return [...headers, name, value];
  if (typeof (headers as Iterable<unknown>)[Symbol.iterator] === 'function') {
    const flat: string[] = [];
    for (const [k, v] of headers as Iterable<[string, string | string[] | undefined]>) {
      if (v === undefined) continue;
      for (const one of Array.isArray(v) ? v : [v]) flat.push(k, one);
    }
    flat.push(name, value);
    return flat;
  }
  return { ...(headers as Record<string, string | string[] | undefined>), [name]: value };
}

/**
 * @internal Puts a request of Node's client (lent a connection by the agent) in the absolute
 * form a forwarding proxy expects, before Node writes its head.
 * @throws {HttpError} `ERR_HTTP_INVALID_REQUEST` when Node already wrote the head (headers
 *   given as an array of lines).
 */
export function forwardNodeRequest(req: ClientRequest, f: Forwarding, origin: string): void {
  const r = req as ClientRequest & { _header?: string | null };
  if (r._header) {
    throw new HttpError(
      'ERR_HTTP_INVALID_REQUEST',
      origin,
      `A request to ${origin} goes through the proxy ${f.route.key} and must name the origin in its request line; pass its headers as an object, not an array`,
    );
  }
  req.path = f.prefix + req.path;
  if (f.route.authorization !== undefined) {
    req.setHeader('proxy-authorization', f.route.authorization);
  }
}
