import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import { createHttpPool } from '../../src/http/index.js';
import { FakeClock } from '../../src/internal/clock.js';
import { connectSse, createSseStream, isWeirError, SseHub } from '../../src/sse/index.js';

const servers: Server[] = [];
after(() => {
  for (const s of servers) {
    s.closeAllConnections();
    s.close();
  }
});

async function serve(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

// Waits (in event-loop turns, bounded, never wall-clock time) for the client to schedule
// its reconnection timer on the fake clock.
async function timerArmed(clock: FakeClock): Promise<void> {
  for (let i = 0; i < 10_000 && clock.pendingTimers === 0; i++) {
    await new Promise((r) => setImmediate(r));
  }
  assert.ok(clock.pendingTimers > 0, 'the client armed its reconnection timer');
}

describe('connectSse', () => {
  test('runs over a weir/http pool when given one', async () => {
    const url = await serve((_req, res) => {
      const sse = createSseStream(res, { keepAliveMs: Number.POSITIVE_INFINITY });
      sse.send({ data: 'over the pool', id: '1' });
      sse.close();
    });
    const pool = createHttpPool();
    for await (const e of connectSse(url, { pool })) {
      assert.deepEqual(e, { event: 'message', data: 'over the pool', id: '1' });
      break;
    }
    assert.ok(pool.stats().requests >= 1, 'the request went through the pool');
    await pool.close();
    assert.throws(
      () => connectSse(url, { pool, fetch: globalThis.fetch as never }),
      /either `pool` or `fetch`/,
    );
    assert.throws(() => connectSse(url, { pool: {} }), /undici Dispatcher/);
  });

  test('reconnects after retry with Last-Event-ID and gets the missed events replayed', async () => {
    const hub = new SseHub({ keepAliveMs: Number.POSITIVE_INFINITY });
    const seen: (string | undefined)[] = [];
    let first: { close(): void } | undefined;
    const url = await serve((req, res) => {
      seen.push(req.headers['last-event-id'] as string | undefined);
      const { stream } = hub.add(res, req);
      first ??= stream;
    });
    const clock = new FakeClock();
    const it = connectSse(url, { clock }).values();
    const next = async () => (await it.next()).value;
    const firstEvent = next();
    for (let i = 0; i < 10_000 && hub.size === 0; i++) await new Promise((r) => setImmediate(r));
    hub.broadcast({ retry: 2000, data: 'one' });
    assert.equal((await firstEvent).data, 'one');
    hub.broadcast({ data: 'two' });
    assert.deepEqual(await next(), { event: 'message', data: 'two', id: '2' });
    // The server ends the stream; events go on while the client is away.
    const third = next();
    first!.close();
    await timerArmed(clock);
    hub.broadcast({ data: 'three' });
    hub.broadcast({ event: 'x', data: 'four' });
    await clock.advance(1999);
    assert.equal(seen.length, 1, 'no reconnection before the retry delay');
    await clock.advance(1);
    assert.equal((await third).data, 'three');
    assert.deepEqual(await next(), { event: 'x', data: 'four', id: '4' });
    assert.deepEqual(seen, [undefined, '2']);
    await it.return!();
    hub.close();
  });

  test('stops on 204; fails clearly on a wrong status or content type, without retrying', async () => {
    let calls = 0;
    const url = await serve((req, res) => {
      calls++;
      if (req.url === '/204') res.writeHead(204).end();
      else if (req.url === '/500') res.writeHead(500).end('oops');
      else res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
    assert.deepEqual(await connectSse(`${url}204`).toArray(), []);
    await assert.rejects(connectSse(`${url}500`).toArray(), (e) => {
      return (
        isWeirError(e, 'ERR_SSE_STATUS') && (e as unknown as { status: number }).status === 500
      );
    });
    await assert.rejects(connectSse(`${url}json`).toArray(), (e) =>
      isWeirError(e, 'ERR_SSE_CONTENT_TYPE'),
    );
    assert.equal(calls, 3);
  });

  test('backs off with jitter while attempts fail, then gives up after maxRetries', async () => {
    const clock = new FakeClock();
    const delays: number[] = [];
    let calls = 0;
    const failing = async () => {
      calls++;
      if (calls > 1) delays.push(clock.now());
      throw new TypeError('fetch failed');
    };
    const done = connectSse('http://127.0.0.1:1/', {
      fetch: failing,
      clock,
      retryMs: 100,
      minRetryMs: 100,
      maxRetryMs: 1000,
      maxRetries: 5,
      random: () => 1 - Number.EPSILON,
    }).toArray();
    const outcome = done.then(
      () => undefined,
      (e: unknown) => e,
    );
    for (let i = 0; i < 5; i++) {
      await timerArmed(clock);
      await clock.advance(clock.nextTimerAt! - clock.now());
    }
    const error = await outcome;
    assert.ok(isWeirError(error, 'ERR_SSE_RETRIES_EXHAUSTED'));
    assert.ok((error as Error).cause instanceof TypeError);
    assert.equal(calls, 6);
    // 100 (the retry delay), then doubling with equal jitter (random near 1), capped at 1000.
    const gaps = delays.map((t, i) => Math.round(t - (i === 0 ? 0 : delays[i - 1]!)));
    assert.deepEqual(gaps, [100, 200, 400, 800, 1000]);
  });

  test('an abort ends the iteration and the request; break closes the connection', async () => {
    const closed: Promise<void>[] = [];
    const url = await serve((_req, res) => {
      const sse = createSseStream(res, { keepAliveMs: Number.POSITIVE_INFINITY });
      closed.push(new Promise((r) => sse.signal.addEventListener('abort', () => r())));
      void sse.send({ data: 'hello' });
    });
    for await (const e of connectSse(url)) {
      assert.equal(e.data, 'hello');
      break;
    }
    await closed[0];
    const ac = new AbortController();
    const it = connectSse(url, { signal: ac.signal }).values();
    assert.equal((await it.next()).value?.data, 'hello');
    const pending = it.next();
    ac.abort(new Error('enough'));
    await assert.rejects(pending, /enough/);
    await closed[1];
  });
});
