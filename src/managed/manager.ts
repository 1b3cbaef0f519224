// The contract between a pooled client and the managed layer: how to open, check, clean
// and close one connection, and how to tell that it broke. Everything else (limits, waits,
// retries, the breaker, shutdown, stats) is the pool's, written once in managed-pool.ts.

/**
 * How to run one kind of connection (a database session, an HTTP origin's socket, a
 * WebSocket, a WebAssembly instance) in a {@link ManagedPool}. Only `connect` and `close`
 * are required. Methods are called on the manager (`this` is the manager), so a class works
 * as well as an object literal.
 *
 * A connection is handed to one borrower at a time (unless the pool is created with
 * `shared`), is never handed out while `isBroken` says so, is checked with `check` before
 * it is handed out after sitting idle, and is cleaned with `reset` when it comes back.
 * Every hook but `connect`, `check` and `close` runs on the borrow or return path, and
 * synchronously when it can: keep them cheap.
 * @example
 * const manager: Manager<net.Socket> = {
 *   connect: (signal, retire) =>
 *     new Promise((resolve, reject) => {
 *       const socket = net.connect({ host: '127.0.0.1', port: 6379, signal });
 *       socket.once('connect', () => {
 *         socket.on('close', () => retire('closed by the server'));
 *         resolve(socket);
 *       });
 *       socket.once('error', reject);
 *     }),
 *   close: (socket) => void socket.destroy(),
 *   isBroken: (socket) => socket.destroyed,
 *   ref: (socket) => void socket.ref(),
 *   unref: (socket) => void socket.unref(),
 * };
 * const pool = createManagedPool(manager, { max: 4, allowExitOnIdle: true });
 */
export interface Manager<C> {
  /**
   * Opens one connection. `signal` aborts when `connectTimeoutMs` passes or the pool
   * closes; a connection that arrives after that is closed, never leaked.
   *
   * `retire` takes this connection out of service from the connection's own events (an
   * `error` or `close` while idle, a server's GOAWAY): idle, it is closed at once; leased,
   * when its lease comes back. It may be called before `connect` resolves (the connect
   * then fails with the reason) and any number of times after; it never throws.
   * @throws whatever fails the connect: the pool reports it as `ERR_POOL_CREATE_FAILED`
   *   and retries with backoff (and its breaker counts it).
   */
  connect(signal: AbortSignal, retire: (reason?: unknown) => void): C | Promise<C>;
  /**
   * Closes a connection. Bounded by `closeTimeoutMs` (a close that hangs is abandoned);
   * an error is reported in the pool's `destroy` event, never thrown to a borrower.
   */
  close(connection: C): void | Promise<void>;
  /**
   * Checks a connection before it is handed out after sitting idle longer than
   * `checkAfterIdleMs`, and idle ones every `checkIntervalMs` (a `SELECT 1`, a ping).
   * `false`, a throw or a timeout closes it and the borrower gets another.
   */
  check?(connection: C, signal: AbortSignal): boolean | Promise<boolean>;
  /**
   * Cleans a connection when its (last) lease comes back, before anyone else gets it
   * (a ROLLBACK, DISCARD ALL). Return without a promise when there is nothing to clean: a
   * synchronous reset costs the next borrower no extra tick. A throw closes it.
   */
  reset?(connection: C): void | Promise<void>;
  /**
   * A cheap, synchronous health flag (the client saw an error, the socket is destroyed).
   * A connection for which it returns true is never lent and never returned to the idle
   * set: it is closed instead. Asked wherever the pool is about to lend a connection (from
   * the idle set, or straight from a return, a create or a check) and on return, so it must
   * not do I/O; use `check` for a round trip.
   */
  isBroken?(connection: C): boolean;
  /**
   * With `allowExitOnIdle`: the connection left the idle set (to serve a borrower, or to be
   * checked) and must keep the process alive again (`socket.ref()`). `connect` is assumed
   * to return a connection that holds the process, as a socket does: one handed straight
   * from `connect`, or from one borrower to the next, never went idle and is not told.
   */
  ref?(connection: C): void;
  /**
   * With `allowExitOnIdle`: the connection entered the idle set (after `connect` with
   * nobody waiting for it, after `reset` on return) and must not keep the process alive
   * (`socket.unref()`). Calls alternate with `ref`, starting with `unref`.
   */
  unref?(connection: C): void;
}

/**
 * A permit from an external limiter, held while one connection is open.
 * @example
 * const permit: ConnectionPermit = { release: () => semaphore.release() };
 */
export interface ConnectionPermit {
  release(): void;
}

/**
 * An external bound on open connections, such as a semaphore shared by a fleet of
 * processes: a permit is taken before each connect (waiting with the connect's signal) and
 * released when that connection closes or its connect fails.
 * @example
 * const permits: ConnectionPermits = { acquire: ({ signal }) => fleetSemaphore.acquire({ signal }) };
 * const pool = createManagedPool(manager, { max: 20, permits });
 */
export interface ConnectionPermits {
  acquire(options: { signal: AbortSignal }): Promise<ConnectionPermit>;
}
