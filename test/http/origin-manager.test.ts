import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { createHttpPool } from '../../src/http/index.js';
import { SharedManagedPool } from '../../src/managed/index.js';
import { httpServer, type Running } from './servers.js';

const servers: Running[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

test("an origin's pool is a shared managed pool run by the origin's manager, one per origin", async () => {
  const s = await httpServer((_req, res) => res.end('ok'));
  servers.push(s);
  const http = createHttpPool();
  try {
    await (await http.request(`${s.url}/a`)).body.text();
    await (await http.request(new URL('/b', s.url))).body.text();
    const op = http.originPool(s.url);
    assert.ok(op.pool instanceof SharedManagedPool);
    assert.equal(op.pool.manager, op);
    assert.equal(
      http.originPool(`${s.url}/other/path`),
      op,
      'one pool per origin, whatever the path',
    );
    assert.equal(http.stats().origins.length, 1);
    assert.equal(http.stats().requests, 2);
  } finally {
    await http.close();
  }
});

test('a connection is broken for its manager once its socket is closed, and is not lent again', async () => {
  const s = await httpServer((_req, res) => res.end('ok'));
  servers.push(s);
  const http = createHttpPool();
  try {
    await (await http.request(s.url)).body.text();
    const op = http.originPool(s.url);
    const lease = op.pool.tryAcquire();
    assert.ok(lease !== null, 'the idle connection is lent without a promise');
    const conn = lease.value;
    assert.equal(op.isBroken(conn), false);
    lease.release();
    await conn.destroy();
    assert.equal(op.isBroken(conn), true);
    const next = await op.pool.acquire();
    assert.notEqual(next.value, conn, 'a closed connection is never lent');
    next.release();
    assert.equal(await (await http.request(s.url)).body.text(), 'ok');
  } finally {
    await http.close();
  }
});
