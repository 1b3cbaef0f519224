// How weir's managed layer runs one libSQL client: one connection each (the pool, not the
// client, decides concurrency), checked with SELECT 1, and never lent once it is closed.
import { type Client, type Config, createClient } from '@libsql/client';
import type { Manager } from '../managed/index.js';

/**
 * What a {@link LibsqlManager} connects to.
 * @example
 * const target: LibsqlTarget = { url: 'file:app.db', authToken: undefined, config: undefined };
 */
export interface LibsqlTarget {
  /** `file:path.db`, `:memory:`, or a remote URL. */
  url: string;
  /** Token for a remote database. */
  authToken: string | undefined;
  /** Further `@libsql/client` settings. */
  config: Omit<Config, 'url' | 'authToken'> | undefined;
}

/**
 * The {@link Manager} of a {@link LibsqlPool}'s clients (`db.pool.manager`): one libSQL
 * client per connection (concurrency 1), checked with `SELECT 1`, broken once closed.
 * @example
 * const pool = createManagedPool(new LibsqlManager({ url: 'file:app.db', authToken: undefined, config: undefined }), { max: 1 });
 */
export class LibsqlManager implements Manager<Client> {
  readonly #target: LibsqlTarget;

  /** A manager of clients of `target`. */
  constructor(target: LibsqlTarget) {
    this.#target = target;
  }

  /** A libSQL client with one connection: the pool, not the client, decides concurrency. */
  connect(): Client {
    const { url, authToken, config } = this.#target;
    return createClient({
      ...config,
      concurrency: 1,
      url,
      ...(authToken === undefined ? {} : { authToken }),
    });
  }

  /** Closes the client. */
  close(client: Client): void {
    client.close();
  }

  /** `SELECT 1`. */
  async check(client: Client): Promise<boolean> {
    return (await client.execute('SELECT 1')).rows.length === 1;
  }

  /** The client was closed. */
  isBroken(client: Client): boolean {
    return client.closed;
  }
}
