import pg from 'pg';
import { realClock } from '../internal/clock.js';
import { describe, isWeirError } from '../internal/errors.js';
import {
  checkInt,
  checkKeys,
  checkMs,
  checkObject,
  omitKeys,
  optionKeys,
} from '../internal/options.js';
import { abortReason, onAbort } from '../internal/signals.js';
import type { AcquireOptions, Lease, Pool, PoolOptions, PoolStats } from '../pool/index.js';
import { createPool } from '../pool/index.js';
import { poolOptionKeys } from '../pool/options.js';
import { cancelActive, type QueryOptions, runQuery } from './query.js';
import { isStaleStatement, PreparedStatements } from './statements.js';

/** A pooled node-postgres client and what the pool knows about its health. */
interface Conn {
  client: pg.Client;
  /** @internal Its named server-side statements; `undefined` when preparing is off. */
  statements: PreparedStatements | undefined;
  /** Set when the connection reported an error or ended; it is never handed out again. */
  broken: unknown;
}

/** A permit from an external limiter (a fleet-wide semaphore), held while a connection is open. */
export interface ConnectionPermits {
  acquire(options: { signal: AbortSignal }): Promise<{ release(): void }>;
}

/** Options of {@link createPgPool}: node-postgres connection settings plus `weir/pool`'s. */
export interface PgPoolOptions
  extends Omit<
    PoolOptions<Conn>,
    'create' | 'destroy' | 'validate' | 'reset' | 'onIdle' | 'weigh' | 'maxWeight'
  > {
  /** Connection settings passed to `new pg.Client(...)`, or a connection string. */
  connection?: pg.ClientConfig | string;
  /** Run `DISCARD ALL` when a connection is returned, so no session state leaks. @default false */
  discardOnReturn?: boolean;
  /**
   * How many distinct parameterised statements each connection keeps prepared on the
   * server: such a text is parsed and planned once per connection, then only bound and
   * executed. Texts beyond the limit run unnamed. `0` turns this off, as a PgBouncer in
   * transaction mode needs. @default 100
   */
  preparedStatements?: number;
  /** Default timeout of every query; cancelled on the server when reached. @default Infinity */
  queryTimeoutMs?: number;
  /**
   * An external bound on open connections, e.g. a distributed semaphore shared by a fleet:
   * a permit is taken before connecting and given back when the connection closes.
   */
  permits?: ConnectionPermits;
  /**
   * Lets the process exit while connections sit idle, as `pg.Pool`'s option of that name
   * does: an idle connection's socket is unref'd, and ref'd again when the connection is
   * leased or validated. Idle connections can only be used by code that something else
   * (a server, a timer, a query in flight) keeps running, so a script that forgets to
   * `drain()` still ends. `false` keeps idle connections holding the process open.
   * @default true
   */
  allowExitOnIdle?: boolean;
}

const PG_POOL_KEYS = optionKeys<PgPoolOptions>({
  ...omitKeys(
    poolOptionKeys,
    'create',
    'destroy',
    'validate',
    'reset',
    'onIdle',
    'weigh',
    'maxWeight',
  ),
  connection: 1,
  allowExitOnIdle: 1,
  discardOnReturn: 1,
  preparedStatements: 1,
  queryTimeoutMs: 1,
  permits: 1,
});
const QUERY_KEYS = optionKeys<QueryOptions>({ signal: 1, timeoutMs: 1 });
const POOL_QUERY_KEYS = optionKeys<QueryOptions & Pick<AcquireOptions, 'priority'>>({
  signal: 1,
  timeoutMs: 1,
  priority: 1,
});
const TRANSACTION_KEYS = optionKeys<TransactionOptions>({ isolation: 1, readOnly: 1, signal: 1 });

/** Transaction isolation levels. */
export type IsolationLevel = 'read committed' | 'repeatable read' | 'serializable';

type TransactionOptions = { isolation?: IsolationLevel; readOnly?: boolean; signal?: AbortSignal };

/** What a transaction callback gets: queries on the transaction's connection. */
export interface Transaction {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    text: string,
    values?: unknown[],
    options?: QueryOptions,
  ): Promise<pg.QueryResult<R>>;
  /** The transaction's node-postgres client, for what `query` does not cover (COPY, cursors). */
  readonly client: pg.Client;
}

/** A leased connection for several statements in a row; release it (or `await using`). */
export interface PgLease extends Transaction {
  release(): void;
  /** Closes the connection instead of reusing it. */
  destroy(reason?: unknown): void;
  [Symbol.asyncDispose](): Promise<void>;
}

const CONNECTION_LOST = new Set(['57P01', '57P02', '57P03', 'ECONNRESET', 'EPIPE']);

