import type pg from 'pg';

/** @internal A column of a statement's result, as node-postgres describes it. */
export type Column = pg.FieldDef;

/** node-postgres's record of the named statements it has parsed on a connection. */
interface ParsedStatements {
  connection: { parsedStatements: Record<string, string> };
}

/**
 * @internal The named server-side statements of one connection: each distinct
 * parameterised text gets a name the first time it runs, so PostgreSQL parses and plans
 * it once per connection and later runs only bind and execute it (what postgres.js and
 * pgjdbc do). At most `limit` texts are named per connection; texts beyond that run
 * unnamed, so dynamic SQL cannot grow server memory without bound. The columns a named
 * statement returns are kept once the server has described them, so later runs skip the
 * Describe (as postgres.js does): the server re-checks the plan on every run and refuses
 * it (0A000) if its result changed shape, which {@link invalidate}s the name with them.
 */
export class PreparedStatements {
  readonly #client: pg.Client;
  readonly #limit: number;
  readonly #names = new Map<string, string>();
  readonly #columns = new Map<string, Column[]>();
  #next = 0;

  constructor(client: pg.Client, limit: number) {
    this.#client = client;
    this.#limit = limit;
  }

  /** The name `text` runs under on this connection, or `undefined` to run it unnamed. */
  name(text: string): string | undefined {
    let name = this.#names.get(text);
    if (name === undefined && this.#names.size < this.#limit) {
      name = `weir_s${this.#next++}`;
      this.#names.set(text, name);
    }
    return name;
  }

  /** The columns statement `name` returns, once the server has described them. */
  columns(name: string): Column[] | undefined {
    return this.#columns.get(name);
  }

  /** The server described statement `name`'s result as `columns`. */
  described(name: string, columns: Column[]): void {
    this.#columns.set(name, columns);
  }

  /**
   * The server refused `name` (deallocated behind our back, or its plan no longer fits the
   * schema): the text is prepared again under a fresh name next time. A stale statement
   * stays on the server until the connection closes; schema changes are rare enough.
   */
  invalidate(text: string, name: string): void {
    if (this.#names.get(text) === name) this.#names.delete(text);
    this.#columns.delete(name);
    delete (this.#client as unknown as ParsedStatements).connection.parsedStatements[name];
  }

  /** The session was reset (`DISCARD ALL`): the server holds no statement any more. */
  clear(): void {
    this.#names.clear();
    this.#columns.clear();
    (this.#client as unknown as ParsedStatements).connection.parsedStatements = {};
  }
}

/**
 * @internal Whether a query failed because its named statement is gone (26000) or its
 * cached plan no longer matches the tables (0A000). Either is raised before the statement
 * executes, so it took no effect.
 */
export function isStaleStatement(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === '26000') return true;
  return (
    code === '0A000' && error instanceof Error && error.message.includes('cached plan must not')
  );
}
