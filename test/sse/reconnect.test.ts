import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import { FakeClock } from '../../src/internal/clock.js';
import { connectSse, type SseEvent } from '../../src/sse/index.js';

const servers: Server[] = [];
after(() => {
  for (const s of servers) {
    s.closeAllConnections();
    s.close();
  }
});

async function serve(
  handler: (req: IncomingMessage, res: ServerResponse, n: number) => void,
): Promise<{ url: string; requests: IncomingMessage[] }> {
  const requests: IncomingMessage[] = [];
  const server = createServer((req, res) => {
    requests.push(req);
    handler(req, res, requests.length);
  });
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, requests };
}

const eventStream = (res: ServerResponse, body: string): void => {
  res.writeHead(200, { 'content-type': 'text/event-stream' }).end(body);
};

// Waits (in event-loop turns, bounded, never wall-clock time) until the client has armed
// its reconnection timer on the fake clock, or `done` is true; returns the timer's delay.
async function nextDelay(clock: FakeClock, done = () => false): Promise<number | undefined> {
  for (let i = 0; i < 10_000 && clock.pendingTimers === 0 && !done(); i++) {
    await new Promise((r) => setImmediate(r));
  }
  if (done()) return undefined;
  assert.ok(clock.pendingTimers > 0, 'the client armed its reconnection timer');
  return clock.nextTimerAt! - clock.now();
}

// Reads `events` to the end while firing each reconnection timer; returns the delays.
async function drive<T>(
  clock: FakeClock,
  events: Promise<T>,
): Promise<{ value: T; delays: number[] }> {
  let done = false;
  const settled = events.finally(() => {
    done = true;
  });
  settled.catch(() => {});
  const delays: number[] = [];
  for (let i = 0; i < 100 && !done; i++) {
    const d = await nextDelay(clock, () => done);
    if (d === undefined) break;
    delays.push(d);
    await clock.advance(d);
  }
  return { value: await settled, delays };
}

const almostOne = () => 1 - Number.EPSILON;

// A bound, not a wait: a regression that leaves a stream pending fails instead of hanging.
const bounded = { timeout: 30_000 };

describe(
  'connectSse reconnects no faster than the floor, and backs off from empty connections',
  bounded,
  () => {
    test('a server answering 200 with retry: 0 and closing at once gets the floor, then backoff', async () => {
      const { url, requests } = await serve((_req, res) => eventStream(res, 'retry: 0\n\n'));
      const clock = new FakeClock();
      const ac = new AbortController();
      const pending = connectSse(url, {
        clock,
        signal: ac.signal,
        random: almostOne,
        maxRetryMs: 8000,
        // Empty connections are not failures for maxRetries: the client does not give up.
        maxRetries: 0,
      }).toArray();
      pending.catch(() => {});
      // The floor (500 ms) for the first, then doubling (equal jitter, random near 1) to the cap.
      const expected = [500, 1000, 2000, 4000, 8000, 8000];
      for (let i = 0; i < expected.length; i++) {
        const d = (await nextDelay(clock))!;
        // Checked before the clock moves: a client that spins would otherwise spin here too.
        assert.equal(Math.round(d), expected[i], `delay ${i + 1}`);
        assert.equal(requests.length, i + 1);
        await clock.advance(d - 1);
        assert.equal(requests.length, i + 1, 'no reconnection before the delay');
        await clock.advance(1);
      }
      ac.abort(new Error('enough'));
      await assert.rejects(pending, /enough/);
    });

    test('a server sending one event with retry: 0 each time is reconnected to after the floor', async () => {
      const { url, requests } = await serve((_req, res, n) =>
        eventStream(res, `retry: 0\nid: ${n}\ndata: x\n\n`),
      );
      const clock = new FakeClock();
      const it = connectSse(url, { clock, random: almostOne }).values();
      const seen: string[] = [];
      for (let i = 0; i < 4; i++) {
        const next = it.next();
        if (i > 0) {
          // Each connection delivered an event, so no backoff: the server's 0, raised to 500.
          assert.equal(await nextDelay(clock), 500);
          await clock.advance(499);
          assert.equal(requests.length, i, 'no reconnection before the floor');
          await clock.advance(1);
        }
        seen.push(((await next).value as SseEvent).id);
      }
      assert.deepEqual(seen, ['1', '2', '3', '4']);
      await it.return!();
    });

    test('minRetryMs: 0 lets a caller ask for no floor; retryMs and maxRetryMs may not be under it', async () => {
      const { url } = await serve((_req, res, n) =>
        n < 3 ? eventStream(res, 'retry: 0\ndata: x\n\n') : res.writeHead(204).end(),
      );
      const clock = new FakeClock();
      const delays: number[] = [];
      const { value } = await drive(
        clock,
        connectSse(url, {
          clock,
          minRetryMs: 0,
          onReconnect: ({ delayMs }) => delays.push(delayMs),
        }).toArray(),
      );
      assert.equal(value.length, 2);
      assert.deepEqual(delays, [0, 0]);
      assert.throws(
        () => connectSse(url, { retryMs: 100 }),
        /`retryMs` to be >= `minRetryMs` \(500\)/,
      );
      assert.throws(
        () => connectSse(url, { minRetryMs: 2000, maxRetryMs: 1000 }),
        /`maxRetryMs` to be >= `minRetryMs`/,
      );
      assert.throws(() => connectSse(url, { minRetryMs: -1 }), RangeError);
      assert.throws(() => connectSse(url, { minRetryMs: Number.POSITIVE_INFINITY }), RangeError);
    });
  },
);

