import type { ClientRequest } from 'node:http';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { createPool, type Pool, type PoolStats } from '../pool/index.js';
import { connectError } from './errors.js';
import { acquireError } from './exchange.js';
import type { ResolvedOriginOptions } from './options.js';
import { type Origin, originOf } from './origin.js';

/** What an agent needs from its {@link HttpPool}: the settings of each origin. */
export interface AgentOptionsSource {
  /** @internal */
  resolveOrigin(origin: Origin): ResolvedOriginOptions;
  /** @internal */
  poolName(): string;
}

/**
 * Per-origin pools of raw keep-alive sockets that Node's own HTTP/1.1 client
 * (`http.request`, and libraries on it: axios, got) borrows through an agent. The pools,
 * not Node's `Agent`, decide reuse, limits, idle timeout and lifetime, with the same
 * settings as the {@link HttpPool} they came from.
 * @internal
 */
class SocketPools {
  readonly #pools = new Map<string, Pool<net.Socket>>();
  readonly #source: AgentOptionsSource;

  constructor(source: AgentOptionsSource) {
    this.#source = source;
  }

  poolFor(origin: Origin): Pool<net.Socket> {
    let pool = this.#pools.get(origin.key);
    if (pool !== undefined) return pool;
    const o = this.#source.resolveOrigin(origin);
    pool = createPool<net.Socket>({
      create: (signal) => openSocket(origin, o, signal, (s) => pool!.retire(s)),
      destroy: (s) => {
        s.destroy();
      },
      min: 0,
      max: o.connections,
      idleTimeoutMs: o.idleTimeoutMs,
      maxLifetimeMs: o.maxLifetimeMs,
      createTimeoutMs: o.connectTimeoutMs,
      acquireTimeoutMs: o.acquireTimeoutMs,
      maxWaiting: o.maxWaiting,
      createRetry: { initialDelayMs: 10, maxDelayMs: 1_000 },
      breaker: o.breaker === false ? false : { name: origin.key, ...o.breaker },
      name: `${this.#source.poolName()} agent ${origin.key}`,
      clock: o.clock,
    });
    this.#pools.set(origin.key, pool);
    return pool;
  }

