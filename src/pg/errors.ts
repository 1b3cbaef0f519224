import { WeirError } from '../internal/errors.js';

/**
 * A query ran past its `timeoutMs`; it was cancelled on the server and the connection
 * went back to the pool healthy. Code `ERR_PG_QUERY_TIMEOUT`; `cause` is the server's
 * `57014 query_canceled` error.
 */
export class QueryTimeoutError extends WeirError {
  constructor(timeoutMs: number, cause: unknown) {
    super('ERR_PG_QUERY_TIMEOUT', `Query cancelled after ${timeoutMs} ms (timeoutMs)`, { cause });
  }
}
