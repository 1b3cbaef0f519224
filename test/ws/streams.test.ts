// Multiplexed streams: ends and resets reach the other side, credit holds a writer back,
// a session the server forgot ends its streams after a reconnection, and the server half
// refuses what breaks the framing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import WebSocket from 'ws';
import { FakeClock } from '../../src/internal/clock.js';
import { isWeirError } from '../../src/internal/errors.js';
import { encodeHello, encodeOpen } from '../../src/ws/frame.js';
import {
  acceptWsStreams,
  createWsPool,
  type WsConnectionEvents,
  type WsStream,
} from '../../src/ws/index.js';
import { nextEvent, startServer, track, turns } from './helpers.js';

async function setup(
  onStream: (s: WsStream) => void | Promise<void>,
  ttl = 60_000,
  reconnectDelayMs = 10,
) {
  const clock = new FakeClock();
  const srv = await startServer();
  const server = acceptWsStreams(srv.wss, { clock, onStream, sessionTtlMs: ttl, maxWindow: 64 });
  const pool = createWsPool({
    url: srv.url,
    connections: 1,
    clock,
    pingIntervalMs: Infinity,
    reconnectDelayMs,
    random: () => 0.99,
    streams: { window: 4 },
  });
  const done = async () => {
    await pool.close();
    server.close();
    assert.equal(clock.pendingTimers, 0);
    await srv.close();
  };
  return { clock, srv, server, pool, done };
}

test('end() reaches the reader after every message; the stream is forgotten when both ended', {
  timeout: 20_000,
}, async () => {
  const seen: string[] = [];
  const { pool, server, done } = await setup(async (s) => {
    for await (const m of s) seen.push(String(m));
    await s.write(`got ${seen.length}`);
    await s.end();
  });
  const s = await pool.openStream({ label: 'x' });
  await s.write('a');
  await s.write(Buffer.from('b'));
  await s.end();
  await assert.rejects(s.write('c'), (e: unknown) => isWeirError(e, 'ERR_WS_CLOSED'));
  assert.deepEqual(await s.messages().toArray(), ['got 2']);
  assert.deepEqual(seen, ['a', 'b']);
  for (let i = 0; i < 100 && (server.streams > 0 || pool.stats().streams > 0); i++) await turns(2);
  assert.equal(server.streams, 0);
  assert.equal(pool.stats().streams, 0);
  await done();
});

test('credit: a writer waits once the reader has `window` messages unread, and resumes as it reads', {
  timeout: 20_000,
}, async () => {
  let serverSide: WsStream | undefined;
  const { pool, done } = await setup((s) => {
    serverSide = s;
  });
  const s = await pool.openStream();
  for (let k = 0; k < 4; k++) await s.write(`m${k}`);
  const fifth = track(s.write('m4'));
  await turns(20);
  assert.equal(fifth.done, false);
  assert.equal(s.stats().credit, 0);
  const it = serverSide![Symbol.asyncIterator]();
  assert.equal(String((await it.next()).value), 'm0');
  await fifth.promise;
  const rest: string[] = [];
  for (let k = 0; k < 4; k++) rest.push(String((await it.next()).value));
  assert.deepEqual(rest, ['m1', 'm2', 'm3', 'm4']);
  await done();
});

test('reset() fails both sides with ERR_WS_STREAM_RESET and the reason', {
  timeout: 20_000,
}, async () => {
  let serverSide: WsStream | undefined;
  const { pool, done } = await setup((s) => {
    serverSide = s;
  });
  const s = await pool.openStream();
  await s.write('hello');
  for (let i = 0; i < 100 && serverSide === undefined; i++) await turns(2);
  const reading = serverSide!.messages().toArray();
  s.reset('client gave up');
  await assert.rejects(
    reading,
    (e: unknown) => isWeirError(e, 'ERR_WS_STREAM_RESET') && /client gave up/.test(String(e)),
  );
  await assert.rejects(s.write('x'), (e: unknown) => isWeirError(e, 'ERR_WS_STREAM_RESET'));
  await done();
});

test('a session the server forgot (sessionTtlMs passed) ends its streams after the reconnection', {
  timeout: 20_000,
}, async () => {
  // The client comes back after 1,980 ms, the session is forgotten after 1,000.
  const { clock, srv, server, pool, done } = await setup(() => {}, 1_000, 2_000);
  const s = await pool.openStream({ reliable: true });
  await s.write('x');
  for (let i = 0; i < 100 && server.streams === 0; i++) await turns(2);
  const conn = await pool.use((c) => c);
  const reconnect = nextEvent<WsConnectionEvents, 'reconnect'>(conn, 'reconnect');
  for (const ws of srv.sockets) ws.terminate();
  const { delayMs } = await reconnect;
  await srv.allClosed();
  await clock.advance(1_000); // the server's session expires first
  assert.equal(server.sessions, 0);
  const failed = assert.rejects(s.messages().toArray(), (e: unknown) =>
    isWeirError(e, 'ERR_WS_STREAM_RESET'),
  );
  await clock.advance(delayMs - 1_000);
  await failed;
  // The connection itself lives on, and carries new streams.
  const t = await pool.openStream();
  await t.write('fresh');
  await done();
});

test('the server half closes a socket that breaks the framing (1002) and resets a window above maxWindow', {
  timeout: 20_000,
}, async () => {
  const { srv, done } = await setup(() => {});
  const raw = new WebSocket(srv.url);
  await new Promise((r) => raw.once('open', r));
  raw.send('not a frame');
  const [code] = await new Promise<[number]>((r) => raw.once('close', (c) => r([c])));
  assert.equal(code, 1002);
  const raw2 = new WebSocket(srv.url);
  await new Promise((r) => raw2.once('open', r));
  const frames: Buffer[] = [];
  raw2.on('message', (d: Buffer) => frames.push(d));
  raw2.send(encodeHello(Buffer.alloc(16, 9)));
  raw2.send(encodeOpen(1, false, 10_000, ''));
  for (let i = 0; i < 200 && frames.length < 2; i++) await turns(2);
  assert.equal(frames[0]![0], 2, 'WELCOME');
  assert.equal(frames[1]![0], 6, 'RESET');
  assert.match(frames[1]!.toString('utf8', 5), /maxWindow/);
  raw2.terminate();
  await done();
});

test('openStream() needs a pool made with `streams`; a streams connection refuses plain sends', {
  timeout: 20_000,
}, async () => {
  const srv = await startServer();
  const plain = createWsPool({ url: srv.url, pingIntervalMs: Infinity });
  await assert.rejects(plain.openStream(), TypeError);
  await plain.close();
  const { pool, done } = await setup(() => {});
  await pool.use((conn) => {
    assert.throws(() => conn.send('x'), TypeError);
  });
  await done();
  await srv.close();
});