/**
 * A PostgreSQL pool on `weir/pool` and node-postgres: idle connections are checked
 * before use, dead ones never handed out, aborted queries cancelled on the server, and
 * connections returned inside a transaction rolled back.
 */
export class PgPool {
  /** The underlying `weir/pool`, for stats, events, resize and drain. */
  readonly pool: Pool<Conn>;
  readonly #config: pg.ClientConfig;
  readonly #queryTimeoutMs: number;
  readonly #preparedStatements: number;
  readonly #clock;
  readonly #runOn: Run = (conn, text, values, options, signal) =>
    this.#run(conn, text, values, options, signal);

  /** @internal Use {@link createPgPool}. */
  constructor(options: PgPoolOptions = {}) {
    checkObject('options', options);
    checkKeys('createPgPool', options, PG_POOL_KEYS);
    const {
      connection,
      discardOnReturn = false,
      preparedStatements = 100,
      queryTimeoutMs,
      permits,
      allowExitOnIdle = true,
      ...poolOptions
    } = options;
    if (typeof allowExitOnIdle !== 'boolean') {
      throw new TypeError(
        `Expected \`allowExitOnIdle\` to be a boolean, got ${describe(allowExitOnIdle)}`,
      );
    }
    this.#config =
      typeof connection === 'string' ? { connectionString: connection } : { ...connection };
    this.#queryTimeoutMs =
      queryTimeoutMs === undefined
        ? Number.POSITIVE_INFINITY
        : checkMs('queryTimeoutMs', queryTimeoutMs);
    this.#preparedStatements = checkInt('preparedStatements', preparedStatements, 0);
    this.#clock = poolOptions.clock ?? realClock;
    const held = new WeakMap<Conn, { release(): void }>();
    this.pool = createPool<Conn>({
      name: 'pg',
      ...poolOptions,
      create: async (signal) => {
        const permit = permits === undefined ? undefined : await permits.acquire({ signal });
        try {
          const conn = await this.#connect(signal);
          if (permit !== undefined) held.set(conn, permit);
          return conn;
        } catch (error) {
          permit?.release();
          throw error;
        }
      },
      destroy: async (conn) => {
        try {
          // A backend busy with a statement reads no Terminate until it finishes: cancel first.
          cancelActive(conn.client, this.#config);
          await endQuietly(conn.client);
        } finally {
          held.get(conn)?.release();
        }
      },
      validate: async (conn, signal) => {
        if (conn.broken !== undefined) return false;
        await runQuery(
          conn.client,
          'SELECT 1',
          undefined,
          signal,
          Number.POSITIVE_INFINITY,
          this.#config,
          this.#clock,
        );
        return conn.broken === undefined;
      },
      ...(allowExitOnIdle ? { onIdle: holdProcess } : {}),
      // Synchronous when there is nothing to clean, which is nearly always: no extra tick
      // before the connection serves the next caller.
      reset: (conn) => {
        if (conn.broken !== undefined) throw conn.broken;
        const status = conn.client.getTransactionStatus();
        const rollback = status !== 'I' && status !== null;
        if (!rollback && !discardOnReturn) return;
        return (async () => {
          if (rollback) await conn.client.query('ROLLBACK');
          if (discardOnReturn) {
            await conn.client.query('DISCARD ALL');
            conn.statements?.clear();
          }
        })();
      },
    });
  }

  async #connect(signal: AbortSignal): Promise<Conn> {
    const client = new pg.Client(this.#config);
    const statements =
      this.#preparedStatements > 0
        ? new PreparedStatements(client, this.#preparedStatements)
        : undefined;
    const conn: Conn = { client, statements, broken: undefined };
    // Attached before connecting: an error on an idle connection (the server restarted, an
    // admin ran pg_terminate_backend) retires it instead of crashing the process.
    const lost = (error: unknown): void => {
      if (conn.broken === undefined) conn.broken = error ?? new Error('connection ended');
      this.pool?.retire(conn, conn.broken);
    };
    client.on('error', lost);
    client.on('end', () => lost(undefined));
    const dispose = onAbort(signal, () => void endQuietly(client));
    try {
      if (signal.aborted) throw abortReason(signal);
      await client.connect();
      if (signal.aborted) throw abortReason(signal);
    } catch (error) {
      await endQuietly(client);
      throw error;
    } finally {
      dispose();
    }
    return conn;
  }

  /**
   * Runs one statement on a pooled connection. A statement that fails because the
   * connection was lost before it ran (its server process was terminated while idle) is
   * retried once on a fresh connection; one whose prepared form the server no longer
   * accepts (deallocated, or its tables changed shape) is prepared again and retried once.
   * @throws {QueryTimeoutError} `ERR_PG_QUERY_TIMEOUT` after `timeoutMs`, cancelled on the server.
   * @throws the signal's reason on abort (the query is cancelled on the server), pool errors
   *   (`ERR_POOL_TIMEOUT`, `ERR_CIRCUIT_OPEN`, …), and PostgreSQL's own errors.
   * @example
   * const { rows } = await db.query('SELECT * FROM users WHERE id = $1', [id], { timeoutMs: 500 });
   */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    text: string,
    values?: unknown[],
    options?: QueryOptions & Pick<AcquireOptions, 'priority'>,
  ): Promise<pg.QueryResult<R>> {
    try {
      checkKeys('PgPool.query', options, POOL_QUERY_KEYS);
      checkQueryOptions(options);
    } catch (error) {
      return Promise.reject(error);
    }
    // A free connection is taken synchronously: no lease promise, no extra tick.
    const lease =
      options?.signal === undefined && options?.priority === undefined
        ? this.pool.tryAcquire()
        : null;
    return lease !== null
      ? this.#attempt<R>(lease, text, values, options, 1)
      : this.#acquireThenRun<R>(text, values, options, 1);
  }

  async #acquireThenRun<R extends pg.QueryResultRow>(
    text: string,
    values: unknown[] | undefined,
    options: (QueryOptions & Pick<AcquireOptions, 'priority'>) | undefined,
    attempt: number,
  ): Promise<pg.QueryResult<R>> {
    const lease = await this.pool.acquire(acquireOptions(options));
    return this.#attempt<R>(lease, text, values, options, attempt);
  }

