export { QueryTimeoutError } from './errors.js';
export {
  type ConnectionPermits,
  createPgPool,
  type IsolationLevel,
  type PgLease,
  PgPool,
  type PgPoolOptions,
  type Transaction,
} from './pool.js';
export type { QueryOptions } from './query.js';
