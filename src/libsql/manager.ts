// How weir's managed layer runs one libSQL client: one connection each (the pool, not the
// client, decides concurrency), checked with SELECT 1, and never lent once it is closed.
import { type Client, type Config, createClient } from '@libsql/client';
import type { Manager } from '../managed/index.js';

/** @internal What a {@link LibsqlManager} connects to. */
export interface LibsqlTarget {
  url: string;
  authToken: string | undefined;
  config: Omit<Config, 'url' | 'authToken'> | undefined;
}

/** @internal The {@link Manager} of a {@link LibsqlPool}'s clients. */
export class LibsqlManager implements Manager<Client> {
  readonly #target: LibsqlTarget;

  constructor(target: LibsqlTarget) {
    this.#target = target;
  }

  connect(): Client {
    const { url, authToken, config } = this.#target;
    // One connection per pooled client: the pool, not the client, decides concurrency.
    return createClient({
      ...config,
      concurrency: 1,
      url,
      ...(authToken === undefined ? {} : { authToken }),
    });
  }

  close(client: Client): void {
    client.close();
  }

  async check(client: Client): Promise<boolean> {
    return (await client.execute('SELECT 1')).rows.length === 1;
  }

  isBroken(client: Client): boolean {
    return client.closed;
  }
}
