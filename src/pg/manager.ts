// How weir's managed layer runs one node-postgres connection: connect (with the
// connection's own error and end events retiring it), check with SELECT 1, clean on
// return (ROLLBACK, DISCARD ALL), close (cancelling a statement still running), and the
// socket's ref/unref for allowExitOnIdle.
import pg from 'pg';
import { type Clock, realClock } from '../internal/clock.js';
import { abortReason, onAbort } from '../internal/signals.js';
import type { Manager } from '../managed/index.js';
import { cancelActive, runQuery } from './query.js';
import { PreparedStatements } from './statements.js';

/** A pooled node-postgres client and what the pool knows about its health. */
export interface PgConnection {
  /** The node-postgres client. */
  readonly client: pg.Client;
  /** @internal Its named server-side statements; `undefined` when preparing is off. */
  readonly statements: PreparedStatements | undefined;
  /** Set when the connection reported an error or ended; it is never handed out again. */
  broken: unknown;
}

/**
 * What a {@link PgManager} is made from (`createPgPool` makes it from {@link PgPoolOptions}).
 * @example
 * const options: PgManagerOptions = { config: { host: '127.0.0.1' }, discardOnReturn: true };
 */
export interface PgManagerOptions {
  /** Settings of every `pg.Client`, and of the short connections that carry cancels. */
  config: pg.ClientConfig;
  /** Named statements kept per connection (0: none). @default 100 */
  preparedStatements?: number;
  /** `DISCARD ALL` on every return. @default false */
  discardOnReturn?: boolean;
  /** Clock of query timeouts. @default the real clock */
  clock?: Clock;
}

/** node-postgres's Client.ref/unref (on its socket), missing from its type declarations. */
interface Refable {
  ref(): void;
  unref(): void;
}

/**
 * The {@link Manager} of a {@link PgPool}'s connections (`db.pool.manager`): opens a
 * `pg.Client`, checks it with `SELECT 1`, rolls back a transaction left open on return (and
 * runs `DISCARD ALL` with `discardOnReturn`), calls it broken once it reported an error or
 * ended, cancels a running statement before closing, and refs/unrefs its socket. Usable in
 * a `KeyedPool` of databases as it is.
 * @example
 * const regions = createKeyedPool({
 *   pool: (region: string) => ({ manager: new PgManager({ config: { host: hosts[region] } }) }),
 * });
 */
export class PgManager implements Manager<PgConnection> {
  /** Settings of every connection; a cancel request travels on a short one of its own. */
  readonly config: pg.ClientConfig;
  /** Clock of query timeouts. */
  readonly clock: Clock;
  readonly #preparedStatements: number;
  readonly #discardOnReturn: boolean;

  /** A manager of connections with `o`'s settings. */
  constructor(o: PgManagerOptions) {
    this.config = o.config;
    this.clock = o.clock ?? realClock;
    this.#preparedStatements = o.preparedStatements ?? 100;
    this.#discardOnReturn = o.discardOnReturn ?? false;
  }

  async connect(signal: AbortSignal, retire: (reason?: unknown) => void): Promise<PgConnection> {
    const client = new pg.Client(this.config);
    const statements =
      this.#preparedStatements > 0
        ? new PreparedStatements(client, this.#preparedStatements)
        : undefined;
    const conn: PgConnection = { client, statements, broken: undefined };
    // Attached before connecting: an error on an idle connection (the server restarted, an
    // admin ran pg_terminate_backend) retires it instead of crashing the process. The
    // managed layer keeps a retire that comes before the pool holds the connection.
    const lost = (error: unknown): void => {
      conn.broken ??= error ?? new Error('connection ended');
      retire(conn.broken);
    };
    client.on('error', lost);
    client.on('end', () => lost(undefined));
    try {
      if (signal.aborted) throw abortReason(signal);
      await connectOrAbort(client, signal);
      if (signal.aborted) throw abortReason(signal);
    } catch (error) {
      await endQuietly(client);
      throw error;
    }
    return conn;
  }

  /** Cancels a statement still running, then ends the client. */
  async close(conn: PgConnection): Promise<void> {
    // A backend busy with a statement reads no Terminate until it finishes: cancel first.
    cancelActive(conn.client, this.config);
    await endQuietly(conn.client);
  }

  /** `SELECT 1`. */
  async check(conn: PgConnection, signal: AbortSignal): Promise<boolean> {
    await runQuery(conn, { text: 'SELECT 1', signal }, this);
    return conn.broken === undefined;
  }

  /** The client reported an error or ended. */
  isBroken(conn: PgConnection): boolean {
    return conn.broken !== undefined;
  }

  /**
   * Rolls back a transaction left open, and runs `DISCARD ALL` with `discardOnReturn`.
   * Synchronous when there is nothing to clean, which is nearly always: no extra tick
   * before the connection serves the next caller.
   */
  reset(conn: PgConnection): void | Promise<void> {
    const status = conn.client.getTransactionStatus();
    const rollback = status !== 'I' && status !== null;
    if (!rollback && !this.#discardOnReturn) return;
    return this.#clean(conn, rollback);
  }

  async #clean(conn: PgConnection, rollback: boolean): Promise<void> {
    if (rollback) await conn.client.query('ROLLBACK');
    if (this.#discardOnReturn) {
      await conn.client.query('DISCARD ALL');
      conn.statements?.clear();
    }
  }

  /** The socket keeps the process alive. */
  ref(conn: PgConnection): void {
    (conn.client as unknown as Refable).ref();
  }

  /** The socket does not keep the process alive. */
  unref(conn: PgConnection): void {
    (conn.client as unknown as Refable).unref();
  }
}

/**
 * `client.connect()`, rejecting with the signal's reason as soon as it aborts. node-postgres
 * never settles a connect whose client is ended before the server answered (its `end`
 * handler skips the connect callback once `end()` was called), so waiting for the connect
 * itself after an abort would hang the caller, and whatever it holds for the connection
 * (a fleet-wide permit, room in a budget) would never be given back.
 */
function connectOrAbort(client: pg.Client, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const dispose = onAbort(signal, (reason) => {
      // A server that has not answered may never answer the Terminate that a graceful
      // end() sends and waits on: the socket is destroyed instead, which ends the client.
      (
        client as unknown as { connection?: { stream?: { destroy(): void } } }
      ).connection?.stream?.destroy();
      void endQuietly(client);
      reject(reason);
    });
    client.connect().then(
      () => {
        dispose();
        resolve();
      },
      (error: unknown) => {
        dispose();
        reject(error);
      },
    );
  });
}

async function endQuietly(client: pg.Client): Promise<void> {
  try {
    await client.end();
  } catch {
    // Already closed or never connected: nothing to free.
  }
}
