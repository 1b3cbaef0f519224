import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { FakeClock } from '../../src/internal/clock.js';
import { isWeirError } from '../../src/internal/errors.js';
import { createPgPool, type PgPool } from '../../src/pg/index.js';
import { needService, PG_URL, proxy, until } from '../helpers/services.js';

const url = new URL(PG_URL);
const skip = await needService('PostgreSQL', url.hostname, Number(url.port || 5432));

describe('weir/pg against a real PostgreSQL', { skip }, () => {
  const app = `weir-test-${randomUUID().slice(0, 8)}`;
  const table = `weir_test_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  let admin: pg.Client;
  const pools: PgPool[] = [];
  const make = (options: Parameters<typeof createPgPool>[0] = {}): PgPool => {
    const p = createPgPool({
      connection: { connectionString: PG_URL, application_name: app },
      ...options,
    });
    pools.push(p);
    return p;
  };
  // Connection settings that go through a local TCP relay on `port`.
  const through = (port: number): pg.ClientConfig => ({
    host: '127.0.0.1',
    port,
    user: url.username || 'postgres',
    database: url.pathname.slice(1),
    application_name: app,
  });
  const backends = async (): Promise<{ pid: number; state: string; query: string }[]> =>
    (
      await admin.query(
        'SELECT pid, state, query FROM pg_stat_activity WHERE application_name = $1',
        [app],
      )
    ).rows;
  const running = async (fragment: string): Promise<number> =>
    (await backends()).filter((b) => b.state === 'active' && b.query.includes(fragment)).length;

  before(async () => {
    admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    await admin.query(`CREATE TABLE ${table} (id serial PRIMARY KEY, note text)`);
  });
  after(async () => {
    for (const p of pools) await p.close();
    await admin.query(`DROP TABLE IF EXISTS ${table}`);
    await admin.end();
  });

  test('more concurrent queries than connections queue and all complete', async () => {
    const db = make({ max: 5 });
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        db.query<{ n: number }>('SELECT $1::int AS n, pg_sleep(0.005)', [i]),
      ),
    );
    assert.deepEqual(
      results.map((r) => r.rows[0]!.n),
      Array.from({ length: 60 }, (_, i) => i),
    );
    const s = db.stats();
    assert.ok(s.created <= 5, `opened ${s.created} connections for max 5`);
    assert.equal(s.acquired, 60);
    await db.drain();
    await until(async () => (await backends()).length === 0, 'connections to close');
  });

  test('pg_terminate_backend on every connection under load loses only queries in flight', async () => {
    const db = make({ min: 5, max: 5 });
    let done = 0;
    let failed = 0;
    let killed = false;
    const worker = async (): Promise<void> => {
      for (let i = 0; i < 40; i++) {
        try {
          await db.query('SELECT $1::int', [i]);
          done++;
        } catch {
          failed++;
        }
        if (done >= 100 && !killed) {
          killed = true;
          await admin.query(
            'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1',
            [app],
          );
        }
      }
    };
    await Promise.all(Array.from({ length: 20 }, worker));
    assert.equal(killed, true);
    assert.ok(failed <= 5, `${failed} queries failed; at most the 5 in flight may`);
    assert.equal(done + failed, 800);
    await until(
      () => db.stats().size === 5 && db.stats().idle === 5,
      'the pool to recover to 5 connections',
    );
    await until(async () => (await backends()).length === 5, 'five live backends');
    await db.close();
  });

  test('idle connections killed behind the pool are never handed out', async () => {
    const db = make({ min: 3, max: 3 });
    await until(() => db.stats().idle === 3, 'three idle connections');
    await admin.query(
      'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1',
      [app],
    );
    // Used at once, before or after the pool hears of the deaths: no query may fail.
    const results = await Promise.allSettled(
      Array.from({ length: 12 }, () => db.query('SELECT 1 AS one')),
    );
    assert.deepEqual(
      results.map((r) => r.status),
      Array(12).fill('fulfilled'),
    );
    await until(() => db.stats().destroyed >= 3, 'the dead connections to be destroyed');
    await db.close();
  });

  test('abort cancels the query on the server and the connection comes back healthy', async () => {
    const db = make({ max: 1 });
    const ac = new AbortController();
    const reason = new Error('client went away');
    const q = db.query('SELECT pg_sleep(30) AS abort_me', [], { signal: ac.signal });
    await until(async () => (await running('abort_me')) === 1, 'the query to run');
    ac.abort(reason);
    await assert.rejects(q, (e) => e === reason);
    await until(async () => (await running('abort_me')) === 0, 'the server to stop the query');
    const again = await db.query<{ ok: number }>('SELECT 1 AS ok');
    assert.equal(again.rows[0]!.ok, 1);
    assert.equal(db.stats().destroyed, 0, 'the same connection was reused');
    assert.equal(db.stats().created, 1);
    await db.close();
  });

  test('timeout cancels the query on the server with ERR_PG_QUERY_TIMEOUT', async () => {
    const clock = new FakeClock();
    const db = make({ max: 1, clock, queryTimeoutMs: 5000 });
    const q = db.query('SELECT pg_sleep(30) AS time_me_out');
    const settled = q.catch((e: unknown) => e);
    await until(async () => (await running('time_me_out')) === 1, 'the query to run');
    await clock.advance(5000);
    const error = await settled;
    assert.ok(isWeirError(error, 'ERR_PG_QUERY_TIMEOUT'), String(error));
    assert.equal(((error as Error).cause as { code?: string }).code, '57014');
    await until(async () => (await running('time_me_out')) === 0, 'the server to stop the query');
    assert.equal((await db.query('SELECT 2 AS two')).rows[0]!.two, 2);
    await db.close();
  });

  test('a transaction rolls back when its callback throws, and commits otherwise', async () => {
    const db = make({ max: 2 });
    await assert.rejects(
      db.transaction(async (tx) => {
        await tx.query(`INSERT INTO ${table} (note) VALUES ('rolled back')`);
        throw new Error('changed my mind');
      }),
      /changed my mind/,
    );
    await db.transaction(
      async (tx) => {
        await tx.query(`INSERT INTO ${table} (note) VALUES ('kept')`);
      },
      { isolation: 'serializable' },
    );
    const { rows } = await db.query<{ note: string }>(`SELECT note FROM ${table} ORDER BY id`);
    assert.deepEqual(
      rows.map((r) => r.note),
      ['kept'],
    );
    await assert.rejects(
      db.transaction(async () => {}, { isolation: 'chaos' as never }),
      /`isolation`/,
    );
    await db.close();
  });

  test('a connection returned inside a transaction is rolled back before reuse', async () => {
    const db = make({ max: 1 });
    const lease = await db.connect();
    await lease.query('BEGIN');
    await lease.query(`INSERT INTO ${table} (note) VALUES ('abandoned')`);
    assert.equal(lease.client.getTransactionStatus(), 'T');
    lease.release();
    const next = await db.connect();
    assert.equal(next.client, lease.client, 'the same connection');
    assert.equal(next.client.getTransactionStatus(), 'I');
    const { rows } = await next.query(`SELECT 1 FROM ${table} WHERE note = 'abandoned'`);
    assert.equal(rows.length, 0);
    next.release();
    await db.close();
  });

  test('parameterised statements are prepared once per connection, up to the limit', async () => {
    const db = make({ max: 1, preparedStatements: 2 });
    const prepared = async (): Promise<string[]> =>
      (
        await db.query<{ statement: string }>(
          'SELECT statement FROM pg_prepared_statements ORDER BY statement',
        )
      ).rows.map((r) => r.statement);
    for (let i = 0; i < 3; i++) {
      assert.equal((await db.query<{ n: number }>('SELECT $1::int AS n', [i])).rows[0]!.n, i);
      assert.equal((await db.query('SELECT $1::text AS t', [`x${i}`])).rows[0]!.t, `x${i}`);
    }
    await db.query('SELECT $1::int + 1 AS over_the_limit', [1]);
    assert.deepEqual(await prepared(), ['SELECT $1::int AS n', 'SELECT $1::text AS t']);
    // Several statements in one unparameterised text still run (simple protocol).
    const multi = (await db.query('SELECT 1; SELECT 2')) as unknown as unknown[];
    assert.equal(multi.length, 2);

    const off = make({ max: 1, preparedStatements: 0 });
    await off.query('SELECT $1::int AS n', [1]);
    assert.equal(
      (await off.query('SELECT count(*)::int AS c FROM pg_prepared_statements')).rows[0]!.c,
      0,
    );
    assert.throws(() => createPgPool({ preparedStatements: -1 }), /`preparedStatements`/);
    assert.throws(() => createPgPool({ queryTimeoutMs: -5 }), /`queryTimeoutMs`/);
    await assert.rejects(db.query('SELECT 1', [], { timeoutMs: -1 }), /`timeoutMs`/);
    await assert.rejects(db.query('SELECT 1', [], 'fast' as never), /`options`/);
    assert.equal(db.stats().leased, 0, 'a refused call holds no connection');
    const lease = await db.connect();
    await assert.rejects(lease.query('SELECT 1', [], { timeoutMs: Number.NaN }), /`timeoutMs`/);
    lease.release();
    await db.close();
    await off.close();
  });

  test('a prepared statement deallocated or made stale by a schema change is prepared again', async () => {
    const db = make({ max: 1 });
    const shape = `${table}_shape`;
    await db.query(`CREATE TABLE ${shape} (a int)`);
    try {
      await db.query(`INSERT INTO ${shape} VALUES (1)`);
      const select = `SELECT * FROM ${shape} WHERE a = $1`;
      assert.deepEqual((await db.query(select, [1])).rows, [{ a: 1 }]);
      // The cached plan's result type no longer matches: PostgreSQL refuses it (0A000).
      await db.query(`ALTER TABLE ${shape} ADD COLUMN b int DEFAULT 7`);
      assert.deepEqual((await db.query(select, [1])).rows, [{ a: 1, b: 7 }]);
      // Someone ran DEALLOCATE ALL on the session: the name is gone (26000).
      await db.query('DEALLOCATE ALL');
      assert.deepEqual((await db.query(select, [1])).rows, [{ a: 1, b: 7 }]);
      // Inside a transaction the refusal surfaces (the transaction is aborted) once;
      // the statement is prepared afresh for the next caller.
      await db.query(`ALTER TABLE ${shape} ADD COLUMN c int`);
      await assert.rejects(
        db.transaction((tx) => tx.query(select, [1])),
        (e: unknown) => (e as { code?: string }).code === '0A000',
      );
      assert.deepEqual((await db.query(select, [1])).rows, [{ a: 1, b: 7, c: null }]);
    } finally {
      await db.query(`DROP TABLE ${shape}`);
      await db.close();
    }
  });

  test('DISCARD ALL on return forgets the prepared statements with the session', async () => {
    const db = make({ max: 1, discardOnReturn: true });
    for (let i = 0; i < 3; i++) {
      assert.equal((await db.query<{ n: number }>('SELECT $1::int AS n', [i])).rows[0]!.n, i);
    }
    await db.close();
  });

  test('the database going down opens the breaker, and coming back closes it', async () => {
    const clock = new FakeClock();
    const p = await proxy(url.hostname, Number(url.port || 5432));
    const db = make({
      connection: through(p.port),
      max: 2,
      breaker: { threshold: 3, halfOpenAfterMs: 10_000 },
      createRetry: { initialDelayMs: 10, maxDelayMs: 10 },
      clock,
    });
    assert.equal((await db.query('SELECT 1 AS up')).rows[0]!.up, 1);
    await p.down();
    await until(() => db.stats().size === 0, 'the pool to notice the lost connection');
    const states: string[] = [];
    db.pool.on('breaker', (e) => states.push(e.to));
    const errors: unknown[] = [];
    for (let i = 0; i < 6 && db.stats().breaker !== 'open'; i++) {
      errors.push(await db.query('SELECT 1').catch((e: unknown) => e));
      await clock.advance(10);
    }
    assert.equal(db.stats().breaker, 'open');
    assert.ok(
      errors.every((e) => isWeirError(e)),
      'every failure is a coded pool error',
    );
    const fast = await db.query('SELECT 1').catch((e: unknown) => e);
    assert.ok(isWeirError(fast, 'ERR_CIRCUIT_OPEN'));
    await p.up();
    await clock.advance(10_000);
    assert.equal((await db.query('SELECT 3 AS back')).rows[0]!.back, 3);
    assert.deepEqual(states, ['open', 'half-open', 'closed']);
    await db.close();
    await p.down();
  });

  test('a connect that finishes after its caller gave up is closed, never left as a zombie session', async () => {
    const relay = await proxy(url.hostname, Number(url.port || 5432));
    relay.hold();
    const clock = new FakeClock();
    const db = make({
      connection: through(relay.port),
      max: 1,
      createTimeoutMs: 1000,
      breaker: false,
      clock,
    });
    const q = db.query('SELECT 1').catch((e: unknown) => e);
    await clock.advance(1000);
    assert.ok(isWeirError(await q, 'ERR_POOL_CREATE_TIMEOUT'));
    // The server answers only now, after the caller gave up: the late session must close.
    relay.release();
    await until(async () => db.stats().creating === 0, 'the late connect to settle');
    await until(async () => (await backends()).length === 0, 'no session left behind');
    assert.equal(db.stats().size, 0);
    await db.close();
    await relay.down();
  });

  test('an external permit limit bounds the connections a pool opens', async () => {
    let inUse = 0;
    let peak = 0;
    const waiting: (() => void)[] = [];
    const permits = {
      acquire: async ({ signal }: { signal: AbortSignal }) => {
        while (inUse >= 2) {
          await new Promise<void>((r) => waiting.push(r));
          signal.throwIfAborted();
        }
        inUse++;
        peak = Math.max(peak, inUse);
        return {
          release: () => {
            inUse--;
            waiting.shift()?.();
          },
        };
      },
    };
    const db = make({ max: 5, permits });
    await Promise.all(
      Array.from({ length: 30 }, (_, i) => db.query('SELECT $1::int, pg_sleep(0.002)', [i])),
    );
    assert.equal(peak, 2, 'never more connections than permits');
    await db.close();
    for (const wake of waiting.splice(0)) wake();
    await until(() => inUse === 0, 'every permit to come back');
  });

  test('close() with queries in flight ends them and every connection', async () => {
    const db = make({ max: 3 });
    const inflight = Array.from({ length: 3 }, () =>
      db.query('SELECT pg_sleep(30) AS closing').catch((e: unknown) => e),
    );
    await until(async () => (await running('closing')) === 3, 'three queries to run');
    await db.close();
    const errors = await Promise.all(inflight);
    assert.ok(errors.every((e) => e instanceof Error));
    await until(
      async () => (await backends()).length === 0,
      'the server to see every connection close',
    );
    await assert.rejects(db.query('SELECT 1'), (e: unknown) => isWeirError(e, 'ERR_POOL_CLOSED'));
  });
});
