import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { createLibsqlPool } from '../../src/libsql/index.js';

const dir = mkdtempSync(join(tmpdir(), 'weir-libsql-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('weir/libsql on an embedded file database', () => {
  test('executes, caps concurrency, commits and rolls back transactions', async () => {
    const db = createLibsqlPool({ url: `file:${join(dir, 'a.db')}` });
    await db.execute('CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)');
    await db.transaction(async (tx) => {
      for (let i = 1; i <= 100; i++)
        await tx.execute('INSERT INTO items (id, name) VALUES (?, ?)', [i, `item ${i}`]);
    });
    await assert.rejects(
      db.transaction(async (tx) => {
        await tx.execute('INSERT INTO items (id, name) VALUES (?, ?)', [1000, 'doomed']);
        throw new Error('abort the transaction');
      }),
      /abort the transaction/,
    );
    const counts = await Promise.all(
      Array.from({ length: 20 }, () => db.execute('SELECT count(*) AS n FROM items')),
    );
    assert.ok(counts.every((r) => r.rows[0]!.n === 100));
    const s = db.stats();
    assert.equal(s.created, 1, 'a local pool serialises on one connection by default');
    assert.equal(s.acquired, 23);
    const one = await db.execute('SELECT name FROM items WHERE id = ?', [42]);
    assert.equal(one.rows[0]!.name, 'item 42');
    await db.drain();
    assert.equal(db.stats().state, 'closed');
  });

  test('rows() streams a large table in batches and releases the connection on break', async () => {
    const db = createLibsqlPool({ url: `file:${join(dir, 'b.db')}` });
    await db.execute('CREATE TABLE n (v INTEGER)');
    await db.transaction(async (tx) => {
      await tx.execute(
        'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 10000) INSERT INTO n SELECT x FROM c',
      );
    });
    let sum = 0;
    let count = 0;
    for await (const row of db.rows('SELECT v FROM n ORDER BY v', [], { batchSize: 777 })) {
      sum += row.v as number;
      count++;
    }
    assert.equal(count, 10_000);
    assert.equal(sum, (10_000 * 10_001) / 2);
    for await (const row of db.rows('SELECT v FROM n WHERE v > ? ORDER BY v', [5000])) {
      assert.equal(row.v, 5001);
      break;
    }
    assert.equal(db.stats().leased, 0, 'breaking out released the connection');

    // Keyset paging: every page starts after the last key seen, in key order.
    const seen: number[] = [];
    for await (const row of db.rows('SELECT rowid AS id, v FROM n WHERE v > ?', [9000], {
      key: 'id',
      batchSize: 64,
    })) {
      seen.push(row.v as number);
    }
    assert.deepEqual(
      seen,
      Array.from({ length: 1000 }, (_, i) => 9001 + i),
    );
    await assert.rejects(async () => {
      for await (const _ of db.rows('SELECT v FROM n', [], { key: 'v; DROP TABLE n' })) {
        // unreachable
      }
    }, /`key`/);
    await assert.rejects(async () => {
      for await (const _ of db.rows('SELECT NULL AS k FROM n', [], { key: 'k', batchSize: 10 })) {
        // the first page arrives; the second cannot be found without a key value
      }
    }, /no `k` value/);
    assert.equal(db.stats().leased, 0, 'a failed read released the connection');
    await assert.rejects(async () => {
      for await (const _ of db.rows('SELECT v FROM n', [], { batchSize: 0 })) {
        // unreachable
      }
    }, /`batchSize`/);
    await db.close();
  });

  test(':memory: keeps one connection, and bad options are named', async () => {
    assert.throws(
      () => createLibsqlPool({ url: ':memory:', max: 2 }),
      /`max` to be 1 for ":memory:"/,
    );
    assert.throws(() => createLibsqlPool({ url: '' }), /`url`/);
    const db = createLibsqlPool({ url: ':memory:' });
    await db.execute('CREATE TABLE t (x)');
    await db.transaction(async (tx) => {
      await tx.execute('INSERT INTO t VALUES (1)');
    });
    assert.equal((await db.execute('SELECT count(*) AS n FROM t')).rows[0]!.n, 1);
    await db.close();
  });

  test('query and readOnly, the names weir/pg uses, are the same as execute and mode read', async () => {
    const db = createLibsqlPool({ url: `file:${join(dir, 'c.db')}` });
    await db.query('CREATE TABLE t (x)');
    await db.transaction(async (tx) => {
      await tx.query('INSERT INTO t VALUES (?)', [1]);
      await tx.execute('INSERT INTO t VALUES (?)', [2]);
    });
    assert.equal((await db.query('SELECT count(*) AS n FROM t')).rows[0]!.n, 2);
    assert.equal((await db.execute('SELECT count(*) AS n FROM t')).rows[0]!.n, 2);
    // One local connection: watch the mode each transaction asks it for.
    const lease = await db.pool.acquire();
    const client = lease.value;
    lease.release();
    const modes: unknown[] = [];
    const begin = client.transaction.bind(client);
    client.transaction = (mode?: 'write' | 'read' | 'deferred') => {
      modes.push(mode);
      return begin(mode);
    };
    await db.transaction(async () => {}, { readOnly: true });
    await db.transaction(async () => {}, { readOnly: false });
    await db.transaction(async () => {}, { readOnly: false, mode: 'deferred' });
    assert.deepEqual(modes, ['read', 'write', 'deferred']);
    const n = await db.transaction(
      async (tx) => (await tx.query('SELECT count(*) AS n FROM t')).rows[0]!.n,
      { readOnly: true, mode: 'read' },
    );
    assert.equal(n, 2);
    await assert.rejects(
      db.transaction(async () => {}, { readOnly: true, mode: 'write' }),
      /contradicts/,
    );
    await assert.rejects(
      db.transaction(async () => {}, { readOnly: 'yes' as never }),
      /`readOnly`/,
    );
    assert.equal(db.stats().leased, 0);
    await db.close();
  });

  test('sharing options do not reach a libSQL client', () => {
    assert.throws(
      () => createLibsqlPool({ url: ':memory:', maxLeasesPerResource: 2 } as never),
      /`maxLeasesPerResource`/,
    );
  });
});
