import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { after, describe, test } from 'node:test';
import { createHttpPool } from '../../src/http/index.js';
import { FakeClock } from '../../src/internal/clock.js';
import { isWeirError, type WeirErrorCode } from '../../src/internal/errors.js';
import { httpServer, httpsServer, type Running, testCert } from './servers.js';

const servers: Running[] = [];
after(async () => {
  for (const s of servers) await s.close();
});
async function serve(...args: Parameters<typeof httpServer>): Promise<Running> {
  const s = await httpServer(...args);
  servers.push(s);
  return s;
}
const code = (c: WeirErrorCode) => (e: unknown) => isWeirError(e, c);

describe('the keep-alive race', () => {
  // Each socket answers one request with keep-alive, then closes as the next request on it
  // arrives, before answering: exactly a server closing an idle socket as it is reused.
  async function oneShotSockets(): Promise<Running> {
    const served = new WeakSet<object>();
    return serve((req, res) => {
      if (served.has(req.socket)) {
        req.socket.destroy();
        return;
      }
      served.add(req.socket);
      req.resume();
      req.on('end', () => res.end('ok'));
    });
  }

  test('idempotent requests on a reused socket closed by the server are retried: zero failed GETs', async () => {
    const s = await oneShotSockets();
    await using http = createHttpPool({ connections: 4 });
    let failed = 0;
    for (let round = 0; round < 5; round++) {
      const results = await Promise.allSettled(
        Array.from({ length: 8 }, () => http.request(`${s.url}/`).then((r) => r.body.text())),
      );
      failed += results.filter((r) => r.status === 'rejected').length;
    }
    assert.equal(failed, 0);
    const st = http.stats();
    assert.ok(st.retries > 0, 'the race happened and was absorbed');
    // A PUT with a replayable body is idempotent too.
    const put = await http.request(`${s.url}/`, { method: 'PUT', body: 'x' });
    assert.equal(await put.body.text(), 'ok');
  });

  test('a POST with a one-shot stream body fails clearly with ERR_HTTP_SOCKET', async () => {
    const s = await oneShotSockets();
    await using http = createHttpPool({ connections: 1 });
    await (await http.request(`${s.url}/`)).body.text();
    const body = (async function* () {
      yield Buffer.from('once');
    })();
    await assert.rejects(http.request(`${s.url}/`, { method: 'POST', body }), (e: unknown) => {
      assert.ok(isWeirError(e, 'ERR_HTTP_SOCKET'));
      assert.equal((e as unknown as { origin: string }).origin, s.url);
      assert.ok((e as Error).cause !== undefined);
      return true;
    });
    assert.equal(http.stats().errors.ERR_HTTP_SOCKET, 1);
  });
});

describe('timeouts', () => {
  test('a server that never answers: ERR_HTTP_HEADERS_TIMEOUT, and ERR_POOL_TIMEOUT for the queued', async () => {
    const hung: ServerResponse[] = [];
    const s = await serve((_req, res) => {
      hung.push(res);
    });
    const clock = new FakeClock();
    await using http = createHttpPool({
      connections: 1,
      headersTimeoutMs: 5_000,
      acquireTimeoutMs: 1_000,
      clock,
    });
    const first = http.request(`${s.url}/`);
    const firstFailed = assert.rejects(first, code('ERR_HTTP_HEADERS_TIMEOUT'));
    const queued = http.request(`${s.url}/`, { headersTimeoutMs: 60_000 });
    const queuedFailed = assert.rejects(queued, code('ERR_POOL_TIMEOUT'));
    // The headers timeout runs on the pool's clock from the moment the request is written.
    for (let i = 0; i < 10_000 && hung.length === 0; i++) await new Promise((r) => setImmediate(r));
    await clock.advance(1_000);
    await queuedFailed;
    await clock.advance(4_000);
    await firstFailed;
    for (const r of hung) r.destroy();
  });

  test('a body that stalls: ERR_HTTP_BODY_TIMEOUT while reading', async () => {
    const s = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': '10' });
      res.write('12345');
    });
    await using http = createHttpPool({ bodyTimeoutMs: 50 });
    const res = await http.request(`${s.url}/`);
    await assert.rejects(res.body.text(), code('ERR_HTTP_BODY_TIMEOUT'));
  });
});

