// createDashboard: a request handler that serves the live page, its script and stylesheet,
// and one server-sent event stream of snapshots. A snapshot is read once per interval,
// serialised once and broadcast by an SseHub to every client; the hub's history is the
// ring of recent snapshots a new page draws its charts from, and what a reconnecting
// client is replayed from its Last-Event-ID.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Clock, realClock, type TimerHandle } from '../internal/clock.js';
import { describe } from '../internal/errors.js';
import { checkKeys, optionKeys } from '../internal/options.js';
import { SseHub } from '../sse/index.js';
import { DASHBOARD_JS } from './client.js';
import { DASHBOARD_CSS, pageHtml } from './page.js';
import {
  type BreakerSource,
  type ChannelSource,
  type DashboardSnapshot,
  isBreaker,
  isChannel,
  isLimiter,
  isPool,
  type LimiterSource,
  named,
  optionError,
  type PoolSource,
  SnapshotReader,
  type Sources,
} from './snapshot.js';

/** Options of {@link createDashboard}. */
export interface DashboardOptions {
  /**
   * Pools to show: anything with `stats()` (a `weir/pool` pool, a managed, pg or libsql
   * pool, an HTTP pool: one row per origin, a keyed pool: one row per key). A record
   * names them; in a list each is named by its `stats().name`.
   */
  pools?: Sources<PoolSource> | undefined;
  /** Circuit breakers; their `stateChange` events tell when each last changed. */
  breakers?: Sources<BreakerSource> | undefined;
  /** Channels (`length` and `capacity`). */
  channels?: Sources<ChannelSource> | undefined;
  /** Rate limiters and semaphores (`available` and `waiting`). */
  limiters?: Sources<LimiterSource> | undefined;
  /** How often a snapshot is read and sent. @default 1000 (ms, at least 50) */
  intervalMs?: number | undefined;
  /** How much history the server keeps for the charts of a new page. @default 300_000 (ms) */
  historyMs?: number | undefined;
  /**
   * Where the dashboard is mounted, starting and ending with `/`: the page is at `path`, its
   * stream at `path + 'events'`. The request's `originalUrl` (Express) or `url` is matched.
   * @default '/'
   */
  path?: string | undefined;
  /** Heading of the page. @default 'weir' */
  title?: string | undefined;
  /**
   * Decides who may see the dashboard. Without it, only loopback clients are served
   * (others get 403), and only under a loopback `Host` name, against DNS rebinding.
   * With it, it alone decides: return (or resolve to) `true` to serve the request.
   */
  authorize?: ((req: IncomingMessage) => boolean | Promise<boolean>) | undefined;
  /** Source of time for the interval. @default realClock */
  clock?: Clock | undefined;
}

const DASHBOARD_KEYS = optionKeys<DashboardOptions>({
  pools: 1,
  breakers: 1,
  channels: 1,
  limiters: 1,
  intervalMs: 1,
  historyMs: 1,
  path: 1,
  title: 1,
  authorize: 1,
  clock: 1,
});

/** The `next` of Express and Connect middleware. */
export type NextFunction = (error?: unknown) => void;

/**
 * A request handler for `node:http`, Express or Fastify (see {@link createDashboard}), with
 * the dashboard's controls on it.
 */
export interface Dashboard {
  (req: IncomingMessage, res: ServerResponse, next?: NextFunction): void;
  /** Event streams open now (one per browser, however many tabs it shows the page in). */
  readonly clients: number;
  /** The latest snapshot, as sent. */
  snapshot(): DashboardSnapshot;
  /** Stops the interval and ends every stream; later requests get 503. Idempotent. */
  close(): void;
  [Symbol.dispose](): void;
}

/** The Content-Security-Policy of the page and its assets. */
export const DASHBOARD_CSP =
  "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const COMMON_HEADERS: Record<string, string> = {
  'Content-Security-Policy': DASHBOARD_CSP,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-cache',
};

// An id no snapshot has (they are integers): asking to resume from it replays the whole
// history, which is what a page opened for the first time wants for its charts.
const FROM_START = '-';
const RETRY = 'retry: 1000\n\n';

