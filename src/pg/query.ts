import pg from 'pg';
import type { Clock } from '../internal/clock.js';
import { abortReason, onAbort } from '../internal/signals.js';
import { QueryTimeoutError } from './errors.js';
import { isStaleStatement, type PreparedStatements } from './statements.js';

/** Options of one query. */
export interface QueryOptions {
  /** Cancels the query on the server; the promise rejects with `signal.reason`. */
  signal?: AbortSignal;
  /** Cancels the query on the server after this long; rejects with `ERR_PG_QUERY_TIMEOUT`. */
  timeoutMs?: number;
}

/** @internal Connection settings a cancel request needs: it travels on a connection of its own. */
export type CancelConfig = pg.ClientConfig;

/** @internal One statement to run: its text, values and limits. */
export interface Statement {
  text: string;
  values?: unknown[] | undefined;
  /** Cancels it on the server when it aborts. */
  signal?: AbortSignal | undefined;
  /** Cancels it on the server after this long. @default Infinity */
  timeoutMs?: number | undefined;
}

/** @internal Where a statement runs: a connection and, optionally, its prepared statements. */
export interface Target {
  readonly client: pg.Client;
  readonly statements?: PreparedStatements | undefined;
}

/** @internal What every statement of a pool shares: where cancels go, and the clock. */
export interface QueryContext {
  readonly config: CancelConfig;
  readonly clock: Clock;
}

/**
 * @internal Runs one statement on `on.client`; on abort or after `timeoutMs` sends
 * PostgreSQL's cancel request (a separate short connection, as psql's Ctrl-C does), waits
 * for the server to answer `57014 query_canceled`, and rejects with the abort reason or a
 * timeout error. The connection stays usable. With `on.statements`, a parameterised text
 * runs as the connection's named statement.
 */
export function runQuery<R extends pg.QueryResultRow>(
  on: Target,
  statement: Statement,
  context: QueryContext,
): Promise<pg.QueryResult<R>> {
  const { text, values, signal } = statement;
  const timeoutMs = statement.timeoutMs ?? Number.POSITIVE_INFINITY;
  const { client, statements } = on;
  const { clock, config: cancelConfig } = context;
  if (signal?.aborted) return Promise.reject(abortReason(signal));
  // Only parameterised texts: an unparameterised one may hold several statements, which
  // the simple protocol allows and a prepared statement does not.
  const name =
    statements !== undefined && values !== undefined && values.length > 0
      ? statements.name(text)
      : undefined;
  return new Promise<pg.QueryResult<R>>((resolve, reject) => {
    let cancelledWith: { error: unknown } | undefined;
    let timer: unknown;
    const config = name === undefined ? text : { text, name };
    const query = new (pg.Query as unknown as QueryCtor)(config, values, (error, result) => {
      disposeAbort();
      clock.clearTimeout(timer);
      if (error && name !== undefined && isStaleStatement(error))
        statements?.invalidate(text, name);
      if (cancelledWith !== undefined && error) reject(cancelledWith.error);
      else if (error) reject(error);
      else resolve(result as pg.QueryResult<R>);
    });
    const cancel = (reason: (cause: unknown) => unknown): void => {
      if (cancelledWith !== undefined) return;
      cancelledWith = { error: undefined };
      // The eventual server error becomes the cause of what we report.
      const callback = query.callback;
      query.callback = (error, result) => {
        if (cancelledWith !== undefined) cancelledWith.error = reason(error);
        callback?.(error, result);
      };
      sendCancel(client, query, cancelConfig);
    };
    const disposeAbort = onAbort(signal, (r) => cancel(() => r));
    if (Number.isFinite(timeoutMs)) {
      timer = clock.setTimeout(
        () => cancel((cause) => new QueryTimeoutError(timeoutMs, cause)),
        timeoutMs,
      );
    }
    client.query(query as unknown as pg.Submittable);
  });
}

type QueryCallback = (error: Error | null | undefined, result: unknown) => void;
/** node-postgres's Query as used here: its callback is reassigned to learn the cancel outcome. */
interface RawQuery {
  callback: QueryCallback | undefined;
}
type QueryCtor = new (
  config: string | { text: string; name: string },
  values: unknown[] | undefined,
  callback: QueryCallback,
) => RawQuery;

/** @internal Asks the server to cancel whatever `client` is running, if anything. */
export function cancelActive(client: pg.Client, config: CancelConfig): void {
  const active = (client as unknown as Internals)._activeQuery;
  if (active !== null && active !== undefined) sendCancel(client, active, config);
}

interface Internals {
  _activeQuery: RawQuery | null | undefined;
  processID: number;
  secretKey: number;
}

/**
 * Sends PostgreSQL's CancelRequest for `client`'s backend over a short connection of its
 * own (what `Client.cancel` does, without its deprecated `activeQuery` check).
 */
function sendCancel(client: pg.Client, query: RawQuery, config: CancelConfig): void {
  const target = client as unknown as Internals;
  const active = target._activeQuery === query;
  if (!active) {
    // Not running yet: take it out of the client's queue and settle it here.
    const queue = (client as unknown as { _queryQueue: RawQuery[] })._queryQueue;
    const i = queue.indexOf(query);
    if (i >= 0) {
      queue.splice(i, 1);
      query.callback?.(new Error('Query cancelled before it ran'), undefined);
    }
    return;
  }
  const canceller = new pg.Client(config) as unknown as {
    connection: NodeJS.EventEmitter & {
      connect(port: number | string, host?: string): void;
      cancel(pid: number, key: number): void;
      end(): void;
    };
    host: string;
    port: number;
  };
  const con = canceller.connection;
  // The cancel connection's own failures must not surface as unhandled 'error' events.
  con.on('error', () => {});
  con.once('connect', () => con.cancel(target.processID, target.secretKey));
  if (canceller.host?.startsWith('/')) con.connect(`${canceller.host}/.s.PGSQL.${canceller.port}`);
  else con.connect(canceller.port, canceller.host);
}
