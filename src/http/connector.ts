// How the sockets of one origin are opened: undici's connector (TCP, TLS with ALPN) fed
// the origin's cached DNS answers and its last TLS session, directly or through a proxy
// (a CONNECT tunnel, or plain TCP to the proxy for requests in absolute form).
import { isIP, type Socket } from 'node:net';
import { createSecureContext, type SecureContext, type TLSSocket } from 'node:tls';
import { buildConnector } from 'undici';
import { DnsCache } from './dns.js';
import type { ResolvedOriginOptions } from './options.js';
import type { Origin } from './origin.js';
import { forwardError, type ProxyRoute, proxyFor, Tunnel } from './proxy.js';
import { TlsSessions } from './tls-sessions.js';

/** @internal What opening a socket returns: enough to give up on it before it is handed over. */
export interface Opening {
  destroy(): void;
}

/** @internal Opens one socket to the origin; the callback gets it connected (or the error). */
export type Connector = (
  params: buildConnector.Options,
  callback: buildConnector.Callback,
) => Opening;

/** @internal What the connectors of one origin share: its DNS cache, TLS sessions, proxy. */
export interface OriginNetwork {
  readonly sessions: TlsSessions;
  readonly dns: DnsCache | null;
  /** The proxy route, or null for direct connections. */
  readonly route: ProxyRoute | null;
  readonly tunnel: Tunnel | null;
}

/**
 * @internal The shared state of an origin's connectors.
 * @throws {TypeError} for a bad proxy URL.
 */
export function originNetwork(origin: Origin, o: ResolvedOriginOptions): OriginNetwork {
  const dns = o.dns === false ? null : new DnsCache(o.dns, o.clock);
  const route = proxyFor(origin, o.proxy, o.noProxy, o.h2c);
  const tunnel =
    route?.mode === 'tunnel'
      ? new Tunnel(origin, route, {
          connectTimeoutMs: o.connectTimeoutMs,
          lookup: dns?.lookup as never,
        })
      : null;
  return { sessions: new TlsSessions(), dns, route, tunnel };
}

/**
 * @internal Builds a socket opener of one origin. `offerH2` offers HTTP/2 by ALPN where the
 * options allow it; without it the sockets speak HTTP/1.1.
 */
export function buildOriginConnector(
  origin: Origin,
  o: ResolvedOriginOptions,
  offerH2: boolean,
  net: OriginNetwork,
): Connector {
  const { resumeSessions, rejectUnauthorized, servername, ...contextOptions } = o.tls;
  const resume = resumeSessions !== false;
  const { dns, route, tunnel, sessions } = net;
  const lookup = dns === null ? {} : { lookup: dns.lookup, autoSelectFamily: true };
  const base: Record<string, unknown> = {
    rejectUnauthorized: rejectUnauthorized ?? true,
    allowH2: offerH2 && origin.protocol === 'https:' && o.allowH2,
    timeout: o.connectTimeoutMs,
    // Sessions are kept here (TlsSessions), strongly and for both of the origin's connectors.
    maxCachedSessions: 0,
  };
  // Through a tunnel the proxy resolves the origin's name: the lookup is the proxy's.
  if (origin.protocol === 'https:') {
    // One secure context (CAs, client certificate) for all of the origin's connections:
    // tls.connect would otherwise parse them again for each (0.4 to 0.7 ms of CPU).
    const context = secureContextOf(contextOptions);
    if (context !== undefined) base.secureContext = context;
    else Object.assign(base, contextOptions);
  }
  const direct = buildConnector({ ...base, ...(route === null ? lookup : {}) } as never);
  const servernameOf = (params: buildConnector.Options): string =>
    (params.servername as string | null | undefined) || servername || origin.hostname;

  const openTls = (params: buildConnector.Options, callback: buildConnector.Callback): Socket => {
    const servername = servernameOf(params);
    const session = resume ? sessions.get(servername) : undefined;
    const connect =
      session === undefined
        ? direct
        : buildConnector({
            ...base,
            ...(route === null ? lookup : {}),
            session,
          } as never);
    const socket = connect(params, (error, s) => {
      // A session the server will not take (its keys rotated) is not offered again.
      if (error !== null && session !== undefined) sessions.forget(servername);
      (callback as (e: Error | null, s: Socket | null) => void)(error, s as Socket | null);
    }) as unknown as TLSSocket;
    sessions.watch(socket, servername, resume);
    return socket;
  };

  if (route === null) {
    const watchDns = dns !== null && isIP(origin.hostname) === 0;
    return (params, callback) => {
      const socket =
        origin.protocol === 'https:'
          ? openTls(params, callback)
          : (direct(params, callback) as unknown as Socket);
      if (watchDns) dns.watch(socket, origin.hostname);
      return socket;
    };
  }

  if (route.mode === 'forward') {
    // Plain HTTP/1.1 to the proxy; the requests name the origin in absolute form.
    const proxy = route.url;
    const toProxy = buildConnector({
      timeout: o.connectTimeoutMs,
      ...lookup,
    } as never);
    const params = {
      hostname: proxy.hostname.replace(/^\[|\]$/g, ''),
      host: proxy.host,
      protocol: proxy.protocol,
      port: proxy.port,
      servername: null,
    } as unknown as buildConnector.Options;
    const watchDns = dns !== null && isIP(params.hostname) === 0;
    return (_params, callback) => {
      const socket = toProxy(params, (error, s) => {
        if (error !== null) callback(forwardError(route, origin.key, error), null);
        else callback(null, s);
      }) as unknown as Socket;
      if (watchDns) dns.watch(socket, params.hostname);
      return socket;
    };
  }

  return (params, callback) => {
    const controller = new AbortController();
    let tlsSocket: Socket | undefined;
    const cb = callback as (e: Error | null, s: Socket | null) => void;
    tunnel!.open(controller.signal).then(
      (socket) => {
        if (controller.signal.aborted) {
          socket.destroy();
          return;
        }
        if (origin.protocol !== 'https:') {
          cb(null, socket);
          return;
        }
        tlsSocket = openTls({ ...params, httpSocket: socket } as buildConnector.Options, (e, s) => {
          if (e !== null) socket.destroy();
          cb(e, s as Socket | null);
        });
      },
      (error: Error) => cb(error, null),
    );
    return {
      destroy() {
        controller.abort();
        tlsSocket?.destroy();
      },
    };
  };
}

/**
 * The secure context of an origin's TLS options, or undefined to leave them to tls.connect
 * (which then reports a bad certificate or key as the connection's error, as before).
 */
function secureContextOf(options: Record<string, unknown>): SecureContext | undefined {
  try {
    return createSecureContext(options);
  } catch {
    return undefined;
  }
}
