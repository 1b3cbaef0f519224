// undici 7's interceptors through `pool.compose(...)`: each one, and the composed pool as a
// pool (stats, close, further composition).
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import zlib from 'node:zlib';
import selfsigned from 'selfsigned';
import { type Dispatcher, fetch, interceptors, request } from 'undici';
import { createHttpPool } from '../../src/http/index.js';
import { isWeirError } from '../../src/internal/errors.js';
import { httpServer, type Running } from './servers.js';

// decompress says it is experimental, once per process; the tests need not repeat it.
process.removeAllListeners('warning');

const servers: Running[] = [];
const closers: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of closers) await c();
  for (const s of servers) await s.close();
});

let hits = new Map<string, number>();
function hit(req: IncomingMessage): number {
  const n = (hits.get(req.url!) ?? 0) + 1;
  hits.set(req.url!, n);
  return n;
}

const routes: Record<string, (req: IncomingMessage, res: ServerResponse) => void> = {
  '/flaky': (req, res) => {
    if (hit(req) < 3) {
      res.statusCode = 503;
      res.end('busy');
    } else res.end(`ok after ${hits.get(req.url!)}`);
  },
  '/reset-once': (req, res) => {
    if (hit(req) === 1) req.socket.destroy();
    else res.end('ok');
  },
  '/redirect': (req, res) => {
    hit(req);
    res.statusCode = 302;
    res.setHeader('location', '/final');
    res.end();
  },
  '/final': (req, res) => {
    hit(req);
    res.end('final');
  },
  '/gzip': (_req, res) => {
    res.setHeader('content-encoding', 'gzip');
    res.end(zlib.gzipSync('unzipped text'));
  },
  '/host': (req, res) => res.end(`host ${req.headers.host}`),
  '/big': (_req, res) => res.end('x'.repeat(500)),
  '/missing': (_req, res) => {
    res.statusCode = 404;
    res.setHeader('content-type', 'application/json');
    res.end('{"error":"no such thing"}');
  },
  '/cacheable': (req, res) => {
    res.setHeader('cache-control', 'public, max-age=60');
    res.end(`version ${hit(req)}`);
  },
  '/slow': (req, res) => {
    const n = hit(req);
    // Answered on the next turn, so that concurrent identical requests overlap.
    setImmediate(() => res.end(`slow ${n}`));
  },
};

async function serve(): Promise<Running> {
  hits = new Map();
  const s = await httpServer((req, res) => {
    const route = routes[req.url!];
    if (route === undefined) {
      res.statusCode = 500;
      res.end('no route');
    } else route(req, res);
  });
  servers.push(s);
  return s;
}

function pool(options: Parameters<typeof createHttpPool>[0] = {}) {
  const http = createHttpPool(options);
  closers.push(() => http.close());
  return http;
}

