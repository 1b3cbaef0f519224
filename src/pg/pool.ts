// weir/pg's pool: node-postgres connections run by a PgManager on the managed layer, and
// the verbs (query with one retry on a lost or stale connection, transaction, connect).
import type pg from 'pg';
import { isWeirError } from '../internal/errors.js';
import {
  checkInt,
  checkKeys,
  checkMs,
  checkObject,
  type KeyList,
  optionKeys,
} from '../internal/options.js';
import { createManagedPool, type ManagedPoolOptions, PooledClient } from '../managed/index.js';
import { managedOptionKeys } from '../managed/options.js';
import type { AcquireOptions, Lease } from '../pool/index.js';
import { type PgConnection, PgManager } from './manager.js';
import { type QueryOptions, runQuery, type Statement, sendQuery } from './query.js';
import { isStaleStatement } from './statements.js';

/**
 * Options of {@link createPgPool}: node-postgres connection settings plus the managed
 * pool's options (`weir/managed`). A `pg.Client` serves one borrower at a time, so the
 * sharing options (`maxLeasesPerResource`, `leaseLimit`, `shared`) do not compile. The
 * `weir/pool` names pg took before (`createTimeoutMs`, `validateAfterIdleMs`,
 * `validateIntervalMs`, `validateTimeoutMs`, `destroyTimeoutMs`) are still accepted as
 * aliases of `connectTimeoutMs`, `checkAfterIdleMs`, `checkIntervalMs`, `checkTimeoutMs`
 * and `closeTimeoutMs`.
 * @example
 * const options: PgPoolOptions = { connection: 'postgres://127.0.0.1/app', max: 10, queryTimeoutMs: 5_000 };
 */
export interface PgPoolOptions extends ManagedPoolOptions {
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
   * Lets the process exit while connections sit idle, as `pg.Pool`'s option of that name
   * does: an idle connection's socket is unref'd, and ref'd again when the connection is
   * leased or validated. Idle connections can only be used by code that something else
   * (a server, a timer, a query in flight) keeps running, so a script that forgets to
   * `drain()` still ends. `false` keeps idle connections holding the process open.
   * @default true
   */
  allowExitOnIdle?: boolean;
}

type Sharing = 'shared' | 'maxLeasesPerResource' | 'leaseLimit';
const PG_ONLY_KEYS: KeyList<Omit<PgPoolOptions, keyof ManagedPoolOptions>> = {
  connection: 1,
  discardOnReturn: 1,
  preparedStatements: 1,
  queryTimeoutMs: 1,
};
const PG_POOL_KEYS = optionKeys<Omit<PgPoolOptions, Sharing>>({
  ...managedOptionKeys,
  ...PG_ONLY_KEYS,
});
const SHARING: readonly Sharing[] = ['shared', 'maxLeasesPerResource', 'leaseLimit'];
const QUERY_KEYS = optionKeys<QueryOptions>({ signal: 1, timeoutMs: 1 });
const POOL_QUERY_KEYS = optionKeys<QueryOptions & Pick<AcquireOptions, 'priority'>>({
  signal: 1,
  timeoutMs: 1,
  priority: 1,
});
const TRANSACTION_KEYS = optionKeys<TransactionOptions>({ isolation: 1, readOnly: 1, signal: 1 });

/** Transaction isolation levels. */
export type IsolationLevel = 'read committed' | 'repeatable read' | 'serializable';

/**
 * Options of {@link PgPool.transaction}.
 * @example
 * await db.transaction(fn, { isolation: 'serializable', readOnly: true, signal });
 */
export interface TransactionOptions {
  /** @default the server's (`read committed`) */
  isolation?: IsolationLevel;
  /** `BEGIN … READ ONLY`. @default false */
  readOnly?: boolean;
  /** Aborts the wait for a connection and every statement of the transaction. */
  signal?: AbortSignal;
}

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
 * A PostgreSQL pool on the managed layer and node-postgres: idle connections are checked
 * before use, dead ones never handed out, aborted queries cancelled on the server, and
 * connections returned inside a transaction rolled back. `stats`, `drain`, `close`,
 * `await using` and `pool` (events, resize, leases) come from {@link PooledClient}.
 */
export class PgPool extends PooledClient<PgConnection, PgManager> {
  readonly #queryTimeoutMs: number;
  readonly #runOn: Run = (conn, text, values, options, signal) =>
    this.#run(conn, text, values, options, signal);

