// weir/libsql's pool: libSQL clients run by a LibsqlManager on the managed layer, and the
// verbs (query, transaction, rows); a local database keeps to one connection by default.
import type { Client, Config, InArgs, InStatement, InValue, ResultSet, Row } from '@libsql/client';
import { checkInt, checkKeys, checkObject, type KeyList, optionKeys } from '../internal/options.js';
import { abortReason } from '../internal/signals.js';
import { createManagedPool, type ManagedPoolOptions, PooledClient } from '../managed/index.js';
import { managedOptionKeys } from '../managed/options.js';
import type { AcquireOptions } from '../pool/index.js';
import { LibsqlManager } from './manager.js';

/**
 * Options of {@link createLibsqlPool}: a libSQL URL plus the managed pool's options
 * (`weir/managed`); the `weir/pool` names taken before (`createTimeoutMs`,
 * `validateAfterIdleMs`, …) are still accepted as aliases. A libSQL client serves one
 * borrower at a time, so the sharing options do not compile; `allowExitOnIdle` is not
 * offered (a libSQL client has no socket to unref).
 * @example
 * const options: LibsqlPoolOptions = { url: 'file:app.db', acquireTimeoutMs: 5_000 };
 */
export interface LibsqlPoolOptions extends Omit<ManagedPoolOptions, 'allowExitOnIdle'> {
  /** `file:path.db`, `:memory:`, or a remote `libsql://`/`https://` URL. */
  url: string;
  /** Token for a remote database. */
  authToken?: string;
  /** Further `@libsql/client` settings. */
  config?: Omit<Config, 'url' | 'authToken'>;
}

type Sharing = 'shared' | 'maxLeasesPerResource' | 'leaseLimit';
const { allowExitOnIdle: _, ...libsqlManagedKeys } = managedOptionKeys;
const LIBSQL_ONLY_KEYS: KeyList<Omit<LibsqlPoolOptions, keyof ManagedPoolOptions>> = {
  url: 1,
  authToken: 1,
  config: 1,
};
const LIBSQL_POOL_KEYS = optionKeys<Omit<LibsqlPoolOptions, Sharing>>({
  ...libsqlManagedKeys,
  ...LIBSQL_ONLY_KEYS,
});
const TRANSACTION_KEYS = optionKeys<LibsqlTransactionOptions>({
  signal: 1,
  timeoutMs: 1,
  priority: 1,
  mode: 1,
  readOnly: 1,
});
const ROWS_KEYS = optionKeys<AcquireOptions & { batchSize?: number; key?: string }>({
  signal: 1,
  timeoutMs: 1,
  priority: 1,
  batchSize: 1,
  key: 1,
});

/** What a transaction callback gets: statements on the transaction's connection. */
export interface LibsqlTransaction {
  /** Runs one statement in the transaction (the name weir's pg uses too). */
  query(sql: string, args?: InArgs): Promise<ResultSet>;
  /** The same as {@link LibsqlTransaction.query}: libSQL's own name, kept as an alias. */
  execute(sql: string, args?: InArgs): Promise<ResultSet>;
}

/**
 * Transaction kinds: `write` takes the write lock at once (`BEGIN IMMEDIATE`), `deferred`
 * when it first writes, `read` only reads. @default 'write'
 */
export type LibsqlTransactionMode = 'write' | 'read' | 'deferred';

/**
 * Options of {@link LibsqlPool.transaction}: how to wait for a connection, and the kind of
 * transaction.
 * @example
 * await db.transaction(async (tx) => tx.query('SELECT count(*) FROM t'), { readOnly: true });
 */
export interface LibsqlTransactionOptions extends AcquireOptions {
  /** @default 'write' (or 'read' with `readOnly`) */
  mode?: LibsqlTransactionMode;
  /**
   * A read-only transaction, under the name weir's pg gives it: the same as `mode: 'read'`.
   * `mode` stays for what PostgreSQL has no word for (`write` vs `deferred` locking).
   * @default false
   */
  readOnly?: boolean;
}

