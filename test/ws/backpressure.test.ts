// send() is bounded in bytes: with a peer that stops reading, what is buffered (the socket's
// bufferedAmount plus weir's queue) never goes above maxBufferedBytes plus one message, the
// next send waits, and it resumes once the peer reads again; nothing is lost or reordered.
// Sends made while connecting or reconnecting queue up to the same bound and go out in
// order once the socket is open.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from '../../src/internal/clock.js';
import { isWeirError } from '../../src/internal/errors.js';
import { connectWs, type WsConnectionEvents } from '../../src/ws/index.js';
import { nextEvent, startServer, track, turns } from './helpers.js';

const MAX = 64 * 1024;
const SIZE = 1024;
// A frame adds at most 14 bytes to its payload (header and mask).
const FRAME = 14;

function message(i: number): Buffer {
  const b = Buffer.alloc(SIZE, i % 251);
  b.writeUInt32BE(i, 0);
  return b;
}

test('a paused peer: buffered bytes stay under the bound plus one message, send() waits and resumes', {
  timeout: 60_000,
}, async () => {
  const clock = new FakeClock();
  const srv = await startServer();
  const received: number[] = [];
  let total = Number.POSITIVE_INFINITY;
  let allIn!: () => void;
  const done = new Promise<void>((resolve) => {
    allIn = resolve;
  });
  const peer = srv.nextConnection().then((ws) => {
    ws.pause();
    ws.on('message', (data: Buffer) => {
      received.push(data.readUInt32BE(0));
      if (received.length === total) allIn();
    });
    return ws;
  });
  const conn = connectWs(srv.url, { clock, maxBufferedBytes: MAX, pingIntervalMs: Infinity });
  await conn.opened();
  const serverSide = await peer;
  let i = 0;
  let maxSeen = 0;
  let blocked: ReturnType<typeof track<void>> | undefined;
  // Bounded: the kernel's buffers on loopback hold a few MB at most.
  while (i < 200_000) {
    const t = track(conn.send(message(i++)));
    await turns(1);
    maxSeen = Math.max(maxSeen, conn.stats().bufferedBytes);
    if (!t.done) {
      blocked = t;
      break;
    }
  }
  assert.ok(blocked !== undefined, 'a send waited for room');
  assert.ok(maxSeen <= MAX + SIZE + FRAME, `buffered ${maxSeen} > ${MAX} + one message`);
  assert.ok(conn.stats().bufferedBytes >= MAX - SIZE, 'the bound was reached');
  assert.equal(conn.stats().waitingSends, 1);
  await turns(20);
  assert.equal(blocked.done, false, 'it keeps waiting while the peer does not read');
  // The peer reads again: the waiting send goes through, and more after it.
  serverSide.resume();
  await blocked.promise;
  for (let k = 0; k < 100; k++) {
    await conn.send(message(i++));
    maxSeen = Math.max(maxSeen, conn.stats().bufferedBytes);
  }
  total = i;
  if (received.length === total) allIn();
  await done;
  assert.ok(maxSeen <= MAX + SIZE + FRAME);
  assert.deepEqual(
    received,
    Array.from({ length: total }, (_, k) => k),
    'every message arrived once, in order',
  );
  await conn.close();
  assert.equal(clock.pendingTimers, 0);
  await srv.close();
});

test('sends made while connecting and while reconnecting queue in order, bounded, and go out once open', {
  timeout: 30_000,
}, async () => {
  const clock = new FakeClock();
  const srv = await startServer();
  const got: string[] = [];
  let want = 0;
  let wake: () => void = () => {};
  srv.wss.on('connection', (ws) =>
    ws.on('message', (d) => {
      got.push(String(d));
      if (got.length === want) wake();
    }),
  );
  const arrived = (n: number) =>
    new Promise<void>((resolve) => {
      want = n;
      wake = resolve;
      if (got.length >= n) resolve();
    });
  const conn = connectWs(srv.url, {
    clock,
    maxBufferedBytes: 10,
    pingIntervalMs: Infinity,
    reconnectDelayMs: 100,
  });
  // Before the handshake: accepted into weir's queue up to the bound, then waiting.
  await conn.send('a1234');
  await conn.send('b1234');
  const third = track(conn.send('c1234'));
  await turns(1);
  assert.equal(third.done, false, 'over the bound while connecting: the send waits');
  assert.equal(conn.stats().queuedBytes, 10);
  await conn.opened();
  await third.promise;
  await arrived(3);
  assert.deepEqual(got, ['a1234', 'b1234', 'c1234']);
  // The server drops the connection; sends made meanwhile wait for the next socket.
  const reconnect = nextEvent<WsConnectionEvents, 'reconnect'>(conn, 'reconnect');
  for (const ws of srv.sockets) ws.terminate();
  const { delayMs } = await reconnect;
  assert.equal(conn.state, 'reconnecting');
  await conn.send('d1234');
  await conn.send('e1234');
  const sixth = track(conn.send('f1234'));
  const timedOut = conn.send('never', { signal: AbortSignal.abort(new Error('gave up')) });
  await assert.rejects(timedOut, /gave up/);
  await turns(1);
  assert.equal(sixth.done, false);
  await clock.advance(delayMs);
  await conn.opened();
  await sixth.promise;
  await arrived(6);
  assert.deepEqual(got, ['a1234', 'b1234', 'c1234', 'd1234', 'e1234', 'f1234']);
  await conn.close();
  await assert.rejects(conn.send('late'), (e: unknown) => isWeirError(e, 'ERR_WS_CLOSED'));
  assert.equal(clock.pendingTimers, 0);
  await srv.close();
});

test('a send that waits longer than sendTimeoutMs fails with ERR_WS_SEND_TIMEOUT and keeps the order of the rest', {
  timeout: 30_000,
}, async () => {
  const clock = new FakeClock();
  const srv = await startServer({ verifyClient: (_info, cb) => cb(false, 503) });
  const conn = connectWs(srv.url, {
    clock,
    maxBufferedBytes: 4,
    sendTimeoutMs: 1_000,
    pingIntervalMs: Infinity,
  });
  await conn.send('1234');
  const late = assert.rejects(conn.send('5678'), (e: unknown) =>
    isWeirError(e, 'ERR_WS_SEND_TIMEOUT'),
  );
  await clock.advance(1_000);
  await late;
  assert.equal(conn.stats().waitingSends, 0);
  await conn.close();
  assert.equal(conn.stats().dropped, 1, 'the queued message never went out');
  assert.equal(clock.pendingTimers, 0);
  await srv.close();
});