describe('a server that is down', () => {
  test('connect errors carry ERR_HTTP_CONNECT; the breaker opens, then recovers once the server is back', async () => {
    const probe = await httpServer((_q, r) => r.end('up'));
    const port = probe.port;
    await probe.close();
    const clock = new FakeClock();
    await using http = createHttpPool({
      breaker: { threshold: 2, halfOpenAfterMs: 5_000 },
      clock,
    });
    const url = `http://127.0.0.1:${port}/`;
    await assert.rejects(http.request(url), (e: unknown) => {
      assert.ok(isWeirError(e, 'ERR_HTTP_CONNECT'));
      assert.match((e as Error).message, /127\.0\.0\.1/);
      return true;
    });
    await clock.advance(100);
    await assert.rejects(http.request(url), code('ERR_HTTP_CONNECT'));
    await clock.advance(100);
    await assert.rejects(http.request(url), code('ERR_CIRCUIT_OPEN'));
    assert.equal(http.stats().origins[0]!.pool.breaker, 'open');
    const back = await serve((_q, r) => r.end('back'), port);
    await clock.advance(5_000);
    assert.equal(await (await http.request(url)).body.text(), 'back');
    assert.equal(http.stats().origins[0]!.pool.breaker, 'closed');
    await back.close();
  });
});

describe('TLS', () => {
  test('an untrusted certificate is rejected with ERR_HTTP_TLS; trusted with `tls.ca`', async () => {
    const s = await httpsServer((_q, r) => r.end('secure'));
    servers.push(s);
    await using strict = createHttpPool();
    await assert.rejects(strict.request(`${s.url}/`), code('ERR_HTTP_TLS'));
    await using trusting = createHttpPool({ tls: { ca: (await testCert()).cert } });
    const res = await trusting.request(`${s.url.replace('127.0.0.1', 'localhost')}/`);
    assert.equal(await res.body.text(), 'secure');
  });
});

describe('abort', () => {
  test('abort while waiting for a connection, before headers, during the body, and before starting', async () => {
    const hung: ServerResponse[] = [];
    let arrived!: () => void;
    const hangArrived = new Promise<void>((r) => {
      arrived = r;
    });
    const s = await serve((req, res) => {
      if (req.url === '/hang') {
        hung.push(res);
        arrived();
        return;
      }
      res.writeHead(200);
      res.write('part');
    });
    await using http = createHttpPool({ connections: 1 });
    const reason = new Error('stop');
    // Before headers.
    const c1 = new AbortController();
    const p1 = http.request(`${s.url}/hang`, { signal: c1.signal });
    // Waiting for the only connection.
    const c2 = new AbortController();
    const p2 = http.request(`${s.url}/hang`, { signal: c2.signal });
    await hangArrived;
    c2.abort(reason);
    await assert.rejects(p2, (e) => e === reason);
    assert.equal(http.stats().queued, 0, 'no waiter left queued');
    c1.abort(reason);
    await assert.rejects(p1, (e) => e === reason);
    // During the body.
    const c3 = new AbortController();
    const res = await http.request(`${s.url}/body`, { signal: c3.signal });
    const it = res.body[Symbol.asyncIterator]();
    assert.equal(Buffer.from((await it.next()).value as Uint8Array).toString(), 'part');
    c3.abort(reason);
    await assert.rejects(it.next(), (e) => e === reason);
    // Already aborted.
    await assert.rejects(
      http.request(`${s.url}/`, { signal: AbortSignal.abort(reason) }),
      (e) => e === reason,
    );
    const st = http.stats();
    assert.equal(st.inFlight, 0);
    assert.equal(st.active, 0);
    for (const r of hung) r.destroy();
  });
});

describe('unread bodies', () => {
  test('a small unread body does not pin its connection', async () => {
    const s = await serve((_q, r) => r.end('small'));
    await using http = createHttpPool({ connections: 1 });
    await http.request(`${s.url}/1`);
    const second = await http.request(`${s.url}/2`);
    assert.equal(await second.body.text(), 'small');
    assert.equal(http.stats().opened, 1);
  });

  test('a large unread body is discarded after unreadBodyTimeoutMs, freeing the connection', async () => {
    const s = await serve((_q, r) => r.end(Buffer.alloc(4 * 1024 * 1024)));
    const clock = new FakeClock();
    await using http = createHttpPool({ connections: 1, unreadBodyTimeoutMs: 10_000, clock });
    const first = await http.request(`${s.url}/big`);
    const second = http.request(`${s.url}/big`);
    // Let the first body fill its buffer and pause the connection.
    for (let i = 0; i < 50 && http.stats().queued === 0; i++) await clock.advance(0);
    await clock.advance(10_000);
    await assert.rejects(first.body.text(), code('ERR_HTTP_UNREAD_BODY'));
    const res = await second;
    assert.equal((await res.body.bytes()).byteLength, 4 * 1024 * 1024);
  });

  test('await using dumps the body', async () => {
    const s = await serve((_q, r) => r.end('x'.repeat(1000)));
    await using http = createHttpPool({ connections: 1 });
    {
      await using res = await http.request(`${s.url}/`);
      assert.equal(res.status, 200);
    }
    assert.equal(http.stats().active, 0);
  });
});
