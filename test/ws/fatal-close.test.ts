// Close codes that say "do not come back" (policy violation, 4xxx by default) and a
// handshake refused with a 4xx status end the connection instead of reconnecting;
// retryable codes reconnect, and maxRetries bounds the attempts in a row.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from '../../src/internal/clock.js';
import { isWeirError } from '../../src/internal/errors.js';
import { connectWs, type WsConnectionEvents, type WsOptions } from '../../src/ws/index.js';
import { nextEvent, startServer } from './helpers.js';

async function closedWith(code: number, options: WsOptions = {}) {
  const clock = new FakeClock();
  const srv = await startServer();
  srv.wss.on('connection', (ws) => ws.close(code, 'bye'));
  const conn = connectWs(srv.url, { clock, pingIntervalMs: Infinity, ...options });
  let reconnects = 0;
  conn.on('reconnect', () => reconnects++);
  const closed = nextEvent<WsConnectionEvents, 'close'>(conn, 'close');
  await conn.opened();
  const e = await closed;
  return { clock, srv, conn, e, reconnects: () => reconnects };
}

for (const code of [1008, 4000, 4401, 4999]) {
  test(`close code ${code} is fatal by default: no reconnection, ERR_WS_FATAL_CLOSE`, {
    timeout: 20_000,
  }, async () => {
    const { clock, srv, conn, e, reconnects } = await closedWith(code);
    assert.equal(e.reconnecting, false);
    assert.ok(isWeirError(e.error, 'ERR_WS_FATAL_CLOSE'));
    assert.equal((e.error as { closeCode?: number }).closeCode, code);
    assert.equal(conn.state, 'closed');
    assert.equal(reconnects(), 0);
    assert.equal(clock.pendingTimers, 0, 'no reconnection is scheduled');
    await assert.rejects(conn.send('x'), (err: unknown) => isWeirError(err, 'ERR_WS_FATAL_CLOSE'));
    await assert.rejects(conn.opened(), (err: unknown) => isWeirError(err, 'ERR_WS_FATAL_CLOSE'));
    await assert.rejects(conn.messages().toArray(), (err: unknown) =>
      isWeirError(err, 'ERR_WS_FATAL_CLOSE'),
    );
    await conn.close();
    await srv.close();
  });
}

test('1001 (going away) and 1011 are retried; isFatalClose overrides the default', {
  timeout: 20_000,
}, async () => {
  for (const code of [1001, 1011]) {
    const { clock, srv, conn, e, reconnects } = await closedWith(code);
    assert.equal(e.reconnecting, true);
    assert.equal(reconnects(), 1);
    assert.equal(clock.pendingTimers, 1);
    await conn.close();
    assert.equal(clock.pendingTimers, 0);
    await srv.close();
  }
  const { clock, srv, e } = await closedWith(1001, { isFatalClose: (c) => c === 1001 });
  assert.ok(isWeirError(e.error, 'ERR_WS_FATAL_CLOSE'));
  assert.equal(clock.pendingTimers, 0);
  await srv.close();
});

test('a handshake refused with 403 is not retried; 503 is, up to maxRetries', {
  timeout: 20_000,
}, async () => {
  const clock = new FakeClock();
  const forbidden = await startServer({ verifyClient: (_i, cb) => cb(false, 403) });
  const a = connectWs(forbidden.url, { clock, pingIntervalMs: Infinity });
  await assert.rejects(a.opened(), (e: unknown) => isWeirError(e, 'ERR_WS_HANDSHAKE_REFUSED'));
  assert.equal(a.stats().attempts, 1);
  assert.equal(clock.pendingTimers, 0);
  await forbidden.close();

  const busy = await startServer({ verifyClient: (_i, cb) => cb(false, 503) });
  const b = connectWs(busy.url, { clock, pingIntervalMs: Infinity, maxRetries: 3 });
  const delays: number[] = [];
  b.on('reconnect', ({ delayMs }) => {
    delays.push(delayMs);
    void clock.advance(delayMs);
  });
  await assert.rejects(b.opened(), (e: unknown) => isWeirError(e, 'ERR_WS_RETRIES_EXHAUSTED'));
  assert.equal(b.stats().attempts, 4, 'the first attempt and 3 retries');
  assert.equal(delays.length, 3);
  assert.equal(clock.pendingTimers, 0);
  await busy.close();
});
