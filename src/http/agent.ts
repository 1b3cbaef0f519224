import type { ClientRequest } from 'node:http';
import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import { isWeirError } from '../internal/errors.js';
import type { Lease } from '../pool/index.js';
import type { Connection } from './connection.js';
import { HttpError } from './errors.js';
import { acquireError } from './exchange.js';
import { type Origin, originOf } from './origin.js';
import type { OriginManager } from './origin-pool.js';
import { forwardNodeRequest } from './proxy.js';
import type { HttpPoolStats } from './types.js';

/** What an agent needs from its {@link HttpPool}. */
export interface AgentSource {
  /**
   * @internal The pool of `origin`, made on first use.
   * @throws {HttpError} `ERR_HTTP_CLOSED` once the pool is closed.
   */
  agentOrigin(origin: Origin): OriginManager;
  /** @internal The pool's figures. */
  stats(): HttpPoolStats;
}

type RequestOptions = {
  host?: string | null;
  hostname?: string | null;
  port?: number | string | null;
};

type OnSocket = (socket: Socket | null, error?: unknown) => void;

/**
 * The one implementation behind both agent classes: Node's HTTP/1.1 client (`http.request`,
 * and libraries on it: axios, got) borrows connections of the {@link HttpPool} it came
 * from, the same connections, limits, queue and figures as `request` and `dispatch`.
 */
class Lender {
  readonly #source: AgentSource;
  readonly #scheme: 'http:' | 'https:';
  /** Connections lent through this agent and not yet back, for `destroy()`. */
  readonly #out = new Set<Lease<Connection>>();
  #destroyed = false;

  constructor(source: AgentSource, scheme: 'http:' | 'https:') {
    this.#source = source;
    this.#scheme = scheme;
  }

  /**
   * Lends `req` a connection's socket. Node's client emits `free` on the socket when a
   * keep-alive response ended (the connection goes back to the pool), and the socket closes
   * otherwise (the connection is retired).
   */
  lend(req: ClientRequest, options: RequestOptions): void {
    const failed = (error: unknown): void => (req.onSocket as OnSocket)(null, error);
    let op: OriginManager;
    try {
      if (this.#destroyed) throw new HttpError('ERR_HTTP_CLOSED', '', 'The agent was destroyed');
      const scheme = this.#scheme;
      const host = options.hostname ?? options.host ?? 'localhost';
      const h = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
      const port = options.port ?? (scheme === 'https:' ? 443 : 80);
      op = this.#source.agentOrigin(originOf(`${scheme}//${h}:${port}`));
      if (op.forward !== null) forwardNodeRequest(req, op.forward, op.origin.key);
    } catch (error) {
      failed(error);
      return;
    }
    op.requests++;
    const controller = new AbortController();
    const onClose = (): void =>
      controller.abort(new Error('request closed before it got a socket'));
    req.once('close', onClose);
    const fail = (error: unknown): void => {
      req.off('close', onClose);
      op.countError(error);
      // How Node's own Agent reports a failed connect: the request emits the error.
      failed(error);
    };
    op.acquireForNode(controller.signal).then(
      (lease) => this.#lent(op, req, lease, onClose, fail),
      (error: unknown) => {
        if (controller.signal.aborted) return;
        fail(
          isWeirError(error, 'ERR_POOL_CLOSED')
            ? new HttpError('ERR_HTTP_CLOSED', op.origin.key, 'The HTTP pool is closed', error)
            : acquireError(op.origin.key, error),
        );
      },
    );
  }

  async #lent(
    op: OriginManager,
    req: ClientRequest,
    lease: Lease<Connection>,
    onClose: () => void,
    fail: (error: unknown) => void,
  ): Promise<void> {
    const conn = lease.value;
    // A request on it: a close of its socket is this request's to handle.
    conn.inFlight++;
    op.inFlight++;
    this.#out.add(lease);
    let done = false;
    const finish = (broken: unknown): void => {
      if (done) return;
      done = true;
      conn.inFlight--;
      op.inFlight--;
      this.#out.delete(lease);
      if (broken !== undefined) lease.destroy(broken);
      else {
        conn.parkFromNode();
        lease.release();
      }
    };
    let socket: Socket;
    try {
      socket = await conn.lendToNode();
    } catch (error) {
      finish(error);
      fail(error);
      return;
    }
    req.off('close', onClose);
    if (req.destroyed) {
      // The caller gave up meanwhile: the connection goes back unused.
      finish(undefined);
      return;
    }
    const onFree = (): void => {
      off();
      finish(undefined);
    };
    const onBroken = (): void => {
      off();
      finish(new Error('socket closed'));
    };
    // Node's client takes the socket over (an upgrade, CONNECT): it is the caller's now.
    const onTakenOver = (): void => {
      off();
      conn.handOff();
      finish(new Error('socket taken over'));
    };
    const off = (): void => {
      socket.off('free', onFree);
      socket.off('close', onBroken);
      socket.off('agentRemove', onTakenOver);
    };
    socket.on('free', onFree);
    socket.once('close', onBroken);
    socket.once('agentRemove', onTakenOver);
    // As Node's own Agent says, so that a caller can tell a keep-alive race and retry.
    (req as ClientRequest & { reusedSocket: boolean }).reusedSocket = !conn.fresh;
    req.onSocket(socket);
  }

  stats(): HttpPoolStats {
    return this.#source.stats();
  }

  destroy(): void {
    this.#destroyed = true;
    for (const lease of [...this.#out]) lease.value.socket.destroy();
  }
}

/**
 * A Node `http.Agent` whose sockets are connections of the weir pool it came from. Get
 * one with `pool.toHttpAgent()`.
 * @example
 * const agent = http.toHttpAgent();
 * await axios.get('http://api.internal/items', { httpAgent: agent });
 */
export class WeirHttpAgent extends http.Agent {
  readonly #lender: Lender;

  /** @internal */
  constructor(source: AgentSource) {
    // keepAlive tells Node's client to keep the socket and emit `free` after each response.
    super({ keepAlive: true });
    this.#lender = new Lender(source, 'http:');
  }

  /** @internal Node's hook: called for every request made with this agent. */
  addRequest(req: ClientRequest, options: RequestOptions): void {
    this.#lender.lend(req, options);
  }

  /** The figures of the pool this agent belongs to (its requests are counted there). */
  stats(): HttpPoolStats {
    return this.#lender.stats();
  }

  /**
   * Closes the sockets in use by requests of this agent and refuses its later requests
   * with `ERR_HTTP_CLOSED`. The pool and its other connections stay open.
   */
  override destroy(): void {
    this.#lender.destroy();
    super.destroy();
  }
}

/**
 * A Node `https.Agent` whose TLS sockets are connections of the weir pool it came from
 * (HTTP/1.1; on an origin where the pool speaks HTTP/2 the agent's requests take HTTP/1.1
 * connections of the same budget). Get one with `pool.toHttpsAgent()`.
 */
export class WeirHttpsAgent extends https.Agent {
  readonly #lender: Lender;

  /** @internal */
  constructor(source: AgentSource) {
    super({ keepAlive: true });
    this.#lender = new Lender(source, 'https:');
  }

  /** @internal Node's hook: called for every request made with this agent. */
  addRequest(req: ClientRequest, options: RequestOptions): void {
    this.#lender.lend(req, options);
  }

  /** The figures of the pool this agent belongs to (its requests are counted there). */
  stats(): HttpPoolStats {
    return this.#lender.stats();
  }

  /** Same as {@link WeirHttpAgent.destroy}. */
  override destroy(): void {
    this.#lender.destroy();
    super.destroy();
  }
}
