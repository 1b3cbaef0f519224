// weir/libsql: a pool of libSQL clients (embedded file, :memory: or remote), built on
// weir/managed.
export type { LibsqlManager, LibsqlTarget } from './manager.js';
export {
  createLibsqlPool,
  LibsqlPool,
  type LibsqlPoolOptions,
  type LibsqlTransaction,
  type LibsqlTransactionMode,
  type LibsqlTransactionOptions,
} from './pool.js';