/**
 * A pool of libSQL connections with a concurrency cap, validation, stats and graceful
 * shutdown; for embedded files, `:memory:` and remote databases. `stats`, `drain`,
 * `close`, `await using` and `pool` (events, resize, leases) come from {@link PooledClient}.
 */
export class LibsqlPool extends PooledClient<Client, LibsqlManager> {
  /**
   * @internal Use {@link createLibsqlPool}.
   * @throws {TypeError|RangeError} for a missing `url`, `max > 1` with ":memory:", or bad options.
   */
  constructor(options: LibsqlPoolOptions) {
    checkObject('options', options);
    checkKeys('createLibsqlPool', options, LIBSQL_POOL_KEYS);
    const { url, authToken, config, ...poolOptions } = options ?? ({} as LibsqlPoolOptions);
    if (typeof url !== 'string' || url.length === 0) {
      throw new TypeError(
        'Expected `url` to be a libSQL URL such as "file:data.db", ":memory:" or "libsql://…"',
      );
    }
    const memory = url === ':memory:' || url === 'file::memory:';
    const local = memory || url.startsWith('file:');
    if (memory && (poolOptions.max ?? 1) > 1) {
      throw new RangeError(
        'Expected `max` to be 1 for ":memory:": every connection would open its own empty database. Use a file for more.',
      );
    }
    const manager = new LibsqlManager({ url, authToken, config });
    super(
      createManagedPool(manager, {
        name: 'libsql',
        // The embedded driver runs statements synchronously on this thread: connections of
        // one process to one file would block each other's locks, so local pools default to 1.
        max: local ? 1 : 4,
        ...poolOptions,
      }),
    );
  }

  /**
   * Runs one statement on a pooled connection (the verb weir's pg calls `query` too).
   * @throws pool errors (`ERR_POOL_TIMEOUT`, …), the signal's reason, and libSQL's own errors.
   * @example
   * const { rows } = await db.query('SELECT * FROM users WHERE id = ?', [1]);
   */
  query(sql: string, args?: InArgs, options?: AcquireOptions): Promise<ResultSet> {
    return this.pool.use((client) => client.execute(statementOf(sql, args)), options);
  }

  /**
   * The same as {@link LibsqlPool.query}: libSQL's own name for it, kept as an alias.
   * @throws what `query` throws.
   */
  execute(sql: string, args?: InArgs, options?: AcquireOptions): Promise<ResultSet> {
    return this.query(sql, args, options);
  }

  /**
   * Runs `fn` in a transaction on one connection; a throw rolls back.
   * @throws whatever `fn` throws (after the rollback), or the commit's error.
   */
  async transaction<R>(
    fn: (tx: LibsqlTransaction) => Promise<R>,
    options?: LibsqlTransactionOptions,
  ): Promise<R> {
    checkKeys('LibsqlPool.transaction', options, TRANSACTION_KEYS);
    const { mode: given, readOnly, ...acquire } = options ?? {};
    const mode = transactionMode(given, readOnly);
    const lease = await this.pool.acquire(acquire);
    try {
      const tx = await lease.value.transaction(mode);
      try {
        const run = (sql: string, args?: InArgs): Promise<ResultSet> =>
          tx.execute(statementOf(sql, args));
        const result = await fn({ query: run, execute: run });
        await tx.commit();
        return result;
      } catch (error) {
        await tx.rollback().catch(() => {});
        throw error;
      } finally {
        tx.close();
      }
    } finally {
      lease.release();
    }
  }