  #attempt<R extends pg.QueryResultRow>(
    lease: Lease<Conn>,
    text: string,
    values: unknown[] | undefined,
    options: (QueryOptions & Pick<AcquireOptions, 'priority'>) | undefined,
    attempt: number,
  ): Promise<pg.QueryResult<R>> {
    return this.#run<R>(lease.value, text, values, options).then(
      (result) => {
        lease.release();
        return result;
      },
      (error: unknown) => {
        const lost = lease.value.broken !== undefined || isConnectionLost(error);
        if (lost) lease.destroy(error);
        else lease.release();
        // A statement refused because its connection had died (terminated while idle, reset)
        // never took effect: the server rolls back whatever a terminated backend was doing.
        // It is retried once, on another connection. A socket that merely dropped
        // mid-statement is not retried: that statement may have committed.
        const retry = lost ? neverTookEffect(error) : isStaleStatement(error);
        if (attempt === 1 && retry && !options?.signal?.aborted) {
          return this.#acquireThenRun<R>(text, values, options, 2);
        }
        throw error;
      },
    );
  }

  /**
   * Runs `fn` inside BEGIN … COMMIT on one connection; a throw or an abort rolls back.
   * @throws whatever `fn` throws (after ROLLBACK), or the COMMIT's error.
   * @example
   * await db.transaction(async (tx) => {
   *   await tx.query('UPDATE accounts SET balance = balance - $1 WHERE id = $2', [10, from]);
   *   await tx.query('UPDATE accounts SET balance = balance + $1 WHERE id = $2', [10, to]);
   * }, { isolation: 'serializable' });
   */
  async transaction<R>(
    fn: (tx: Transaction) => Promise<R>,
    options?: { isolation?: IsolationLevel; readOnly?: boolean; signal?: AbortSignal },
  ): Promise<R> {
    checkKeys('PgPool.transaction', options, TRANSACTION_KEYS);
    const lease = await this.pool.acquire(acquireOptions(options));
    const tx = this.#wrap(lease, options?.signal);
    try {
      let begin = 'BEGIN';
      if (options?.isolation !== undefined) {
        if (!['read committed', 'repeatable read', 'serializable'].includes(options.isolation)) {
          throw new TypeError(
            `Expected \`isolation\` to be an isolation level, got ${JSON.stringify(options.isolation)}`,
          );
        }
        begin += ` ISOLATION LEVEL ${options.isolation.toUpperCase()}`;
      }
      if (options?.readOnly) begin += ' READ ONLY';
      await tx.query(begin);
      const result = await fn(tx);
      await tx.query('COMMIT');
      lease.release();
      return result;
    } catch (error) {
      // The reset hook rolls back whatever is still open on return; a connection that
      // cannot even do that is destroyed by it.
      if (lease.value.broken !== undefined || isConnectionLost(error)) lease.destroy(error);
      else lease.release();
      throw error;
    }
  }

  /**
   * Leases one connection for several statements; give it back with `release()`.
   * @throws pool errors (`ERR_POOL_TIMEOUT`, `ERR_CIRCUIT_OPEN`, …) or the signal's reason.
   */
  connect(options?: AcquireOptions): Promise<PgLease> {
    return this.pool.acquire(options).then((lease) => this.#wrap(lease, options?.signal));
  }

  #wrap(lease: Lease<Conn>, signal: AbortSignal | undefined): PgLease {
    return new LeasedConnection(lease, signal, this.#runOn);
  }

  /** Runs on `conn`; `options` are already checked, `signal` may come from a lease. */
  #run<R extends pg.QueryResultRow>(
    conn: Conn,
    text: string,
    values: unknown[] | undefined,
    options: QueryOptions | undefined,
    signal = options?.signal,
  ): Promise<pg.QueryResult<R>> {
    return runQuery<R>(
      conn.client,
      text,
      values,
      signal,
      options?.timeoutMs ?? this.#queryTimeoutMs,
      this.#config,
      this.#clock,
      conn.statements,
    );
  }

  /** The pool's stats (see `weir/pool`). */
  stats(): PoolStats {
    return this.pool.stats();
  }

  /** Graceful shutdown of every connection (see `Pool.drain`). */
  drain(options?: { timeoutMs?: number }): Promise<void> {
    return this.pool.drain(options);
  }

  /** Forced shutdown: connections in use are closed too. */
  close(): Promise<void> {
    return this.pool.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.drain();
  }
}

