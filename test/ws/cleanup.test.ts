// close() and an abort in every phase of a connection (connecting, a handshake that hangs,
// open, open with a send waiting, reconnecting, closing) settle every waiter and leave no
// timer and no socket behind.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { test } from 'node:test';
import { FakeClock } from '../../src/internal/clock.js';
import { isWeirError } from '../../src/internal/errors.js';
import { connectWs, type WsConnection, type WsConnectionEvents } from '../../src/ws/index.js';
import {
  nextEvent,
  socketsBackTo,
  startServer,
  type TestServer,
  tcpSockets,
  track,
} from './helpers.js';

type Ender = (conn: WsConnection, abort: AbortController) => Promise<void>;

const byClose: Ender = (conn) => conn.close();
const byAbort: Ender = async (conn, abort) => {
  abort.abort(new Error('stopped'));
  await conn.close();
};

async function settled(srv: TestServer, clock: FakeClock, conn: WsConnection, base: number) {
  assert.equal(conn.state, 'closed');
  assert.equal(clock.pendingTimers, 0, 'no timer left');
  await srv.allClosed();
  assert.ok((await socketsBackTo(base)) <= base, 'no socket left');
}

for (const [how, end] of [
  ['close()', byClose],
  ['abort', byAbort],
] as const) {
  test(`${how} while connecting`, { timeout: 20_000 }, async () => {
    const clock = new FakeClock();
    const srv = await startServer();
    const base = tcpSockets();
    const abort = new AbortController();
    const conn = connectWs(srv.url, { clock, signal: abort.signal });
    const opened = track(conn.opened());
    const send = track(conn.send('queued'));
    await end(conn, abort);
    await assert.rejects(opened.promise);
    await send.promise; // it had been accepted into the queue, then dropped
    assert.equal(conn.stats().dropped, 1);
    await settled(srv, clock, conn, base);
    await srv.close();
  });

  test(`${how} during a handshake that never finishes`, { timeout: 20_000 }, async () => {
    const clock = new FakeClock();
    const held: Socket[] = [];
    const mute = createServer((s) => held.push(s));
    mute.listen(0, '127.0.0.1');
    await once(mute, 'listening');
    const port = (mute.address() as { port: number }).port;
    const base = tcpSockets();
    const abort = new AbortController();
    const conn = connectWs(`ws://127.0.0.1:${port}/`, { clock, signal: abort.signal });
    await once(mute, 'connection');
    await end(conn, abort);
    assert.equal(conn.state, 'closed');
    assert.equal(clock.pendingTimers, 0);
    await once(held[0]!, 'close');
    assert.ok((await socketsBackTo(base)) <= base);
    mute.close();
  });

  test(`${how} while open, with a send waiting for room`, { timeout: 20_000 }, async () => {
    const clock = new FakeClock();
    const srv = await startServer();
    const abort = new AbortController();
    let peer: import('ws').WebSocket | undefined;
    const peerClosed = srv.nextConnection().then((ws) => {
      peer = ws;
      ws.pause();
      return new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
    });
    const base = tcpSockets();
    const conn = connectWs(srv.url, { clock, signal: abort.signal, maxBufferedBytes: 1024 });
    await conn.opened();
    const reading = track(conn.messages().toArray());
    let waiting: ReturnType<typeof track<void>> | undefined;
    for (let i = 0; i < 100_000 && waiting === undefined; i++) {
      const t = track(conn.send(Buffer.alloc(1024)));
      await new Promise((r) => setImmediate(r));
      if (!t.done) waiting = t;
    }
    assert.ok(waiting !== undefined);
    const closing = end(conn, abort);
    await assert.rejects(waiting.promise, (e: unknown) =>
      how === 'abort' ? /stopped/.test(String(e)) : isWeirError(e, 'ERR_WS_CLOSED'),
    );
    if (how === 'close()') {
      // The peer reads nothing, so the closing handshake cannot finish: the close timeout
      // destroys the socket instead of letting it linger in CLOSING.
      await clock.advance(1_000);
    }
    await closing;
    // A paused peer notices the close only when it reads again.
    peer?.resume();
    await peerClosed;
    await reading.promise.catch(() => {});
    assert.ok(reading.done);
    await settled(srv, clock, conn, base);
    await srv.close();
  });

  test(`${how} while reconnecting`, { timeout: 20_000 }, async () => {
    const clock = new FakeClock();
    const srv = await startServer();
    const base = tcpSockets();
    const abort = new AbortController();
    const conn = connectWs(srv.url, { clock, signal: abort.signal });
    await conn.opened();
    const reconnect = nextEvent<WsConnectionEvents, 'reconnect'>(conn, 'reconnect');
    for (const ws of srv.sockets) ws.terminate();
    await reconnect;
    assert.equal(conn.state, 'reconnecting');
    assert.equal(clock.pendingTimers, 1);
    await end(conn, abort);
    await settled(srv, clock, conn, base);
    await srv.close();
  });
}

test('close() while closing returns the same settlement; an abort then changes nothing', {
  timeout: 20_000,
}, async () => {
  const clock = new FakeClock();
  const srv = await startServer();
  const base = tcpSockets();
  const abort = new AbortController();
  const conn = connectWs(srv.url, { clock, signal: abort.signal });
  await conn.opened();
  const a = conn.close(4000, 'done');
  assert.equal(conn.state, 'closing');
  const b = conn.close();
  abort.abort();
  assert.equal(a, b);
  await a;
  await settled(srv, clock, conn, base);
  await srv.close();
});

test('an already aborted signal: closed at once, nothing opened', async () => {
  const clock = new FakeClock();
  const base = tcpSockets();
  const conn = connectWs('ws://127.0.0.1:9/', { clock, signal: AbortSignal.abort() });
  assert.equal(conn.state, 'closed');
  await assert.rejects(conn.opened(), { name: 'AbortError' });
  await conn.close();
  assert.equal(clock.pendingTimers, 0);
  assert.equal(tcpSockets(), base);
});

test('await using closes the connection', { timeout: 20_000 }, async () => {
  const clock = new FakeClock();
  const srv = await startServer();
  const closedOnServer = srv.nextConnection().then((ws) => once(ws, 'close'));
  let kept: WsConnection | undefined;
  {
    await using conn = connectWs(srv.url, { clock });
    kept = conn;
    await conn.opened();
  }
  assert.equal(kept.state, 'closed');
  const [code] = await closedOnServer;
  assert.equal(code, 1000);
  assert.equal(clock.pendingTimers, 0);
  await srv.close();
});