describe('undici interceptors through pool.compose', () => {
  test('retry: statuses listed in statusCodes are retried (it used to hang)', async () => {
    const s = await serve();
    const http = pool();
    const api = http.compose(interceptors.retry({ statusCodes: [503], minTimeout: 0 }));
    const res = await api.request(`${s.url}/flaky`);
    assert.equal(res.status, 200);
    assert.equal(await res.body.text(), 'ok after 3');
    hits = new Map();
    const r2 = await request(`${s.url}/flaky`, { dispatcher: api });
    assert.equal(await r2.body.text(), 'ok after 3');
    hits = new Map();
    const r3 = await fetch(`${s.url}/flaky`, { dispatcher: api });
    assert.equal(await r3.text(), 'ok after 3');
    assert.equal(http.stats().inFlight, 0);
  });

  test("retry: weir's error codes in errorCodes are retried", async () => {
    const s = await serve();
    const http = pool();
    const api = http.compose(
      interceptors.retry({ errorCodes: ['ERR_HTTP_SOCKET'], minTimeout: 0 }),
    );
    const res = await api.request(`${s.url}/reset-once`);
    assert.equal(await res.body.text(), 'ok');
    assert.equal(hits.get('/reset-once'), 2);
  });

  test('redirect', async () => {
    const s = await serve();
    const api = pool().compose(interceptors.redirect({ maxRedirections: 3 }));
    const res = await api.request(`${s.url}/redirect`);
    assert.equal(res.status, 200);
    assert.equal(await res.body.text(), 'final');
    const r2 = await request(`${s.url}/redirect`, { dispatcher: api });
    assert.equal(await r2.body.text(), 'final');
    assert.equal(hits.get('/final'), 2);
  });

  test('decompress', async () => {
    const s = await serve();
    const api = pool().compose(interceptors.decompress());
    const res = await api.request(`${s.url}/gzip`);
    assert.equal(res.headers['content-encoding'], undefined);
    assert.equal(await res.body.text(), 'unzipped text');
  });

  test('dns: requests go to the resolved address, with the host name kept', async () => {
    const s = await serve();
    const http = pool();
    const api = http.compose(interceptors.dns({ dualStack: false, affinity: 4 }));
    const res = await api.request(`http://localhost:${s.port}/host`);
    assert.equal(await res.body.text(), `host localhost:${s.port}`);
    assert.deepEqual(
      http.stats().origins.map((o) => o.origin),
      [`http://127.0.0.1:${s.port}`],
    );
  });

  test('dns over TLS: the connection still names (SNI) and checks the host name', async () => {
    // A certificate for localhost only, so a check against 127.0.0.1 would fail.
    const pem = await selfsigned.generate([{ name: 'commonName', value: 'localhost' }], {
      keySize: 2048,
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }] }],
    } as never);
    const server = https.createServer({ key: pem.private, cert: pem.cert }, (req, res) =>
      res.end(`sni ${(req.socket as { servername?: string }).servername}`),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise((r) => server.close(r)));
    const port = (server.address() as AddressInfo).port;
    const http = pool({ tls: { ca: pem.cert } });
    await assert.rejects(http.request(`https://127.0.0.1:${port}/`), (e: unknown) =>
      isWeirError(e, 'ERR_HTTP_TLS'),
    );
    const api = http.compose(interceptors.dns({ dualStack: false, affinity: 4 }));
    const res = await api.request(`https://localhost:${port}/`);
    assert.equal(await res.body.text(), 'sni localhost');
  });

  test('dump: the body is discarded and the connection reused', async () => {
    const s = await serve();
    const http = pool({ connections: 1 });
    const api = http.compose(interceptors.dump({ maxSize: 1024 }));
    for (let i = 0; i < 2; i++) {
      const res = await request(`${s.url}/big`, { dispatcher: api });
      assert.equal(res.statusCode, 200);
      assert.equal(await res.body.text(), '');
    }
    assert.equal(http.stats().opened, 1);
  });

  test("responseError: an error status rejects with the interceptor's error", async () => {
    const s = await serve();
    const api = pool().compose(interceptors.responseError());
    await assert.rejects(api.request(`${s.url}/missing`), (e: unknown) => {
      const err = e as { code: string; statusCode: number; body: unknown };
      assert.equal(err.code, 'UND_ERR_RESPONSE');
      assert.equal(err.statusCode, 404);
      assert.deepEqual(err.body, { error: 'no such thing' });
      return true;
    });
  });

  test('cache: a fresh cached response is served without asking the server', async () => {
    const s = await serve();
    const api = pool().compose(interceptors.cache());
    const first = await request(`${s.url}/cacheable`, { dispatcher: api });
    assert.equal(await first.body.text(), 'version 1');
    const second = await api.request(`${s.url}/cacheable`);
    assert.equal(await second.body.text(), 'version 1');
    assert.equal(hits.get('/cacheable'), 1);
  });

  test('deduplicate: concurrent identical GETs share one request', async () => {
    const s = await serve();
    const api = pool().compose(interceptors.deduplicate());
    const bodies = await Promise.all(
      Array.from({ length: 3 }, () =>
        request(`${s.url}/slow`, { dispatcher: api }).then((r) => r.body.text()),
      ),
    );
    assert.deepEqual(bodies, ['slow 1', 'slow 1', 'slow 1']);
    assert.equal(hits.get('/slow'), 1);
  });
});