describe('connectSse reports open, error and reconnect', bounded, () => {
  test('onOpen, onError and onReconnect follow the connection, in order', async () => {
    const { url } = await serve((req, res, n) => {
      if (n === 1)
        req.socket.destroy(); // no response: a failed attempt
      else if (n === 2) eventStream(res, 'id: 1\ndata: a\n\n');
      else res.writeHead(204).end();
    });
    const clock = new FakeClock();
    const log: string[] = [];
    let opened: { status: number; type: string | null } | undefined;
    const events = connectSse(url, {
      clock,
      retryMs: 1000,
      onOpen: (res, info) => {
        opened = { status: res.status, type: res.headers.get('content-type') };
        log.push(`open ${info.attempt} ${info.lastEventId}`);
      },
      onError: (error, info) => log.push(`error ${info.attempt} ${(error as Error).name}`),
      onReconnect: (info) =>
        log.push(
          `reconnect ${info.attempt} in ${info.delayMs} after ${info.lastEventId || '-'} ${info.error === undefined ? 'close' : 'failure'}`,
        ),
    })
      .tap((e) => {
        log.push(`event ${e.data}`);
      })
      .toArray();
    const { value } = await drive(clock, events);
    assert.equal(value.length, 1);
    assert.deepEqual(opened, { status: 200, type: 'text/event-stream' });
    assert.deepEqual(log, [
      'error 1 TypeError',
      'reconnect 2 in 1000 after - failure',
      'open 2 ',
      'event a',
      'reconnect 3 in 1000 after 1 close',
    ]);
  });

  test('onOpen can refuse a connection: its error fails the stream, which is not retried', async () => {
    const { url, requests } = await serve((_req, res) => eventStream(res, 'data: a\n\n'));
    const refused = new Error('wrong server version');
    await assert.rejects(
      connectSse(url, {
        onOpen: () => {
          throw refused;
        },
      }).toArray(),
      (e) => e === refused,
    );
    await assert.rejects(
      connectSse(url, { onOpen: async () => Promise.reject(refused) }).toArray(),
      (e) => e === refused,
    );
    assert.equal(requests.length, 2);
    // The events wait for an async onOpen.
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let done = false;
    const all = connectSse(url, { onOpen: () => gate })
      .take(1)
      .toArray()
      .finally(() => {
        done = true;
      });
    for (let i = 0; i < 100 && requests.length < 3; i++) await new Promise((r) => setImmediate(r));
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    assert.equal(done, false, 'no event before onOpen settles');
    release();
    assert.equal((await all).length, 1);
  });

  test('a callback that throws fails the stream with its error', async () => {
    const { url } = await serve((_req, res) => eventStream(res, 'data: a\n\n'));
    const clock = new FakeClock();
    const boom = new Error('callback broke');
    await assert.rejects(
      connectSse(url, {
        clock,
        onReconnect: () => {
          throw boom;
        },
      }).toArray(),
      (e) => e === boom,
    );
    assert.equal(clock.pendingTimers, 0, 'no reconnection left scheduled');
    assert.throws(() => connectSse(url, { onOpen: 1 as never }), /`onOpen` to be a function/);
    assert.throws(() => connectSse(url, { onError: 'x' as never }), /`onError`/);
    assert.throws(() => connectSse(url, { onReconnect: {} as never }), /`onReconnect`/);
  });
});

