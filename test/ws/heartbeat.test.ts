// A half-open connection (the server stops answering pings, the socket stays up) is
// terminated and replaced within twice the ping interval; a healthy one is left alone.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from '../../src/internal/clock.js';
import { isWeirError } from '../../src/internal/errors.js';
import { connectWs, type WsConnectionEvents } from '../../src/ws/index.js';
import { nextEvent, startServer } from './helpers.js';

test('a server that stops answering pings is detected within 2x pingIntervalMs and replaced', async () => {
  const clock = new FakeClock();
  const srv = await startServer({ autoPong: false });
  let answering = true;
  srv.wss.on('connection', (ws) =>
    ws.on('ping', (data) => {
      if (answering) ws.pong(data);
    }),
  );
  const first = srv.nextConnection();
  const conn = connectWs(srv.url, {
    clock,
    pingIntervalMs: 1_000,
    pongTimeoutMs: 500,
    reconnectDelayMs: 400,
  });
  await conn.opened();
  await first;
  // A healthy round: the pong comes back, nothing is terminated.
  const pong = nextEvent<WsConnectionEvents, 'pong'>(conn, 'pong');
  await clock.advance(1_000);
  await pong;
  await clock.advance(900);
  assert.equal(conn.state, 'open');
  // From here the server answers nothing, but its socket stays up: half-open.
  answering = false;
  const stoppedAt = clock.now();
  const closed = nextEvent<WsConnectionEvents, 'close'>(conn, 'close');
  const reconnect = nextEvent<WsConnectionEvents, 'reconnect'>(conn, 'reconnect');
  const second = srv.nextConnection();
  let detectedAt = -1;
  for (let i = 0; i < 40 && detectedAt < 0; i++) {
    await clock.advance(50);
    if (conn.state !== 'open') detectedAt = clock.now();
  }
  const c = await closed;
  assert.ok(c.reconnecting);
  assert.ok(isWeirError(c.error, 'ERR_TIMEOUT'), 'the close names the missing pong');
  assert.ok(detectedAt - stoppedAt <= 2_000, `detected after ${detectedAt - stoppedAt} ms`);
  const r = await reconnect;
  assert.ok(
    detectedAt + r.delayMs - stoppedAt <= 2_000,
    `replaced after ${detectedAt + r.delayMs - stoppedAt} ms`,
  );
  const reopened = nextEvent<WsConnectionEvents, 'open'>(conn, 'open');
  await clock.advance(r.delayMs);
  assert.equal((await reopened).attempt, 2);
  await second;
  await conn.close();
  assert.equal(clock.pendingTimers, 0);
  await srv.close();
});

test('pongTimeoutMs above pingIntervalMs is refused, naming both options', () => {
  assert.throws(
    () => connectWs('ws://127.0.0.1:1/', { pingIntervalMs: 1_000, pongTimeoutMs: 2_000 }),
    /`pongTimeoutMs` to be at most `pingIntervalMs`/,
  );
  assert.throws(() => connectWs('http//nope', {}), TypeError);
  // `ws` itself refuses a malformed subprotocol when the socket is made: thrown at once.
  assert.throws(
    () =>
      connectWs('ws://127.0.0.1:1/', {
        protocols: 'two words',
        signal: new AbortController().signal,
      }),
    SyntaxError,
  );
  assert.throws(
    () => connectWs('ws://127.0.0.1:1/', { pingInterval: 5 } as never),
    /did you mean `pingIntervalMs`/,
  );
});
