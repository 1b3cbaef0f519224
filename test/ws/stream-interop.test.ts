// A connection plugs into weir/stream both ways: its messages are a stream source, and
// `writable()` is a pipeTo target whose writes wait as send() does.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from '../../src/internal/clock.js';
import { stream } from '../../src/stream/index.js';
import { connectWs } from '../../src/ws/index.js';
import { startServer } from './helpers.js';

test('stream(source).pipeTo(conn.writable()) sends in order; conn.messages() reads the echoes', {
  timeout: 20_000,
}, async () => {
  const clock = new FakeClock();
  const srv = await startServer();
  srv.wss.on('connection', (ws) => ws.on('message', (d) => ws.send(`<${String(d)}>`)));
  const conn = connectWs(srv.url, { clock, maxBufferedBytes: 16 });
  const items = Array.from({ length: 200 }, (_, i) => `item-${i}`);
  // Piped before the socket is even open: the writes queue, bounded, and go out in order.
  await stream(items).pipeTo(conn.writable());
  assert.equal(conn.state, 'open', 'the connection stays open after the pipe closed its writer');
  const echoed = await conn
    .messages()
    .map((m) => String(m))
    .take(items.length)
    .toArray();
  assert.deepEqual(
    echoed,
    items.map((i) => `<${i}>`),
  );
  await conn.close();
  assert.equal(clock.pendingTimers, 0);
  await srv.close();
});
