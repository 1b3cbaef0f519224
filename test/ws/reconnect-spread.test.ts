// 1,000 connections dropped at once do not come back at once: each draws its own
// full-jitter delay, so no 100 ms window holds more than 5 % of the attempts. Checked from
// the delays the connections schedule on a fake clock (the sockets and the drop are real).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from '../../src/internal/clock.js';
import { connectWs, type WsConnection } from '../../src/ws/index.js';
import { seeded, startServer } from './helpers.js';

const N = 1_000;

function densestWindow(times: number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let best = 0;
  let lo = 0;
  for (let hi = 0; hi < sorted.length; hi++) {
    while (sorted[hi]! - sorted[lo]! >= windowMs) lo++;
    best = Math.max(best, hi - lo + 1);
  }
  return best;
}

test('1,000 connections dropped at once: no 100 ms window holds more than 5 % of the reconnections', {
  timeout: 120_000,
}, async () => {
  const clock = new FakeClock();
  const srv = await startServer({ backlog: 2048 });
  const random = seeded(13);
  const conns: WsConnection[] = [];
  const at: number[] = [];
  for (let i = 0; i < N; i++) {
    const conn = connectWs(srv.url, { clock, random, pingIntervalMs: Infinity });
    conn.on('reconnect', ({ retry, delayMs }) => {
      assert.equal(retry, 1);
      at.push(clock.now() + delayMs);
    });
    conns.push(conn);
  }
  await Promise.all(conns.map((c) => c.opened()));
  const dropped = new Promise<void>((resolve) => {
    let n = 0;
    for (const c of conns) c.once('close', () => ++n === N && resolve());
  });
  for (const ws of srv.sockets) ws.terminate();
  await dropped;
  assert.equal(at.length, N);
  assert.equal(clock.pendingTimers, N, 'one reconnection timer per connection');
  const densest = densestWindow(at, 100);
  assert.ok(densest <= N * 0.05, `${densest} of ${N} reconnections fall in one 100 ms window`);
  assert.ok(new Set(at).size > N * 0.99, 'each connection drew its own delay');
  await Promise.all(conns.map((c) => c.close()));
  assert.equal(clock.pendingTimers, 0);
  await srv.close();
});

test('the window check itself fails for a per-process delay', () => {
  assert.equal(
    densestWindow(
      Array.from({ length: N }, () => 1234),
      100,
    ),
    N,
  );
});
