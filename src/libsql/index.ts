export {
  createLibsqlPool,
  LibsqlPool,
  type LibsqlPoolOptions,
  type LibsqlTransaction,
  type LibsqlTransactionMode,
} from './pool.js';
