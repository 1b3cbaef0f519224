// weir/managed: pools of connections run by a Manager (how to connect, check, reset and
// close one), with one options type, and keyed pools of them. The base of weir's pooled
// clients (pg, libsql, http), and of your own.
export { PooledClient } from './client.js';
export {
  createKeyedPool,
  KeyedPool,
  type KeyedPoolEvents,
  type KeyedPoolHealth,
  type KeyedPoolOptions,
  type KeyedPoolSpec,
  type KeyedPoolStats,
  type KeyedTotals,
} from './keyed-pool.js';
export { createManagedPool, ManagedPool, SharedManagedPool } from './managed-pool.js';
export type { ConnectionPermit, ConnectionPermits, Manager } from './manager.js';
export type {
  ManagedPoolBaseOptions,
  ManagedPoolOptions,
  SharedLeases,
  SharedPoolOptions,
} from './options.js';