class DashboardServer {
  readonly #path: string;
  readonly #authorize: ((req: IncomingMessage) => boolean | Promise<boolean>) | undefined;
  readonly #clock: Clock;
  readonly #intervalMs: number;
  readonly #reader: SnapshotReader;
  readonly #hub: SseHub;
  readonly #page: Buffer;
  readonly #js = Buffer.from(DASHBOARD_JS, 'utf8');
  readonly #css = Buffer.from(DASHBOARD_CSS, 'utf8');
  #latest!: DashboardSnapshot;
  #latestJson = '';
  #timer: TimerHandle = undefined;
  #closed = false;

  constructor(options: DashboardOptions) {
    if (typeof options !== 'object' || options === null) {
      throw optionError(
        TypeError,
        `Expected the options of createDashboard to be an object, got ${describe(options)}`,
      );
    }
    try {
      checkKeys('createDashboard', options, DASHBOARD_KEYS);
    } catch (error) {
      throw optionError(TypeError, (error as Error).message);
    }
    this.#intervalMs = ms('intervalMs', options.intervalMs ?? 1000, 50);
    const historyMs = ms('historyMs', options.historyMs ?? 300_000, 0);
    const historySize = Math.max(1, Math.ceil(historyMs / this.#intervalMs));
    this.#path = pathOf(options.path ?? '/');
    const title = options.title ?? 'weir';
    if (typeof title !== 'string') {
      throw optionError(TypeError, `Expected \`title\` to be a string, got ${describe(title)}`);
    }
    if (options.authorize !== undefined && typeof options.authorize !== 'function') {
      throw optionError(
        TypeError,
        `Expected \`authorize\` to be a function (req) => boolean, got ${describe(options.authorize)}`,
      );
    }
    this.#authorize = options.authorize;
    const clock = options.clock ?? realClock;
    if (typeof clock !== 'object' || clock === null || typeof clock.now !== 'function') {
      throw optionError(TypeError, `Expected \`clock\` to be a Clock, got ${describe(clock)}`);
    }
    this.#clock = clock;
    const sources = {
      pools: named<PoolSource>('pools', options.pools, 'pool', isPool, 'a pool with stats()'),
      breakers: named<BreakerSource>(
        'breakers',
        options.breakers,
        'breaker',
        isBreaker,
        'a circuit breaker (with a `state`)',
      ),
      channels: named<ChannelSource>(
        'channels',
        options.channels,
        'channel',
        isChannel,
        'a channel (with `length` and `capacity`)',
      ),
      limiters: named<LimiterSource>(
        'limiters',
        options.limiters,
        'limiter',
        isLimiter,
        'a rate limiter or semaphore (with `available` and `waiting`)',
      ),
    };
    this.#page = Buffer.from(pageHtml(this.#path, title), 'utf8');
    this.#reader = new SnapshotReader(sources, {
      clock,
      intervalMs: this.#intervalMs,
      historySize,
      title,
    });
    this.#hub = new SseHub({
      historySize,
      // A new page is replayed the whole history at once; room for it, and still a bound.
      maxBufferedBytes: 16 * 1024 * 1024,
      keepAliveMs: 15_000,
      clock,
    });
    this.#tick();
  }

  get clients(): number {
    return this.#hub.size;
  }

  snapshot(): DashboardSnapshot {
    return this.#latest;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#reader.close();
    this.#hub.close();
  }

  #tick(): void {
    if (this.#closed) return;
    const snap = this.#reader.read();
    // Serialised once; the hub encodes the event once for every client.
    const json = JSON.stringify(snap);
    this.#latest = snap;
    this.#latestJson = json;
    this.#hub.broadcast({ event: 'snapshot', id: snap.id, data: json });
    this.#timer = this.#clock.setTimeout(() => this.#tick(), this.#intervalMs, true);
  }

  handle(req: IncomingMessage, res: ServerResponse, next?: NextFunction): void {
    const url = (req as { originalUrl?: string }).originalUrl ?? req.url ?? '/';
    const q = url.indexOf('?');
    const pathname = q < 0 ? url : url.slice(0, q);
    const route = this.#route(pathname);
    if (route === undefined) {
      if (typeof next === 'function') next();
      else send(res, 404, 'text/plain; charset=utf-8', 'Not found\n');
      return;
    }
    if (this.#authorize === undefined) {
      if (!loopback(req)) {
        send(res, 403, 'text/plain; charset=utf-8', FORBIDDEN);
        return;
      }
      this.#serve(route, req, res, url, q);
      return;
    }
    let verdict: boolean | Promise<boolean>;
    try {
      verdict = this.#authorize(req);
    } catch {
      send(res, 403, 'text/plain; charset=utf-8', 'Forbidden\n');
      return;
    }
    if (verdict === true) this.#serve(route, req, res, url, q);
    else if (typeof (verdict as Promise<boolean> | undefined)?.then !== 'function') {
      send(res, 403, 'text/plain; charset=utf-8', 'Forbidden\n');
    } else {
      (verdict as Promise<boolean>).then(
        (ok) =>
          ok === true
            ? this.#serve(route, req, res, url, q)
            : send(res, 403, 'text/plain; charset=utf-8', 'Forbidden\n'),
        () => send(res, 403, 'text/plain; charset=utf-8', 'Forbidden\n'),
      );
    }
  }

  #route(pathname: string): string | undefined {
    if (pathname.startsWith(this.#path)) {
      const rest = pathname.slice(this.#path.length);
      if (ROUTES.has(rest)) return rest;
      return undefined;
    }
    // `/dashboard` for a dashboard at `/dashboard/`: its relative assets need the slash.
    return pathname === this.#path.slice(0, -1) ? 'redirect' : undefined;
  }

  #serve(route: string, req: IncomingMessage, res: ServerResponse, url: string, q: number): void {
    if (res.writableEnded || res.destroyed) return;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      send(res, 405, 'text/plain; charset=utf-8', 'Method not allowed\n');
      return;
    }
    if (this.#closed) {
      send(res, 503, 'text/plain; charset=utf-8', 'The dashboard is closed\n');
      return;
    }
    const head = req.method === 'HEAD';
    switch (route) {
      case 'redirect':
        res.setHeader('Location', this.#path + (q < 0 ? '' : url.slice(q)));
        send(res, 308, 'text/plain; charset=utf-8', `See ${this.#path}\n`);
        return;
      case '':
      case 'index.html':
        send(res, 200, 'text/html; charset=utf-8', this.#page, head);
        return;
      case 'dashboard.js':
        send(res, 200, 'text/javascript; charset=utf-8', this.#js, head);
        return;
      case 'dashboard.css':
        send(res, 200, 'text/css; charset=utf-8', this.#css, head);
        return;
      case 'favicon.ico':
        res.statusCode = 204;
        res.end();
        return;
      case 'snapshot.json':
        send(res, 200, 'application/json', this.#latestJson, head);
        return;
      default:
        if (head) send(res, 200, 'text/event-stream; charset=utf-8', '', true);
        else this.#stream(req, res, q < 0 ? '' : url.slice(q + 1));
        return;
    }
  }

  // The header is what EventSource sends when it reconnects by itself; the query is what
  // a tab that takes over as leader sends, as EventSource cannot set headers.
  #stream(req: IncomingMessage, res: ServerResponse, query: string): void {
    const header = req.headers['last-event-id'];
    const from =
      (typeof header === 'string' && header !== '' ? header : undefined) ??
      (new URLSearchParams(query).get('lastEventId') || undefined);
    for (const [k, v] of Object.entries(COMMON_HEADERS)) {
      if (k !== 'Cache-Control') res.setHeader(k, v);
    }
    const client = this.#hub.add(res, { lastEventId: from ?? FROM_START });
    const stream = client.stream;
    if (stream.closed) return;
    stream.writeEncoded(RETRY).catch(noop);
    // Up to date already: it still gets the latest at once, so the page knows it is live.
    if (client.replayed === 0 && !client.missed) {
      stream.send({ event: 'snapshot', id: this.#latest.id, data: this.#latestJson }).catch(noop);
    }
  }
}

const ROUTES = new Set([
  '',
  'index.html',
  'dashboard.js',
  'dashboard.css',
  'snapshot.json',
  'events',
  'favicon.ico',
]);

const FORBIDDEN =
  'Forbidden: this dashboard serves loopback clients only; pass `authorize` to createDashboard to let others in\n';

function send(
  res: ServerResponse,
  status: number,
  type: string,
  body: string | Buffer,
  head = false,
): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  res.statusCode = status;
  for (const [k, v] of Object.entries(COMMON_HEADERS)) res.setHeader(k, v);
  res.setHeader('Content-Type', type);
  res.setHeader('Content-Length', Buffer.byteLength(body));
  if (head) res.end();
  else res.end(body);
}

const noop = (): void => {};

/** @internal Whether the request comes from this machine, under a loopback host name. */
export function loopback(req: IncomingMessage): boolean {
  const addr = req.socket?.remoteAddress;
  if (addr === undefined || !isLoopbackAddress(addr)) return false;
  const host = req.headers.host;
  return host === undefined || isLoopbackHost(host);
}

function isLoopbackAddress(addr: string): boolean {
  if (addr === '::1') return true;
  const v4 = addr.startsWith('::ffff:') ? addr.slice(7) : addr;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}

function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  const name = h.startsWith('[') ? h.slice(0, h.indexOf(']') + 1) : h.replace(/:\d*$/, '');
  return (
    name === 'localhost' ||
    name.endsWith('.localhost') ||
    name === '[::1]' ||
    isLoopbackAddress(name)
  );
}

function ms(name: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    throw optionError(
      typeof value === 'number' ? RangeError : TypeError,
      `Expected \`${name}\` to be a finite number of milliseconds >= ${min}, got ${describe(value)}`,
    );
  }
  return value;
}

function pathOf(value: unknown): string {
  if (typeof value !== 'string' || !value.startsWith('/') || !value.endsWith('/')) {
    throw optionError(
      TypeError,
      `Expected \`path\` to be a string that starts and ends with "/", such as "/dashboard/", got ${describe(value)}`,
    );
  }
  return value;
}

/**
 * Makes the live dashboard: a request handler serving a page (no dependency, about 14 KB in all,
 * no inline script or style, under a CSP of `default-src 'self'`) at `path`, fed by one
 * server-sent event stream of snapshots read every `intervalMs`. The page shows each
 * pool's used, idle, pending and limit, its wait p50/p99, timeouts and create errors per
 * second with charts of the last minutes, breakers' states, channels' fill, limiters, and
 * health when a source has `health()`. One browser holds one stream however many tabs show
 * the page. Only loopback clients are served unless `authorize` is given.
 *
 * Mount it on `node:http` (`http.createServer(dashboard)`), Express
 * (`app.use('/dashboard/', dashboard)` with `path: '/dashboard/'`) or Fastify
 * (`reply.hijack(); dashboard(request.raw, reply.raw)`). A request outside `path` goes to
 * `next()` when there is one, else gets 404.
 *
 * Its timers are unref'd: the dashboard never keeps the process alive by itself.
 * @throws {TypeError|RangeError} with code `ERR_DASHBOARD_OPTION` for a bad option or a
 * source that cannot be read.
 * @example
 * const dashboard = createDashboard({ pools: { db }, breakers: { api: breaker } });
 * http.createServer(dashboard).listen(8377, '127.0.0.1');
 */
export function createDashboard(options: DashboardOptions): Dashboard {
  const server = new DashboardServer(options);
  const handler = (req: IncomingMessage, res: ServerResponse, next?: NextFunction): void =>
    server.handle(req, res, next);
  const close = (): void => server.close();
  return Object.defineProperties(handler, {
    clients: { get: () => server.clients, enumerable: true },
    snapshot: { value: () => server.snapshot() },
    close: { value: close },
    [Symbol.dispose]: { value: close },
  }) as Dashboard;
}