  stats(): PoolStats[] {
    return [...this.#pools.values()].map((p) => p.stats());
  }

  async close(): Promise<void> {
    await Promise.all([...this.#pools.values()].map((p) => p.close()));
  }
}

function openSocket(
  origin: Origin,
  o: ResolvedOriginOptions,
  signal: AbortSignal,
  onIdleClose: (s: net.Socket) => void,
): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket =
      origin.protocol === 'https:'
        ? tls.connect({
            ...o.tls,
            host: origin.hostname,
            port: origin.port,
            servername: o.tls.servername ?? (net.isIP(origin.hostname) ? '' : origin.hostname),
            rejectUnauthorized: o.tls.rejectUnauthorized ?? true,
            ALPNProtocols: ['http/1.1'],
          })
        : net.connect({ host: origin.hostname, port: origin.port });
    const fail = (error: unknown): void => {
      cleanup();
      socket.destroy();
      reject(error === signal.reason ? error : connectError(origin.key, error));
    };
    const onAbort = (): void => fail(signal.reason);
    const onError = (error: Error): void => fail(error);
    const onReady = (): void => {
      cleanup();
      socket.setNoDelay(true);
      socket.setKeepAlive(true, 60_000);
      // An idle socket may error or close (server keep-alive timeout): retire it quietly.
      socket.on('error', () => {});
      socket.on('close', () => onIdleClose(socket));
      socket.unref();
      resolve(socket);
    };
    const cleanup = (): void => {
      signal.removeEventListener('abort', onAbort);
      socket.off('error', onError);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('error', onError);
    socket.once(origin.protocol === 'https:' ? 'secureConnect' : 'connect', onReady);
  });
}

type RequestOptions = {
  host?: string;
  hostname?: string;
  port?: number | string;
  protocol?: string;
};

/**
 * Lends `req` a pooled socket. Node's client emits `free` on the socket when a keep-alive
 * response ended (the socket goes back to the pool), and the socket closes otherwise
 * (it is retired).
 */
function lendSocket(
  pools: SocketPools,
  scheme: 'http:' | 'https:',
  req: ClientRequest,
  options: RequestOptions,
): void {
  let origin: Origin;
  try {
    const host = options.hostname ?? options.host ?? 'localhost';
    const h = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
    origin = originOf(`${scheme}//${h}:${options.port ?? (scheme === 'https:' ? 443 : 80)}`);
  } catch (error) {
    (req.onSocket as (s: net.Socket | null, e?: unknown) => void)(null, error);
    return;
  }
  const pool = pools.poolFor(origin);
  const controller = new AbortController();
  const onClose = (): void => controller.abort(new Error('request closed before it got a socket'));
  req.once('close', onClose);
  const take = (): void => {
    pool.acquire({ signal: controller.signal }).then(
      (lease) => {
        const socket = lease.value;
        if (socket.destroyed) {
          lease.destroy(new Error('closed while idle'));
          take();
          return;
        }
        req.off('close', onClose);
        if (req.destroyed) {
          lease.release();
          return;
        }
        let done = false;
        const finish = (broken: boolean): void => {
          if (done) return;
          done = true;
          socket.off('free', onFree);
          socket.off('close', onSocketClose);
          socket.off('agentRemove', onRemove);
          if (broken) lease.destroy(new Error('socket closed or taken over'));
          else {
            socket.unref();
            lease.release();
          }
        };
        const onFree = (): void => finish(false);
        const onSocketClose = (): void => finish(true);
        const onRemove = (): void => finish(true);
        socket.on('free', onFree);
        socket.once('close', onSocketClose);
        socket.once('agentRemove', onRemove);
        socket.ref();
        req.onSocket(socket);
      },
      (error: unknown) => {
        req.off('close', onClose);
        // How Node's own Agent reports a failed connect: the request emits the error.
        (req.onSocket as (s: net.Socket | null, e?: unknown) => void)(
          null,
          acquireError(origin.key, error),
        );
      },
    );
  };
  take();
}

/**
 * A Node `http.Agent` whose sockets come from weir's per-origin pools. Get one with
 * `pool.toHttpAgent()`.
 * @example
 * const agent = http.toHttpAgent();
 * await axios.get('http://api.internal/items', { httpAgent: agent });
 */
export class WeirHttpAgent extends http.Agent {
  readonly #pools: SocketPools;

  /** @internal */
  constructor(source: AgentOptionsSource) {
    // keepAlive tells Node's client to keep the socket and emit `free` after each response.
    super({ keepAlive: true });
    this.#pools = new SocketPools(source);
  }

  /** @internal Node's hook: called for every request made with this agent. */
  addRequest(req: ClientRequest, options: RequestOptions): void {
    lendSocket(this.#pools, 'http:', req, options);
  }

  /** Each origin's socket pool snapshot. */
  stats(): PoolStats[] {
    return this.#pools.stats();
  }

  /** Closes every pooled socket. */
  override destroy(): void {
    void this.#pools.close();
    super.destroy();
  }
}

/**
 * A Node `https.Agent` whose TLS sockets come from weir's per-origin pools. Get one with
 * `pool.toHttpsAgent()`.
 */
export class WeirHttpsAgent extends https.Agent {
  readonly #pools: SocketPools;

  /** @internal */
  constructor(source: AgentOptionsSource) {
    super({ keepAlive: true });
    this.#pools = new SocketPools(source);
  }

  /** @internal Node's hook: called for every request made with this agent. */
  addRequest(req: ClientRequest, options: RequestOptions): void {
    lendSocket(this.#pools, 'https:', req, options);
  }

  /** Each origin's socket pool snapshot. */
  stats(): PoolStats[] {
    return this.#pools.stats();
  }

  /** Closes every pooled socket. */
  override destroy(): void {
    void this.#pools.close();
    super.destroy();
  }
}
