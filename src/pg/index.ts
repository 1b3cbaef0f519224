// weir/pg: a PostgreSQL pool on node-postgres, built on weir/managed.
export type { ConnectionPermit, ConnectionPermits } from '../managed/index.js';
export { QueryTimeoutError } from './errors.js';
export type { PgConnection, PgManager, PgManagerOptions } from './manager.js';
export {
  createPgPool,
  type IsolationLevel,
  type PgLease,
  PgPool,
  type PgPoolOptions,
  type Transaction,
  type TransactionOptions,
} from './pool.js';
export type { QueryOptions } from './query.js';
