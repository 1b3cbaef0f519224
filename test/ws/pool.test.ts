// createWsPool on the managed layer: connections opened at start, lent one borrower at a
// time, counted in stats (open, reconnecting, buffered bytes, messages, reconnects), and
// replaced when one gives up for good.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from '../../src/internal/clock.js';
import { isWeirError } from '../../src/internal/errors.js';
import { createWsPool } from '../../src/ws/index.js';
import { startServer } from './helpers.js';

test('request/response over leased connections, with stats', { timeout: 20_000 }, async () => {
  const clock = new FakeClock();
  const srv = await startServer();
  srv.wss.on('connection', (ws) => ws.on('message', (d) => ws.send(`echo ${String(d)}`)));
  const pool = createWsPool({ url: srv.url, connections: 3, clock, pingIntervalMs: Infinity });
  const answers = await Promise.all(
    Array.from({ length: 9 }, (_, i) =>
      pool.use(async (conn) => {
        await conn.send(`q${i}`);
        return conn.messages().first();
      }),
    ),
  );
  assert.deepEqual(
    answers,
    Array.from({ length: 9 }, (_, i) => `echo q${i}`),
  );
  const s = pool.stats();
  assert.equal(s.name, 'ws');
  assert.equal(s.size, 3);
  assert.equal(s.open, 3);
  assert.equal(s.reconnecting, 0);
  assert.equal(s.messagesOut, 9);
  assert.equal(s.messagesIn, 9);
  assert.equal(s.acquired, 9);
  assert.equal(s.reconnects, 0);
  // The server drops every socket: the pool's connections reconnect by themselves.
  for (const ws of srv.sockets) ws.terminate();
  for (let i = 0; i < 2000 && pool.stats().reconnecting < 3; i++) {
    await new Promise((r) => setImmediate(r));
  }
  assert.equal(pool.stats().reconnecting, 3);
  await clock.advance(5_000);
  for (let i = 0; i < 2000 && pool.stats().open < 3; i++) {
    await new Promise((r) => setImmediate(r));
  }
  assert.equal(pool.stats().open, 3);
  assert.equal(pool.stats().reconnects, 3);
  await pool.close();
  await assert.rejects(pool.acquire(), (e: unknown) => isWeirError(e, 'ERR_POOL_CLOSED'));
  assert.equal(clock.pendingTimers, 0);
  await srv.close();
});

test('a connection that gives up (fatal close) is replaced by the pool', {
  timeout: 20_000,
}, async () => {
  const clock = new FakeClock();
  const srv = await startServer();
  const pool = createWsPool({ url: srv.url, connections: 1, clock, pingIntervalMs: Infinity });
  const first = await pool.use((c) => c);
  const replaced = srv.nextConnection();
  for (const ws of srv.sockets) ws.close(4001, 'kicked');
  await replaced;
  for (let i = 0; i < 2000 && pool.stats().open < 1; i++) await new Promise((r) => setImmediate(r));
  const second = await pool.use((c) => c);
  assert.notEqual(first, second);
  assert.equal(first.state, 'closed');
  assert.equal(pool.stats().destroyed, 1);
  await pool.close();
  assert.equal(clock.pendingTimers, 0);
  await srv.close();
});

test('options are checked up front', () => {
  assert.throws(() => createWsPool({ url: 'ftp://x' }), TypeError);
  assert.throws(() => createWsPool({ url: 'ws://127.0.0.1:1', connections: 0 }), RangeError);
  assert.throws(
    () => createWsPool({ url: 'ws://127.0.0.1:1', conections: 2 } as never),
    /did you mean `connections`/,
  );
  assert.throws(() => createWsPool({ url: 'ws://127.0.0.1:1', pingIntervalMs: -1 }), RangeError);
});
