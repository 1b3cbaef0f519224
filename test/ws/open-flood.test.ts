// A server that floods the socket as soon as it opens: `ws` can deliver the first messages
// in the same tick as `open`, before a listener attached after `await` exists. The inbox
// holds them from the moment the socket opens, so none is lost; a reader that takes its
// time pauses the socket instead of letting the inbox grow past its bound.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from '../../src/internal/clock.js';
import { connectWs } from '../../src/ws/index.js';
import { startServer, turns } from './helpers.js';

test('a flood sent at open is read in full by a reader that starts after await opened()', {
  timeout: 30_000,
}, async () => {
  const clock = new FakeClock();
  const srv = await startServer();
  srv.wss.on('connection', (ws) => {
    for (let i = 0; i < 1_000; i++) ws.send(`m${i}`);
  });
  const conn = connectWs(srv.url, { clock });
  await conn.opened();
  await turns(20);
  const got = await conn.messages().take(1_000).toArray();
  assert.deepEqual(
    got,
    Array.from({ length: 1_000 }, (_, i) => `m${i}`),
  );
  assert.equal(conn.stats().messagesIn, 1_000);
  await conn.close();
  await srv.close();
});

test('the inbox is bounded: past maxInboxBytes the socket stops reading until the reader catches up', {
  timeout: 30_000,
}, async () => {
  const clock = new FakeClock();
  const srv = await startServer();
  const payload = Buffer.alloc(1024, 7);
  const N = 2_000;
  let serverPeak = 0;
  srv.wss.on('connection', (ws) => {
    for (let i = 0; i < N; i++) {
      ws.send(payload);
      serverPeak = Math.max(serverPeak, ws.bufferedAmount);
    }
  });
  const conn = connectWs(srv.url, { clock, maxInboxBytes: 16 * 1024 });
  await conn.opened();
  await turns(200);
  // What arrived in the reads before the pause, at most about one socket read (64 KiB) past the bound.
  assert.ok(conn.stats().inboxBytes <= 16 * 1024 + 128 * 1024, `${conn.stats().inboxBytes}`);
  assert.ok(conn.stats().messagesIn < N, 'the socket stopped reading');
  let n = 0;
  for await (const m of conn) {
    assert.ok(Buffer.isBuffer(m));
    if (++n === N) break;
  }
  assert.equal(n, N);
  await conn.close();
  assert.equal(clock.pendingTimers, 0);
  await srv.close();
});
