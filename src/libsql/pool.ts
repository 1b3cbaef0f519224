import {
  type Client,
  type Config,
  createClient,
  type InArgs,
  type InStatement,
  type InValue,
  type ResultSet,
  type Row,
} from '@libsql/client';
import { checkInt, checkKeys, checkObject, omitKeys, optionKeys } from '../internal/options.js';
import { abortReason } from '../internal/signals.js';
import type { AcquireOptions, Pool, PoolOptions, PoolStats } from '../pool/index.js';
import { createPool } from '../pool/index.js';
import { poolOptionKeys } from '../pool/options.js';

/** Options of {@link createLibsqlPool}: a libSQL URL plus `weir/pool`'s options. */
export interface LibsqlPoolOptions
  extends Omit<
    PoolOptions<Client>,
    'create' | 'destroy' | 'validate' | 'reset' | 'weigh' | 'maxWeight'
  > {
  /** `file:path.db`, `:memory:`, or a remote `libsql://`/`https://` URL. */
  url: string;
  /** Token for a remote database. */
  authToken?: string;
  /** Further `@libsql/client` settings. */
  config?: Omit<Config, 'url' | 'authToken'>;
}

const LIBSQL_POOL_KEYS = optionKeys<LibsqlPoolOptions>({
  ...omitKeys(poolOptionKeys, 'create', 'destroy', 'validate', 'reset', 'weigh', 'maxWeight'),
  url: 1,
  authToken: 1,
  config: 1,
});
const TRANSACTION_KEYS = optionKeys<AcquireOptions & { mode?: LibsqlTransactionMode }>({
  signal: 1,
  timeoutMs: 1,
  priority: 1,
  mode: 1,
});
const ROWS_KEYS = optionKeys<AcquireOptions & { batchSize?: number; key?: string }>({
  signal: 1,
  timeoutMs: 1,
  priority: 1,
  batchSize: 1,
  key: 1,
});

/** What a transaction callback gets. */
export interface LibsqlTransaction {
  execute(sql: string, args?: InArgs): Promise<ResultSet>;
}

/** Transaction kinds: `write` takes the write lock at once, `read` only reads. @default 'write' */
export type LibsqlTransactionMode = 'write' | 'read' | 'deferred';

/**
 * A pool of libSQL connections with a concurrency cap, validation, stats and graceful
 * shutdown; for embedded files, `:memory:` and remote databases.
 */
export class LibsqlPool {
  /** The underlying `weir/pool`. */
  readonly pool: Pool<Client>;

  /** @internal Use {@link createLibsqlPool}. */
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
    this.pool = createPool<Client>({
      name: 'libsql',
      // The embedded driver runs statements synchronously on this thread: connections of
      // one process to one file would block each other's locks, so local pools default to 1.
      max: local ? 1 : 4,
      ...poolOptions,
      // One connection per pooled client: the pool, not the client, decides concurrency.
      create: () =>
        createClient({
          ...config,
          concurrency: 1,
          url,
          ...(authToken === undefined ? {} : { authToken }),
        }),
      destroy: (client) => client.close(),
      validate: async (client) => (await client.execute('SELECT 1')).rows.length === 1,
    });
  }

  /**
   * Runs one statement on a pooled connection.
   * @throws pool errors (`ERR_POOL_TIMEOUT`, …), the signal's reason, and libSQL's own errors.
   */
  async execute(sql: string, args?: InArgs, options?: AcquireOptions): Promise<ResultSet> {
    return this.pool.use(
      (client) => client.execute(args === undefined ? sql : { sql, args }),
      options,
    );
  }

  /**
   * Runs `fn` in a transaction on one connection; a throw rolls back.
   * @throws whatever `fn` throws (after the rollback), or the commit's error.
   */
  async transaction<R>(
    fn: (tx: LibsqlTransaction) => Promise<R>,
    options?: AcquireOptions & { mode?: LibsqlTransactionMode },
  ): Promise<R> {
    checkKeys('LibsqlPool.transaction', options, TRANSACTION_KEYS);
    const { mode = 'write', ...acquire } = options ?? {};
    if (mode !== 'write' && mode !== 'read' && mode !== 'deferred') {
      throw new TypeError(
        `Expected \`mode\` to be 'write', 'read' or 'deferred', got ${JSON.stringify(mode)}`,
      );
    }
    const lease = await this.pool.acquire(acquire);
    try {
      const tx = await lease.value.transaction(mode);
      try {
        const result = await fn({
          execute: (sql, args) => tx.execute(args === undefined ? sql : { sql, args }),
        });
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

  /** The pool's stats (see `weir/pool`). */
  stats(): PoolStats {
    return this.pool.stats();
  }

  /** Graceful shutdown (see `Pool.drain`). */
  drain(options?: { timeoutMs?: number }): Promise<void> {
    return this.pool.drain(options);
  }

  /** Forced shutdown. */
  close(): Promise<void> {
    return this.pool.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.drain();
  }
}

/**
 * Creates a libSQL pool.
 * @throws {TypeError|RangeError} for a missing `url`, `max > 1` with ":memory:", or bad pool options.
 * @example
 * const db = createLibsqlPool({ url: 'file:app.db', max: 4 });
 * const { rows } = await db.execute('SELECT * FROM users WHERE id = ?', [1]);
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