  /**
   * Reads the rows of `sql` lazily, `batchSize` at a time inside one read transaction (a
   * consistent snapshot), so a large table streams without being held in memory. Usable
   * as a `weir/stream` or `weir/json` source. Breaking out early releases the connection.
   *
   * With `key`, a unique column of the result (`id`, `rowid`), pages are read after the
   * last key seen, in key order: each page costs the same however deep it is. Without it,
   * pages use `LIMIT … OFFSET …`, in the order `sql` gives; SQLite skips the offset rows
   * for each page, so reading a whole large table that way grows with the square of its size.
   * @throws {TypeError|RangeError} for bad `args`, `batchSize` or `key`, and SQL errors.
   * @example
   * for await (const row of db.rows('SELECT * FROM events', [], { key: 'id' })) handle(row);
   */
  async *rows(
    sql: string,
    args?: InArgs,
    options?: AcquireOptions & { batchSize?: number; key?: string },
  ): AsyncGenerator<Row> {
    checkKeys('LibsqlPool.rows', options, ROWS_KEYS);
    const { batchSize: size = 500, key, ...acquire } = options ?? {};
    const batchSize = checkInt('batchSize', size, 1);
    if (key !== undefined && (typeof key !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(key))) {
      throw new TypeError(`Expected \`key\` to be a column name, got ${JSON.stringify(key)}`);
    }
    if (args !== undefined && !Array.isArray(args)) {
      throw new TypeError('rows() takes positional arguments (an array)');
    }
    const positional = args ?? [];
    const lease = await this.pool.acquire(acquire);
    const client = lease.value;
    let tx: Awaited<ReturnType<Client['transaction']>> | undefined;
    try {
      tx = await client.transaction('read');
      let after: InValue | undefined;
      for (let offset = 0; ; offset += batchSize) {
        if (options?.signal?.aborted) throw abortReason(options.signal);
        const page = await tx.execute(pageOf(sql, positional, batchSize, key, after, offset));
        for (const row of page.rows) yield row;
        if (page.rows.length < batchSize) return;
        if (key !== undefined) {
          after = page.rows[page.rows.length - 1]![key];
          if (after === undefined || after === null) {
            throw new TypeError(`rows(): the result has no \`${key}\` value to page by`);
          }
        }
      }
    } finally {
      if (tx !== undefined) {
        await tx.commit().catch(() => {});
        tx.close();
      }
      lease.release();
    }
  }
}

/**
 * Creates a libSQL pool.
 * @throws {TypeError|RangeError} for a missing `url`, `max > 1` with ":memory:", or bad pool options.
 * @example
 * const db = createLibsqlPool({ url: 'file:app.db', max: 4 });
 * const { rows } = await db.query('SELECT * FROM users WHERE id = ?', [1]);
 */
export function createLibsqlPool(options: LibsqlPoolOptions): LibsqlPool {
  return new LibsqlPool(options);
}

/**
 * One page of `rows()`: after the last key seen when paging by `key` (a checked column
 * name), else by offset.
 */
function pageOf(
  sql: string,
  args: InValue[],
  size: number,
  key: string | undefined,
  after: InValue | undefined,
  offset: number,
): InStatement {
  if (key === undefined) {
    return { sql: `SELECT * FROM (${sql}) LIMIT ? OFFSET ?`, args: [...args, size, offset] };
  }
  if (after === undefined) {
    return { sql: `SELECT * FROM (${sql}) ORDER BY "${key}" LIMIT ?`, args: [...args, size] };
  }
  return {
    sql: `SELECT * FROM (${sql}) WHERE "${key}" > ? ORDER BY "${key}" LIMIT ?`,
    args: [...args, after, size],
  };
}

function statementOf(sql: string, args: InArgs | undefined): InStatement {
  return args === undefined ? sql : { sql, args };
}

/** The mode `mode` and `readOnly` ask for together. @throws {TypeError} for a bad or contradictory pair. */
function transactionMode(
  mode: LibsqlTransactionMode | undefined,
  readOnly: boolean | undefined,
): LibsqlTransactionMode {
  if (mode !== undefined && mode !== 'write' && mode !== 'read' && mode !== 'deferred') {
    throw new TypeError(
      `Expected \`mode\` to be 'write', 'read' or 'deferred', got ${JSON.stringify(mode)}`,
    );
  }
  if (readOnly !== undefined && typeof readOnly !== 'boolean') {
    throw new TypeError(`Expected \`readOnly\` to be a boolean, got ${JSON.stringify(readOnly)}`);
  }
  if (readOnly === undefined) return mode ?? 'write';
  if (mode !== undefined && (mode === 'read') !== readOnly) {
    throw new TypeError(`\`readOnly: ${readOnly}\` contradicts \`mode: '${mode}'\``);
  }
  return readOnly ? 'read' : (mode ?? 'write');
}