type Run = (
  conn: Conn,
  text: string,
  values: unknown[] | undefined,
  options: QueryOptions | undefined,
  signal: AbortSignal | undefined,
) => Promise<pg.QueryResult>;

/** A class rather than an object of closures: borrowing is on the hot path. */
class LeasedConnection implements PgLease {
  readonly #lease: Lease<Conn>;
  readonly #signal: AbortSignal | undefined;
  readonly #run: Run;

  constructor(lease: Lease<Conn>, signal: AbortSignal | undefined, run: Run) {
    this.#lease = lease;
    this.#signal = signal;
    this.#run = run;
  }

  get client(): pg.Client {
    return this.#lease.value.client;
  }

  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    text: string,
    values?: unknown[],
    options?: QueryOptions,
  ): Promise<pg.QueryResult<R>> {
    try {
      checkKeys('PgLease.query (or Transaction.query)', options, QUERY_KEYS);
      checkQueryOptions(options);
    } catch (error) {
      return Promise.reject(error);
    }
    // The lease's signal (a transaction's) unless the call brings its own.
    const signal = options?.signal ?? this.#signal;
    return this.#run(this.#lease.value, text, values, options, signal) as Promise<
      pg.QueryResult<R>
    >;
  }

  release(): void {
    this.#lease.release();
  }

  destroy(reason?: unknown): void {
    this.#lease.destroy(reason);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.#lease[Symbol.asyncDispose]();
  }
}

function checkQueryOptions(options: QueryOptions | undefined): void {
  if (options === undefined) return;
  checkObject('options', options);
  if (options.timeoutMs !== undefined) checkMs('timeoutMs', options.timeoutMs);
}

function acquireOptions(
  options: { signal?: AbortSignal; priority?: number } | undefined,
): AcquireOptions | undefined {
  if (options === undefined) return undefined;
  const out: AcquireOptions = {};
  if (options.signal !== undefined) out.signal = options.signal;
  if (options.priority !== undefined) out.priority = options.priority;
  return out;
}

function isConnectionLost(error: unknown): boolean {
  if (isWeirError(error)) return false;
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && CONNECTION_LOST.has(code)) return true;
  const message = error instanceof Error ? error.message : '';
  return /Connection terminated|not queryable|Client has encountered a connection error/.test(
    message,
  );
}

/** Terminated by the server (the statement was rolled back) or refused by the client before sending. */
function neverTookEffect(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === '57P01' || code === '57P02' || code === '57P03') return true;
  const message = error instanceof Error ? error.message : '';
  return /not queryable|Client has encountered a connection error/.test(message);
}

/** node-postgres's Client.ref/unref (on its socket), missing from its type declarations. */
interface Refable {
  ref(): void;
  unref(): void;
}

/** An idle connection's socket does not keep the process alive; a busy one does. */
function holdProcess(conn: Conn, idle: boolean): void {
  const client = conn.client as unknown as Refable;
  if (idle) client.unref();
  else client.ref();
}

async function endQuietly(client: pg.Client): Promise<void> {
  try {
    await client.end();
  } catch {
    // Already closed or never connected: nothing to free.
  }
}

/**
 * Creates a PostgreSQL pool.
 * @throws {TypeError|RangeError} for bad options, naming the option.
 * @example
 * const db = createPgPool({ connection: 'postgres://127.0.0.1/test', max: 10 });
 * const { rows } = await db.query('SELECT now()');
 * await db.drain();
 */
export function createPgPool(options?: PgPoolOptions): PgPool {
  return new PgPool(options);
}
