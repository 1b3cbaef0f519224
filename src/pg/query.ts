import pg from 'pg';
import type { Clock } from '../internal/clock.js';
import { abortReason, onAbort } from '../internal/signals.js';
import { QueryTimeoutError } from './errors.js';
import { type Column, isStaleStatement, type PreparedStatements } from './statements.js';

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

/** @internal Called once with a statement's outcome: an error, or its result. */
export type Done = (error: unknown, result: pg.QueryResult | undefined) => void;

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
  return new Promise<pg.QueryResult<R>>((resolve, reject) => {
    sendQuery(on, statement, context, (error, result) => {
      if (error === undefined) resolve(result as pg.QueryResult<R>);
      else reject(error);
    });
  });
}

/**
 * @internal {@link runQuery} with a callback instead of a promise, so that a caller with
 * work of its own on completion (returning the connection to its pool) adds no promise of
 * its own. `done` is called once: synchronously if `statement.signal` is already aborted,
 * otherwise from node-postgres's handling of the server's answer. A query with neither a
 * signal nor a timeout registers nothing for them.
 */
export function sendQuery(
  on: Target,
  statement: Statement,
  context: QueryContext,
  done: Done,
): void {
  const { text, values, signal } = statement;
  const timeoutMs = statement.timeoutMs ?? Number.POSITIVE_INFINITY;
  const { client, statements } = on;
  if (signal?.aborted) {
    done(abortReason(signal), undefined);
    return;
  }
  // Only parameterised texts: an unparameterised one may hold several statements, which
  // the simple protocol allows and a prepared statement does not.
  const name =
    statements !== undefined && values !== undefined && values.length > 0
      ? statements.name(text)
      : undefined;
  const query = new StatementQuery(text, values, undefined);
  if (name !== undefined) {
    // Set after construction: a config object `{ text, name }` would be copied property
    // by property (descriptors and all) by node-postgres for every query.
    query.name = name;
    query.statements = statements;
  }
  const settle: Settle = (error, result) => {
    if (error && name !== undefined && isStaleStatement(error)) statements?.invalidate(text, name);
    if (error) done(error, undefined);
    else done(undefined, result as pg.QueryResult);
  };
  if (signal === undefined && !Number.isFinite(timeoutMs)) {
    query.callback = settle;
  } else {
    watch(query, client, signal, timeoutMs, context, settle);
  }
  client.query(query as unknown as pg.Submittable);
}

/** Cancels `query` on the server when `signal` aborts or `timeoutMs` passes. */
function watch(
  query: StatementQuery,
  client: pg.Client,
  signal: AbortSignal | undefined,
  timeoutMs: number,
  context: QueryContext,
  settle: Settle,
): void {
  const { clock, config: cancelConfig } = context;
  let cancelledWith: { error: unknown } | undefined;
  let timer: unknown;
  query.callback = (error, result) => {
    disposeAbort();
    clock.clearTimeout(timer);
    settle(cancelledWith !== undefined && error ? cancelledWith.error : error, result);
  };
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
}

type QueryCallback = (error: Error | null | undefined, result: unknown) => void;
type Settle = (error: unknown, result: unknown) => void;
/** node-postgres's Query as used here: its callback is reassigned to learn the cancel outcome. */
interface RawQuery {
  callback: QueryCallback | undefined;
}

/** The parts of node-postgres's Query (and of its connection) that {@link StatementQuery} uses. */
interface PgQuery extends RawQuery {
  name: string | undefined;
  text: string;
  values: unknown[] | undefined;
  portal: string;
  binary: boolean | undefined;
  rows: number | undefined;
  _result: { addFields(fields: Column[]): void };
  _accumulateRows: boolean;
  hasBeenParsed(connection: Wire): boolean;
  prepare(connection: Wire): void;
  handleRowDescription(message: { fields: Column[] }): void;
  handleError(error: unknown, connection: Wire): void;
  _getRows(connection: Wire, rows: number | undefined): void;
}
interface Wire {
  bind(config: object): void;
  close(config: { type: string; name: string | undefined }): void;
  sync(): void;
}
const PgQueryBase = pg.Query as unknown as new (
  text: string,
  values: unknown[] | undefined,
  callback: QueryCallback | undefined,
) => PgQuery;
const prepareValue = (pg as unknown as { utils?: { prepareValue?(v: unknown): unknown } }).utils
  ?.prepareValue;
// The Describe is skipped only on a node-postgres whose Query has the internals used below
// (8.x as of this writing); any other runs every query through its own prepare.
const canSkipDescribe = ((proto: Partial<PgQuery>): boolean =>
  typeof proto.hasBeenParsed === 'function' &&
  typeof proto._getRows === 'function' &&
  typeof proto.handleError === 'function' &&
  typeof prepareValue === 'function')(PgQueryBase.prototype);

/**
 * node-postgres's Query, taught to run a named statement whose columns the connection
 * already knows with Bind and Execute only. node-postgres sends a Describe of the portal
 * with every run, and the server answers it with the same row description every time;
 * here the first description is kept (see {@link PreparedStatements}) and handed to the
 * result as that answer would have been.
 */
class StatementQuery extends PgQueryBase {
  /** The connection's named statements, when this query runs as one of them. */
  statements: PreparedStatements | undefined = undefined;

  override prepare(connection: Wire): void {
    const columns =
      canSkipDescribe && this.statements !== undefined && this.name !== undefined
        ? this.statements.columns(this.name)
        : undefined;
    if (columns === undefined || !this.hasBeenParsed(connection)) {
      super.prepare(connection);
      return;
    }
    // What handleRowDescription does with the server's description (a new array per
    // result, as each description is): the rows are parsed with it and kept.
    this._result.addFields(columns.slice());
    this._accumulateRows = true;
    // As node-postgres's own prepare: a value that cannot be serialised fails the query
    // before anything but a Close is sent.
    try {
      connection.bind({
        portal: this.portal,
        statement: this.name,
        values: this.values,
        binary: this.binary,
        valueMapper: prepareValue,
      });
    } catch (error) {
      connection.close({ type: 'S', name: this.name });
      connection.sync();
      this.handleError(error, connection);
      return;
    }
    this._getRows(connection, this.rows);
  }

  override handleRowDescription(message: { fields: Column[] }): void {
    super.handleRowDescription(message);
    if (this.statements !== undefined && this.name !== undefined) {
      this.statements.described(this.name, message.fields);
    }
  }
}

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
