import assert from 'node:assert/strict';
import { once } from 'node:events';
import {
  createServer,
  get,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import { FakeClock, flush } from '../../src/internal/clock.js';
import {
  createSseStream,
  isWeirError,
  type SseEvent,
  SseHub,
  SseParser,
  type SseSlowClientError,
  type SseStream,
} from '../../src/sse/index.js';

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

// Opens a raw event stream and parses it; `until` counts events.
function listen(url: string, headers: Record<string, string> = {}) {
  const events: SseEvent[] = [];
  const parser = new SseParser({ onEvent: (e) => events.push(e) });
  let res!: IncomingMessage;
  const raw: Buffer[] = [];
  const ready = new Promise<void>((resolve, reject) => {
    const req = get(url, { headers }, (r) => {
      res = r;
      r.on('data', (c: Buffer) => {
        raw.push(c);
        parser.feed(c);
      });
      resolve();
    });
    req.on('error', reject);
  });
  return {
    events,
    raw,
    ready,
    get res() {
      return res;
    },
    async until(n: number) {
      for (let i = 0; i < 10_000 && events.length < n; i++)
        await new Promise((r) => setImmediate(r));
      assert.ok(events.length >= n, `got ${events.length} events, wanted ${n}`);
    },
    close: () => res.destroy(),
  };
}

// Writes into a string, for checking the exact wire format.
function wire() {
  let text = '';
  const sink = {
    headersSent: false,
    statusCode: 0,
    writableLength: 0,
    destroyed: false,
    writableEnded: false,
    headers: {} as Record<string, string>,
    setHeader(k: string, v: string) {
      this.headers[k.toLowerCase()] = v;
    },
    flushHeaders() {
      this.headersSent = true;
    },
    write(c: string | Uint8Array) {
      text += typeof c === 'string' ? c : Buffer.from(c).toString();
      return true;
    },
    end() {
      this.writableEnded = true;
    },
    once() {},
    on() {},
    off() {},
    destroy() {},
  };
  return { sink, text: () => text };
}

describe('createSseStream', () => {
  test('headers, fields, and data split on every kind of line break', async () => {
    const w = wire();
    const sse = createSseStream(w.sink as unknown as ServerResponse, {
      keepAliveMs: Number.POSITIVE_INFINITY,
    });
    assert.equal(w.sink.headers['content-type'], 'text/event-stream; charset=utf-8');
    assert.match(w.sink.headers['cache-control']!, /no-cache/);
    assert.equal(w.sink.headers['x-accel-buffering'], 'no');
    await sse.send({ event: 'e', id: 5, retry: 100, data: 'a\nb\r\nc\rd' });
    await sse.send({ data: { json: true } });
    await sse.comment('hi');
    assert.equal(
      w.text(),
      'event: e\nid: 5\nretry: 100\ndata: a\ndata: b\ndata: c\ndata: d\n\ndata: {"json":true}\n\n: hi\n\n',
    );
  });

  test('injection attempts are rejected or neutralised', async () => {
    const w = wire();
    const sse = createSseStream(w.sink as unknown as ServerResponse, {
      keepAliveMs: Number.POSITIVE_INFINITY,
    });
    for (const bad of [
      { event: 'x\ndata: forged' },
      { id: '1\r\nevent: admin' },
      { id: 'a\0b' },
      { retry: 1.5 },
      { retry: -1 },
    ]) {
      assert.throws(
        () => sse.send(bad),
        (e) => isWeirError(e, 'ERR_SSE_INVALID_FIELD'),
      );
    }
    // Data cannot end the event early or add fields: every line stays a data line.
    await sse.send({ data: 'x\n\nevent: admin\nid: 99\r\rdata: forged' });
    const events: SseEvent[] = [];
    const p = new SseParser({ onEvent: (e) => events.push(e) });
    p.feed(w.text());
    assert.deepEqual(events, [
      { event: 'message', data: 'x\n\nevent: admin\nid: 99\n\ndata: forged', id: '' },
    ]);
  });

  test('keep-alive comments after keepAliveMs of silence, on a fake clock', async () => {
    const clock = new FakeClock();
    const w = wire();
    const sse = createSseStream(w.sink as unknown as ServerResponse, { keepAliveMs: 1000, clock });
    await clock.advance(999);
    assert.equal(w.text(), '');
    await clock.advance(1);
    assert.equal(w.text(), ':\n\n');
    await clock.advance(500);
    await sse.send({ data: 'x' }); // activity postpones the next one
    await clock.advance(999);
    assert.equal(w.text(), ':\n\ndata: x\n\n');
    await clock.advance(1);
    assert.equal(w.text(), ':\n\ndata: x\n\n:\n\n');
    sse.close();
    assert.equal(clock.pendingTimers, 0);
    await assert.rejects(sse.send({ data: 'late' }), (e) => isWeirError(e, 'ERR_SSE_CLOSED'));
  });

  test('over HTTP: events arrive, and a client disconnect closes the stream', async () => {
    let sse!: SseStream;
    const ready = new Promise<void>((resolve) => {
      void serve((_req, res) => {
        sse = createSseStream(res);
        resolve();
      }).then((url) => {
        client = listen(url);
      });
    });
    let client!: ReturnType<typeof listen>;
    await ready;
    await client.ready;
    assert.equal(client.res.headers['content-type'], 'text/event-stream; charset=utf-8');
    await sse.send({ data: 'one' });
    await client.until(1);
    client.close();
    await new Promise<void>((resolve) => sse.signal.addEventListener('abort', () => resolve()));
    assert.equal(sse.closed, true);
  });

  test('a web Response for Fetch-API servers', async () => {
    const ac = new AbortController();
    const sse = createSseStream({ signal: ac.signal }, { keepAliveMs: Number.POSITIVE_INFINITY });
    const res = sse.response!;
    assert.equal(res.headers.get('content-type'), 'text/event-stream; charset=utf-8');
    void sse.send({ id: 1, data: 'a' });
    sse.close();
    assert.equal(await res.text(), 'id: 1\ndata: a\n\n');
  });
});

describe('SseHub', () => {
  test('broadcasts, drops a slow client with a reason, never grows its buffer', async () => {
    const drops: SseSlowClientError[] = [];
    const hub = new SseHub({
      maxBufferedBytes: 64 * 1024,
      keepAliveMs: Number.POSITIVE_INFINITY,
      onDrop: (_c, r) => drops.push(r),
    });
    const url = await serve((req, res) => hub.add(res, req));
    const fast = listen(url);
    const slow = listen(url);
    await Promise.all([fast.ready, slow.ready]);
    slow.res.pause(); // it stops reading: the server's buffers fill up
    slow.res.socket.pause();
    const payload = 'x'.repeat(1000);
    let sent = 0;
    for (let i = 0; i < 5000 && drops.length === 0; i++) {
      hub.broadcast({ data: payload });
      sent++;
      if (i % 20 === 0) await fast.until(sent);
    }
    assert.equal(drops.length, 1, 'the slow client was dropped');
    assert.ok(isWeirError(drops[0], 'ERR_SSE_CLIENT_TOO_SLOW'));
    assert.equal(hub.size, 1);
    hub.broadcast({ data: 'after' });
    await fast.until(sent + 1);
    assert.equal(fast.events.at(-1)!.data, 'after');
    hub.close();
  });

  test('replays missed events to a client that reconnects with Last-Event-ID', async () => {
    const hub = new SseHub({ historySize: 3, keepAliveMs: Number.POSITIVE_INFINITY });
    const replays: { replayed: number; missed: boolean }[] = [];
    const url = await serve((req, res) => {
      const { replayed, missed } = hub.add(res, req);
      replays.push({ replayed, missed });
    });
    const a = listen(url);
    await a.ready;
    for (let i = 1; i <= 5; i++) hub.broadcast({ data: `e${i}` });
    await a.until(5);
    assert.deepEqual(
      a.events.map((e) => e.id),
      ['1', '2', '3', '4', '5'],
    );
    const b = listen(url, { 'last-event-id': '3' });
    await b.until(2);
    assert.deepEqual(
      b.events.map((e) => e.data),
      ['e4', 'e5'],
    );
    const c = listen(url, { 'last-event-id': '1' }); // older than the history holds
    await c.until(3);
    assert.deepEqual(
      c.events.map((e) => e.data),
      ['e3', 'e4', 'e5'],
    );
    assert.deepEqual(replays.slice(1), [
      { replayed: 2, missed: false },
      { replayed: 3, missed: true },
    ]);
    hub.close();
  });

  test('one keep-alive timer for the hub, on a fake clock', async () => {
    const clock = new FakeClock();
    const hub = new SseHub({ keepAliveMs: 1000, clock });
    const w = wire();
    hub.add(w.sink as unknown as ServerResponse);
    await clock.advance(1000);
    assert.equal(w.text(), ':\n\n');
    hub.close();
    assert.equal(clock.pendingTimers, 0);
    await flush();
  });
});
