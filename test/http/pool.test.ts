import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { fetch, request } from 'undici';
import { createHttpPool, originOf } from '../../src/http/index.js';
import { FakeClock } from '../../src/internal/clock.js';
import { isWeirError } from '../../src/internal/errors.js';
import { httpServer, type Running } from './servers.js';

const servers: Running[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

async function hello(): Promise<Running> {
  const s = await httpServer((req, res) => {
    res.setHeader('content-type', 'text/plain');
    res.end(`hello ${req.method} ${req.url}`);
  });
  servers.push(s);
  return s;
}

describe('origins', () => {
  test('an origin key is scheme, host and port, never credentials', () => {
    const o = originOf('https://user:secret@Example.com/a?b=1');
    assert.equal(o.key, 'https://example.com:443');
    assert.equal(originOf('http://[::1]:8080/x').hostname, '::1');
    assert.throws(() => originOf('ftp://example.com'), TypeError);
    assert.throws(
      () => originOf('not a url'),
      (e: unknown) => {
        assert.ok(e instanceof TypeError);
        assert.doesNotMatch(String(e.message), /not a url/);
        return true;
      },
    );
  });

  test('bad options throw at construction, naming the option', () => {
    assert.throws(() => createHttpPool({ connections: 0 }), /`connections`/);
    assert.throws(() => createHttpPool({ connections: 2, minConnections: 3 }), /`minConnections`/);
    assert.throws(
      () => createHttpPool({ origins: { 'http://a': { idleTimeoutMs: -1 } } }),
      /`idleTimeoutMs`/,
    );
    assert.throws(() => createHttpPool({ allowH2: 'yes' as never }), /`allowH2`/);
  });
});

describe('keep-alive pool', () => {
  test('request returns status, headers and a body with text() and json()', async () => {
    const s = await hello();
    await using http = createHttpPool();
    const res = await http.request(`${s.url}/a?x=1#frag`);
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'text/plain');
    assert.equal(await res.body.text(), 'hello GET /a?x=1');
    await assert.rejects(res.body.text(), /already read/);
    const j = await httpServer((_req, r) => r.end('{"a":1}'));
    servers.push(j);
    assert.deepEqual(await (await http.request(new URL(`${j.url}/j`))).body.json(), { a: 1 });
  });

  test('headers parsed on first read stay intact after the connection served other requests', async () => {
    // Headers are parsed from undici's raw list when first read: that list must not share
    // memory the socket reuses for later responses.
    const s = await httpServer((req, res) => {
      res.setHeader('x-id', req.url!.slice(1));
      res.setHeader('set-cookie', [`a=${req.url!.slice(1)}`, 'b=2']);
      res.end('ok');
    });
    servers.push(s);
    await using http = createHttpPool({ connections: 1 });
    const first = await http.request(`${s.url}/first`);
    await first.body.text();
    for (let i = 0; i < 5; i++)
      await (await http.request(`${s.url}/${'x'.repeat(i + 5)}`)).body.text();
    assert.equal(http.stats().opened, 1, 'one connection served them all');
    assert.equal(first.headers['x-id'], 'first');
    assert.deepEqual(first.headers['set-cookie'], ['a=first', 'b=2']);
    assert.equal(first.headers, first.headers, 'parsed once');
  });

  test('under sustained load, connections opened equals `connections` and are reused', async () => {
    const s = await hello();
    await using http = createHttpPool({ connections: 4 });
    for (let round = 0; round < 10; round++) {
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          http.request(`${s.url}/${round}/${i}`).then((r) => r.body.text()),
        ),
      );
    }
    const st = http.stats();
    assert.equal(st.opened, 4);
    assert.equal(st.requests, 200);
    assert.equal(st.inFlight, 0);
    assert.equal(st.idle, 4);
    assert.ok(st.reuseRate >= 0.98, `reuse rate ${st.reuseRate}`);
    assert.equal(st.origins[0]!.requestsPerConnection, 50);
  });

  test('undici.request, fetch and a new-style handler go through the pool as a Dispatcher', async () => {
    const s = await hello();
    await using http = createHttpPool({ connections: 1 });
    const r1 = await request(`${s.url}/undici`, { dispatcher: http });
    assert.equal(r1.statusCode, 200);
    assert.equal(await r1.body.text(), 'hello GET /undici');
    const r2 = await fetch(`${s.url}/fetch`, { dispatcher: http, method: 'POST', body: 'x' });
    assert.equal(await r2.text(), 'hello POST /fetch');
    const r3 = await http.request({ origin: s.url, path: '/base', method: 'GET' });
    assert.equal(await r3.body.text(), 'hello GET /base');
    const chunks: Buffer[] = [];
    const done = new Promise<number>((resolve, reject) => {
      let status = 0;
      http.dispatch({ origin: s.url, path: '/new', method: 'GET' }, {
        onRequestStart() {},
        onResponseStart(_c: unknown, st: number) {
          status = st;
        },
        onResponseData(_c: unknown, chunk: Buffer) {
          chunks.push(chunk);
        },
        onResponseEnd() {
          resolve(status);
        },
        onResponseError(_c: unknown, e: Error) {
          reject(e);
        },
      } as never);
    });
    assert.equal(await done, 200);
    assert.equal(Buffer.concat(chunks).toString(), 'hello GET /new');
    assert.equal(http.stats().opened, 1, 'every API shared the one connection');
  });

  test('request bodies from strings, bytes, iterables, Readables and web streams', async () => {
    const s = await httpServer(async (req, res) => {
      let n = 0;
      for await (const c of req) n += (c as Buffer).length;
      res.end(String(n));
    });
    servers.push(s);
    await using http = createHttpPool({ connections: 2 });
    const { Readable } = await import('node:stream');
    const bodies = [
      'abc',
      new Uint8Array(4),
      [Buffer.from('ab'), Buffer.from('cde')],
      (async function* () {
        yield Buffer.from('123456');
      })(),
      Readable.from([Buffer.alloc(7)]),
      new ReadableStream<Uint8Array>({
        start(c) {
          c.enqueue(new Uint8Array(8));
          c.close();
        },
      }),
    ];
    const sizes = [];
    for (const body of bodies) {
      const r = await http.request(`${s.url}/`, { method: 'POST', body });
      sizes.push(await r.body.text());
    }
    assert.deepEqual(sizes, ['3', '4', '5', '6', '7', '8']);
    await assert.rejects(
      http.request(`${s.url}/`, { method: 'POST', body: 42 as never }),
      TypeError,
    );
  });

  test('idle connections close after idleTimeoutMs; old ones retire at maxLifetimeMs', async () => {
    const s = await hello();
    const clock = new FakeClock();
    await using http = createHttpPool({
      connections: 2,
      idleTimeoutMs: 3_000,
      maxLifetimeMs: 60_000,
      clock,
    });
    await (await http.request(`${s.url}/`)).body.text();
    assert.equal(http.stats().idle, 1);
    await clock.advance(4_100);
    assert.equal(http.stats().connections, 0, 'idle past idleTimeoutMs: closed');
    // Lifetime: a connection kept busy enough never to idle out still retires.
    await (await http.request(`${s.url}/`)).body.text();
    for (let t = 0; t < 70; t++) {
      await clock.advance(1_000);
      await (await http.request(`${s.url}/`)).body.text();
    }
    const st = http.stats();
    assert.ok(st.opened >= 3, `retired by lifetime and replaced: opened ${st.opened}`);
    assert.ok(st.origins[0]!.closed >= 2);
  });

  test("a server's Keep-Alive: timeout=N hint retires the idle connection before N", async () => {
    const s = await httpServer((_req, res) => {
      // Set by hand (with Connection, so Node adds no hint of its own): 3 s, where the
      // pool's own idleTimeoutMs is 10 s.
      res.setHeader('connection', 'keep-alive');
      res.setHeader('keep-alive', 'timeout=3');
      res.end('ok');
    });
    servers.push(s);
    const clock = new FakeClock();
    await using http = createHttpPool({ connections: 2, idleTimeoutMs: 10_000, clock });
    await (await http.request(`${s.url}/`)).body.text();
    assert.equal(http.stats().idle, 1);
    // Reused before the hint runs out: the earlier deadline no longer applies.
    await clock.advance(1_500);
    await (await http.request(`${s.url}/`)).body.text();
    assert.equal(http.stats().opened, 1, 'the same connection served both');
    await clock.advance(1_900);
    assert.equal(http.stats().connections, 1, 'kept while the hint (3 s, less 1 s) allows');
    await clock.advance(200);
    const st = http.stats();
    assert.equal(st.connections, 0, "retired before the server's 3 s, long before idleTimeoutMs");
    assert.equal(st.origins[0]!.closed, 1);
  });

  test('close() fails new requests with ERR_HTTP_CLOSED', async () => {
    const s = await hello();
    const http = createHttpPool();
    await (await http.request(`${s.url}/`)).body.text();
    await http.close();
    await assert.rejects(http.request(`${s.url}/`), (e: unknown) =>
      isWeirError(e, 'ERR_HTTP_CLOSED'),
    );
  });
});
