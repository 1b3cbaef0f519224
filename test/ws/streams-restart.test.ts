// At-least-once streams across a server restart: 10 reliable streams carry 10,000
// numbered messages to an echoing server; in the middle the server's sockets are killed
// and its listener restarted on the same port (the stream server, which holds the
// sessions, lives on). Each side must read every message exactly once, in order.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from '../../src/internal/clock.js';
import { acceptWsStreams, createWsPool, type WsStream } from '../../src/ws/index.js';
import { startServer, turns } from './helpers.js';

const STREAMS = 10;
const PER_STREAM = 1_000;

test('the server killed and restarted in the middle of 10,000 sequenced messages on 10 streams: none lost, none duplicated, each stream in order', {
  timeout: 120_000,
}, async () => {
  const clock = new FakeClock();
  let srv = await startServer();
  const port = srv.port;
  const atServer = new Map<string, number[]>();
  let total = 0;
  let half!: () => void;
  const halfway = new Promise<void>((resolve) => {
    half = resolve;
  });
  const server = acceptWsStreams(srv.wss, {
    clock,
    onStream: async (s) => {
      const seen: number[] = [];
      atServer.set(s.label, seen);
      for await (const m of s) {
        seen.push(Number(String(m).split(':')[1]));
        if (++total === (STREAMS * PER_STREAM) / 2) half();
        await s.write(m);
      }
      await s.end();
    },
  });
  const pool = createWsPool({
    url: srv.url,
    connections: 3,
    clock,
    pingIntervalMs: Infinity,
    reconnectDelayMs: 50,
    streams: { window: 64 },
  });
  for (let i = 0; i < 200 && pool.stats().open < 3; i++) await turns(5);
  const streams: WsStream[] = [];
  for (let i = 0; i < STREAMS; i++) {
    streams.push(await pool.openStream({ reliable: true, label: `s${i}` }));
  }
  assert.equal(pool.stats().streams, STREAMS);
  // Least-loaded placement: 10 streams on 3 connections get ids 1..4 on each.
  assert.deepEqual(streams.map((s) => s.id).sort(), [1, 1, 1, 2, 2, 2, 3, 3, 3, 4]);
  const echoed = streams.map(async (s) => {
    const got: number[] = [];
    for await (const m of s) got.push(Number(String(m).split(':')[1]));
    return got;
  });
  const written = streams.map(async (s, i) => {
    for (let k = 0; k < PER_STREAM; k++) await s.write(`${i}:${k}`);
    await s.end();
  });
  await halfway;
  // Kill: every socket dies at once, the listener goes away, and comes back on the port.
  await srv.close();
  srv = await startServer({}, port);
  server.attach(srv.wss);
  // Until each connection has noticed the kill and come back (a close can arrive late).
  for (let i = 0; i < 400 && (pool.stats().open < 3 || pool.stats().reconnects < 3); i++) {
    await clock.advance(10);
    await turns(5);
  }
  assert.equal(pool.stats().open, 3, 'every connection came back');
  assert.equal(pool.stats().reconnects, 3);
  await Promise.all(written);
  const back = await Promise.all(echoed);
  const expected = Array.from({ length: PER_STREAM }, (_, k) => k);
  for (let i = 0; i < STREAMS; i++) {
    assert.deepEqual(atServer.get(`s${i}`), expected, `server side of stream ${i}`);
    assert.deepEqual(back[i], expected, `client side of stream ${i}`);
  }
  await pool.close();
  server.close();
  assert.equal(clock.pendingTimers, 0);
  await srv.close();
});