describe('connectSse recomputes headers for each connection', bounded, () => {
  test('a headers function is called before each request, so a reconnection sends a fresh token', async () => {
    const { url, requests } = await serve((_req, res, n) =>
      n === 1 ? eventStream(res, 'id: 7\ndata: a\n\n') : res.writeHead(204).end(),
    );
    const clock = new FakeClock();
    const calls: { attempt: number; lastEventId: string; signal: boolean }[] = [];
    const events = connectSse(url, {
      clock,
      headers: async (info) => {
        calls.push({
          attempt: info.attempt,
          lastEventId: info.lastEventId,
          signal: info.signal instanceof AbortSignal,
        });
        await Promise.resolve();
        return { Authorization: `Bearer token-${info.attempt}` };
      },
    }).toArray();
    const { value } = await drive(clock, events);
    assert.equal(value.length, 1);
    assert.deepEqual(
      requests.map((r) => [r.headers.authorization, r.headers['last-event-id']]),
      [
        ['Bearer token-1', undefined],
        ['Bearer token-2', '7'],
      ],
    );
    assert.deepEqual(calls, [
      { attempt: 1, lastEventId: '', signal: true },
      { attempt: 2, lastEventId: '7', signal: true },
    ]);
    // A plain object is still accepted, and a sync function too.
    const sync = await serve((req, res) => {
      assert.equal(req.headers['x-key'], 'k');
      res.writeHead(204).end();
    });
    await connectSse(sync.url, { headers: { 'x-key': 'k' } }).toArray();
    await connectSse(sync.url, { headers: () => ({ 'x-key': 'k' }) }).toArray();
    assert.equal(sync.requests.length, 2);
  });

  test('a headers function that fails or returns no object fails the stream before any request', async () => {
    const { url, requests } = await serve((_req, res) => res.writeHead(204).end());
    const nope = new Error('token service down');
    await assert.rejects(
      connectSse(url, { headers: async () => Promise.reject(nope) }).toArray(),
      (e) => e === nope,
    );
    await assert.rejects(
      connectSse(url, { headers: () => null as never }).toArray(),
      /`headers\(\)` to return an object/,
    );
    assert.equal(requests.length, 0);
    assert.throws(() => connectSse(url, { headers: 'x' as never }), /`headers` to be an object/);
  });

  test('aborting while the headers function waits ends the stream at once and aborts its signal', async () => {
    const { url, requests } = await serve((_req, res) => res.writeHead(204).end());
    const ac = new AbortController();
    let given: AbortSignal | undefined;
    const pending = connectSse(url, {
      signal: ac.signal,
      headers: ({ signal }) => {
        given = signal;
        return new Promise<never>(() => {}); // a token service that never answers
      },
    }).toArray();
    for (let i = 0; i < 100 && given === undefined; i++) await new Promise((r) => setImmediate(r));
    ac.abort(new Error('stop'));
    await assert.rejects(pending, /stop/);
    assert.equal(given?.aborted, true);
    assert.equal(requests.length, 0);
  });
});