describe('the composed pool', () => {
  test("the README's composition: retry on status, redirect, decompress, DNS", async () => {
    const s = await serve();
    const http = pool();
    const api = http.compose(
      interceptors.retry({
        statusCodes: [429, 502, 503],
        errorCodes: ['ERR_HTTP_SOCKET'],
        minTimeout: 0,
      }),
      interceptors.redirect({ maxRedirections: 3 }),
      interceptors.decompress(),
      interceptors.dns({ maxTTL: 60_000, dualStack: false, affinity: 4 }),
    );
    const base = `http://localhost:${s.port}`;
    assert.equal(await (await api.request(`${base}/flaky`)).body.text(), 'ok after 3');
    assert.equal(await (await api.request(`${base}/redirect`)).body.text(), 'final');
    assert.equal(await (await api.request(`${base}/gzip`)).body.text(), 'unzipped text');
    assert.equal(
      await (await fetch(`${base}/host`, { dispatcher: api })).text(),
      `host localhost:${s.port}`,
    );
    assert.deepEqual(
      http.stats().origins.map((o) => o.origin),
      [`http://127.0.0.1:${s.port}`],
    );
  });

  test('is the same pool: stats, further composition, close', async () => {
    const s = await serve();
    const http = createHttpPool({ connections: 1 });
    const api = http
      .compose(interceptors.redirect({ maxRedirections: 2 }))
      .compose(interceptors.decompress());
    assert.equal(await (await api.request(`${s.url}/redirect`)).body.text(), 'final');
    assert.equal(await (await api.request(`${s.url}/gzip`)).body.text(), 'unzipped text');
    assert.equal(api.stats().requests, 3);
    assert.equal(api.stats().opened, 1, 'the pool’s one connection');
    await api.close();
    await assert.rejects(http.request(`${s.url}/final`), (e: unknown) =>
      isWeirError(e, 'ERR_HTTP_CLOSED'),
    );
  });

  test('an abort before an interceptor has dispatched the request still aborts it', async () => {
    const s = await serve();
    const http = pool();
    let dispatched = 0;
    // An interceptor that takes a turn before it dispatches, as a DNS lookup does.
    const later: Dispatcher.DispatcherComposeInterceptor = (dispatch) => (opts, handler) => {
      setImmediate(() => {
        dispatched++;
        dispatch(opts, handler);
      });
      return true;
    };
    const controller = new AbortController();
    const reason = new Error('changed my mind');
    const pending = http.compose(later).request(`${s.url}/final`, { signal: controller.signal });
    controller.abort(reason);
    await assert.rejects(pending, (e) => e === reason);
    for (let i = 0; i < 100 && dispatched === 0; i++) await new Promise((r) => setImmediate(r));
    assert.equal(dispatched, 1);
    for (let i = 0; i < 100 && http.stats().inFlight > 0; i++) {
      await new Promise((r) => setImmediate(r));
    }
    assert.equal(hits.get('/final'), undefined, 'the server never got it');
  });

  test("a handler that throws from onResponseEnd gets the error as its outcome (undici's contract)", async () => {
    const s = await serve();
    const http = pool();
    const boom = new Error('thrown by the handler');
    const outcome = await new Promise<unknown>((resolve) => {
      http.dispatch({ origin: s.url, path: '/final', method: 'GET' }, {
        onRequestStart() {},
        onResponseStart() {},
        onResponseData() {},
        onResponseEnd() {
          throw boom;
        },
        onResponseError(_c: unknown, e: Error) {
          resolve(e);
        },
      } as never);
    });
    assert.equal(outcome, boom);
  });
});
