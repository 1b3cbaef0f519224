// The base of a client whose verbs run on a managed pool (a database client, a WebSocket
// client): the verbs are the subclass's; stats, drain, close and `await using` are here.
import type { HealthOptions, PoolHealth, PoolStats } from '../pool/index.js';
import type { ManagedPool } from './managed-pool.js';
import type { Manager } from './manager.js';

/**
 * A client built on a {@link ManagedPool}: extend it and add the client's own verbs
 * (`query`, `send`); stats, events (through `pool`), shutdown and `await using` come with it.
 * @example
 * class KvClient extends PooledClient<Socket> {
 *   constructor(options: ManagedPoolOptions & { port: number }) {
 *     const { port, ...poolOptions } = options;
 *     super(createManagedPool(socketManager(port), { name: 'kv', ...poolOptions }));
 *   }
 *   get(key: string): Promise<string> {
 *     return this.pool.use((socket) => roundTrip(socket, `GET ${key}`));
 *   }
 * }
 * await using kv = new KvClient({ port: 6379, max: 4 });
 */
export class PooledClient<C, M extends Manager<C> = Manager<C>> implements AsyncDisposable {
  /** The client's pool: stats, events, resize, retire, and leases for what the verbs lack. */
  readonly pool: ManagedPool<C, M>;

  constructor(pool: ManagedPool<C, M>) {
    this.pool = pool;
  }

  /** The pool's stats (see `ManagedPool.stats`). */
  stats(): PoolStats {
    return this.pool.stats();
  }

  /**
   * How the pool is doing (see `ManagedPool.health`).
   * @throws {TypeError|RangeError} for bad options, naming the option.
   */
  health(options?: HealthOptions): PoolHealth {
    return this.pool.health(options);
  }

  /** Graceful shutdown of every connection (see `ManagedPool.drain`). @default timeoutMs 30_000 */
  drain(options?: { timeoutMs?: number }): Promise<void> {
    return this.pool.drain(options);
  }

  /** Forced shutdown: connections in use are closed too. Idempotent. */
  close(): Promise<void> {
    return this.pool.close();
  }

  /** Same as {@link PooledClient.drain}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.pool.drain();
  }
}