  /**
   * @internal Use {@link createPgPool}.
   * @throws {TypeError|RangeError} for bad options, naming the option.
   */
  constructor(options: PgPoolOptions = {}) {
    checkObject('options', options);
    for (const key of SHARING) {
      if ((options as Record<string, unknown>)[key] !== undefined) {
        throw new TypeError(
          `\`${key}\` is not an option of createPgPool: a pg.Client serves one borrower at a time`,
        );
      }
    }
    checkKeys('createPgPool', options, PG_POOL_KEYS);
    const {
      connection,
      discardOnReturn = false,
      preparedStatements = 100,
      queryTimeoutMs,
      allowExitOnIdle = true,
      ...poolOptions
    } = options;
    const manager = new PgManager({
      config: typeof connection === 'string' ? { connectionString: connection } : { ...connection },
      preparedStatements: checkInt('preparedStatements', preparedStatements, 0),
      discardOnReturn,
      ...(poolOptions.clock === undefined ? {} : { clock: poolOptions.clock }),
    });
    const timeoutMs =
      queryTimeoutMs === undefined
        ? Number.POSITIVE_INFINITY
        : checkMs('queryTimeoutMs', queryTimeoutMs);
    super(createManagedPool(manager, { name: 'pg', ...poolOptions, allowExitOnIdle }));
    this.#queryTimeoutMs = timeoutMs;
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
    lease: Lease<PgConnection>,
    text: string,
    values: unknown[] | undefined,
    options: (QueryOptions & Pick<AcquireOptions, 'priority'>) | undefined,
    attempt: number,
  ): Promise<pg.QueryResult<R>> {
    const statement = this.#statement(text, values, options, options?.signal);
    // One promise per query: the connection goes back from node-postgres's callback, which
    // runs once the server is ready for the next statement.
    return new Promise<pg.QueryResult<R>>((resolve, reject) => {
      sendQuery(lease.value, statement, this.pool.manager, (error, result) => {
        if (error === undefined) {
          lease.release();
          resolve(result as pg.QueryResult<R>);
          return;
        }
        // A microtask later, as when this was a promise's rejection: node-postgres reports
        // an error before it reads the ReadyForQuery that follows it in the same chunk.
        queueMicrotask(() => {
          try {
            resolve(this.#failed<R>(lease, error, text, values, options, attempt));
          } catch (thrown) {
            reject(thrown);
          }
        });
      });
    });
  }

  /** Gives back (or destroys) the connection of a failed statement; retries it or throws. */
  #failed<R extends pg.QueryResultRow>(
    lease: Lease<PgConnection>,
    error: unknown,
    text: string,
    values: unknown[] | undefined,
    options: (QueryOptions & Pick<AcquireOptions, 'priority'>) | undefined,
    attempt: number,
  ): Promise<pg.QueryResult<R>> {
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
    options?: TransactionOptions,
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

  #wrap(lease: Lease<PgConnection>, signal: AbortSignal | undefined): PgLease {
    return new LeasedConnection(lease, signal, this.#runOn);
  }

  /** Runs on `conn`; `options` are already checked, `signal` may come from a lease. */
  #run<R extends pg.QueryResultRow>(
    conn: PgConnection,
    text: string,
    values: unknown[] | undefined,
    options: QueryOptions | undefined,
    signal = options?.signal,
  ): Promise<pg.QueryResult<R>> {
    // The manager holds what every statement shares: the cancel settings and the clock.
    return runQuery<R>(conn, this.#statement(text, values, options, signal), this.pool.manager);
  }

  /** A statement with the pool's default query timeout where `options` set none. */
  #statement(
    text: string,
    values: unknown[] | undefined,
    options: QueryOptions | undefined,
    signal: AbortSignal | undefined,
  ): Statement {
    return { text, values, signal, timeoutMs: options?.timeoutMs ?? this.#queryTimeoutMs };
  }
}

type Run = (
  conn: PgConnection,
  text: string,
  values: unknown[] | undefined,
  options: QueryOptions | undefined,
  signal: AbortSignal | undefined,
) => Promise<pg.QueryResult>;

/** A class rather than an object of closures: borrowing is on the hot path. */
class LeasedConnection implements PgLease {
  readonly #lease: Lease<PgConnection>;
  readonly #signal: AbortSignal | undefined;
  readonly #run: Run;

  constructor(lease: Lease<PgConnection>, signal: AbortSignal | undefined, run: Run) {
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
