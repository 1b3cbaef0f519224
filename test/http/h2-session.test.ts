// HTTP/2 carried on node:http2 sessions (`h2Engine: 'node'`, the default): ALPN and h2c,
// the server's stream limit, flow-control windows, abort in every phase, a server that
// dies, backpressure both ways, trailers, and nothing left open after close.
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import { request as undiciRequest } from 'undici';
import { createHttpPool, type HttpPool, type HttpPoolOptions } from '../../src/http/index.js';
import { isWeirError } from '../../src/internal/errors.js';
import { h2Server, httpsServer, testCert } from './servers.js';

const { NGHTTP2_CANCEL } = http2.constants;

interface Held {
  stream: http2.ServerHttp2Stream;
  headers: http2.IncomingHttpHeaders;
  session: number;
}

interface StreamServer {
  url: string;
  sessions: http2.ServerHttp2Session[];
  arrived: Held[];
  /** Streams open on the server right now, and the most ever open at once. */
  open: number;
  peak: number;
  /** The RST_STREAM codes of streams the client closed (Node's `rstCode` on the server). */
  resets: number[];
  until(cond: () => boolean): Promise<void>;
  close(): Promise<void>;
}

/** A node:http2 server (h2c, or TLS with ALPN) that hands every stream to `onStream`. */
async function streamServer(
  onStream: (h: Held, s: StreamServer) => void,
  options: { tls?: boolean; settings?: http2.Settings } = {},
): Promise<StreamServer> {
  const settings = options.settings ?? {};
  const server = options.tls
    ? http2.createSecureServer({ ...(await testCert()), settings })
    : http2.createServer({ settings });
  let wake: () => void = () => {};
  const state: StreamServer = {
    url: '',
    sessions: [],
    arrived: [],
    open: 0,
    peak: 0,
    resets: [],
    until: async (cond) => {
      while (!cond()) await new Promise<void>((r) => (wake = r));
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of state.sessions) s.destroy();
        server.close(() => resolve());
      }),
  };
  server.on('session', (s) => {
    state.sessions.push(s);
    s.on('error', () => {});
    s.on('close', () => wake());
  });
  server.on('stream', (stream, headers) => {
    state.open++;
    state.peak = Math.max(state.peak, state.open);
    stream.on('error', () => {});
    stream.on('close', () => {
      state.open--;
      if (stream.rstCode !== undefined && stream.rstCode !== 0) state.resets.push(stream.rstCode);
      wake();
    });
    const h: Held = {
      stream,
      headers,
      session: state.sessions.indexOf(stream.session as http2.ServerHttp2Session),
    };
    state.arrived.push(h);
    onStream(h, state);
    wake();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `${options.tls ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return state;
}

const closers: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of closers.reverse()) await c();
});

async function setup(
  onStream: (h: Held, s: StreamServer) => void,
  options: { tls?: boolean; settings?: http2.Settings; pool?: HttpPoolOptions } = {},
): Promise<{ s: StreamServer; http: HttpPool }> {
  const s = await streamServer(onStream, options);
  const http = createHttpPool({
    connections: 2,
    h2c: !options.tls,
    tls: { ca: (await testCert()).cert },
    ...options.pool,
  });
  closers.push(
    () => s.close(),
    () => http.close(),
  );
  return { s, http };
}

const answer = (h: Held): void => {
  h.stream.respond({ ':status': 200 });
  h.stream.end(`ok ${h.headers[':path']}`);
};

/** Lets both ends process what the other sent (a bounded number of turns). */
async function turns(n = 20): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

describe('node:http2 sessions: ALPN and h2c', () => {
  test('https: ALPN picks h2 and one session carries the requests', async () => {
    const s = await h2Server((req, res) => res.end(`v${req.httpVersion}`));
    closers.push(() => s.close());
    const http = createHttpPool({ tls: { ca: (await testCert()).cert } });
    closers.push(() => http.close());
    const bodies = await Promise.all(
      Array.from({ length: 5 }, () => http.request(`${s.url}/`).then((r) => r.body.text())),
    );
    assert.deepEqual(bodies, Array(5).fill('v2.0'));
    assert.equal(http.stats().opened, 1);
    assert.equal(http.stats().origins[0]!.h2Streams.length, 1, 'an HTTP/2 session');
  });

  test('https: a server without h2 gets HTTP/1.1 by ALPN', async () => {
    const s = await httpsServer((req, res) => res.end(`v${req.httpVersion}`));
    closers.push(() => s.close());
    const http = createHttpPool({ tls: { ca: (await testCert()).cert } });
    closers.push(() => http.close());
    assert.equal(await (await http.request(`${s.url}/`)).body.text(), 'v1.1');
    assert.deepEqual(http.stats().origins[0]!.h2Streams, [], 'no HTTP/2 session');
  });

  test('https with allowH2: false offers only HTTP/1.1', async () => {
    const s = await h2Server((req, res) => res.end(`v${req.httpVersion}`));
    closers.push(() => s.close());
    const http = createHttpPool({ allowH2: false, tls: { ca: (await testCert()).cert } });
    closers.push(() => http.close());
    assert.equal(await (await http.request(`${s.url}/`)).body.text(), 'v1.1');
  });

  for (const tls of [false, true]) {
    test(`${tls ? 'TLS' : 'h2c'}: request headers, a body and the response headers cross intact`, async () => {
      const { s, http } = await setup(
        (h) => {
          const chunks: Buffer[] = [];
          h.stream.on('data', (c: Buffer) => chunks.push(c));
          h.stream.on('end', () => {
            h.stream.respond({ ':status': 201, 'x-got': String(h.headers['x-mine']) });
            h.stream.end(
              JSON.stringify({
                method: h.headers[':method'],
                path: h.headers[':path'],
                length: h.headers['content-length'],
                body: Buffer.concat(chunks).toString(),
                connection: h.headers.connection ?? null,
              }),
            );
          });
        },
        { tls },
      );
      const res = await http.request(`${s.url}/echo?q=1`, {
        method: 'POST',
        // A connection-specific header is dropped: HTTP/2 forbids it.
        headers: { 'x-mine': 'yes', connection: 'keep-alive' },
        body: 'hello',
      });
      assert.equal(res.status, 201);
      assert.equal(res.headers['x-got'], 'yes');
      assert.deepEqual(await res.body.json(), {
        method: 'POST',
        path: '/echo?q=1',
        length: '5',
        body: 'hello',
        connection: null,
      });
    });
  }
});

describe("the session's stream limit is its lease count", () => {
  test("never more streams open than the server's maxConcurrentStreams", {
    timeout: 10_000,
  }, async () => {
    const { s, http } = await setup((h) => setImmediate(() => answer(h)), {
      settings: { maxConcurrentStreams: 3 },
      pool: { connections: 1 },
    });
    const bodies = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        http.request(`${s.url}/${i}`).then((r) => r.body.text()),
      ),
    );
    assert.equal(bodies.length, 30);
    assert.ok(s.peak <= 3, `peak ${s.peak}`);
    assert.equal(s.peak, 3, 'the session was used to its limit');
    assert.equal(http.stats().opened, 1);
    assert.deepEqual(s.resets, [], 'no stream was refused');
  });

  test('nor more than the pool’s own maxConcurrentStreams; a second session opens for the rest', {
    timeout: 10_000,
  }, async () => {
    const { s, http } = await setup(() => {}, {
      pool: { connections: 2, maxConcurrentStreams: 2 },
    });
    const pending = Array.from({ length: 4 }, (_, i) => http.request(`${s.url}/${i}`));
    await s.until(() => s.arrived.length === 4);
    assert.deepEqual(
      s.arrived.map((h) => h.session).sort(),
      [0, 0, 1, 1],
      'two streams on each of two sessions',
    );
    for (const h of s.arrived) answer(h);
    await Promise.all(pending.map((p) => p.then((r) => r.body.text())));
  });
});

describe('flow-control windows', () => {
  test('the defaults reach the server: 65,536 per stream, 131,072 for the session', async () => {
    const { s, http } = await setup((h) => {
      h.stream.respond({ ':status': 204 }, { endStream: true });
    });
    await (await http.request(`${s.url}/`)).body.dump();
    const server = s.sessions[0]!;
    assert.equal(server.remoteSettings.initialWindowSize, 65_536);
    assert.equal(server.state.remoteWindowSize, 131_072);
  });

  test('initialWindowSize and connectionWindowSize as given', async () => {
    const { s, http } = await setup(
      (h) => {
        h.stream.respond({ ':status': 204 }, { endStream: true });
      },
      { pool: { initialWindowSize: 1 << 20, connectionWindowSize: 4 << 20 } },
    );
    await (await http.request(`${s.url}/`)).body.dump();
    const server = s.sessions[0]!;
    assert.equal(server.remoteSettings.initialWindowSize, 1 << 20);
    assert.equal(server.state.remoteWindowSize, 4 << 20);
  });

  test('bad values throw at construction, naming the option', () => {
    const cases: [HttpPoolOptions, RegExp, typeof RangeError][] = [
      [{ initialWindowSize: -1 }, /initialWindowSize/, RangeError],
      [{ initialWindowSize: 2 ** 31 }, /initialWindowSize.*2147483647/, RangeError],
      [{ initialWindowSize: 1.5 }, /initialWindowSize/, RangeError],
      [{ initialWindowSize: '65536' as never }, /initialWindowSize/, TypeError],
      [{ connectionWindowSize: 1_000 }, /connectionWindowSize.*65535/, RangeError],
      [{ connectionWindowSize: 2 ** 31 }, /connectionWindowSize/, RangeError],
      [{ maxConcurrentStreams: 0 }, /maxConcurrentStreams/, RangeError],
      [{ maxConcurrentStreams: 2 ** 31 }, /maxConcurrentStreams/, RangeError],
      [{ h2Engine: 'nghttp2' as never }, /h2Engine/, TypeError],
      [
        { origins: { 'http://a.test': { initialWindowSize: -5 } } },
        /initialWindowSize/,
        RangeError,
      ],
    ];
    for (const [options, message, type] of cases) {
      assert.throws(
        () => createHttpPool(options),
        (e: unknown) => {
          assert.ok(e instanceof type, `${JSON.stringify(options)}: ${String(e)}`);
          assert.match((e as Error).message, message);
          return true;
        },
      );
    }
    assert.throws(
      () => createHttpPool({ initialWindow: 1 } as never),
      /did you mean `initialWindowSize`/,
    );
  });
});

describe('abort in every phase', () => {
  test('already aborted: rejected with the reason, nothing sent', async () => {
    const { s, http } = await setup(answer);
    const reason = new Error('stop');
    await assert.rejects(http.request(`${s.url}/`, { signal: AbortSignal.abort(reason) }), reason);
    await turns();
    assert.equal(s.arrived.length, 0);
  });

  test('before the response headers: RST_STREAM CANCEL, the session lives on', async () => {
    const { s, http } = await setup(() => {});
    const ac = new AbortController();
    const p = http.request(`${s.url}/`, { signal: ac.signal });
    await s.until(() => s.arrived.length === 1);
    const reason = new Error('changed my mind');
    ac.abort(reason);
    await assert.rejects(p, reason);
    await s.until(() => s.resets.length === 1);
    assert.deepEqual(s.resets, [NGHTTP2_CANCEL]);
    // The session serves the next request.
    s.arrived.length = 0;
    const next = http.request(`${s.url}/next`);
    await s.until(() => s.arrived.length === 1);
    answer(s.arrived[0]!);
    assert.equal(await (await next).body.text(), 'ok /next');
    assert.equal(http.stats().opened, 1);
    assert.equal(http.stats().inFlight, 0);
  });

  test('while the body arrives: the read fails with the reason and the stream is cancelled', async () => {
    const { s, http } = await setup((h) => {
      h.stream.respond({ ':status': 200 });
      h.stream.write('first part');
    });
    const ac = new AbortController();
    const res = await http.request(`${s.url}/`, { signal: ac.signal });
    assert.equal(res.status, 200);
    const reason = new Error('enough');
    const reading = res.body.text();
    await turns();
    ac.abort(reason);
    await assert.rejects(reading, reason);
    await s.until(() => s.resets.length === 1);
    assert.deepEqual(s.resets, [NGHTTP2_CANCEL]);
    assert.equal(http.stats().inFlight, 0);
  });

  test('after the response ended: nothing happens', async () => {
    const { s, http } = await setup(answer);
    const ac = new AbortController();
    const res = await http.request(`${s.url}/`, { signal: ac.signal });
    assert.equal(await res.body.text(), 'ok /');
    ac.abort(new Error('late'));
    await turns();
    assert.deepEqual(s.resets, []);
    assert.equal(await (await http.request(`${s.url}/again`)).body.text(), 'ok /again');
    assert.equal(http.stats().opened, 1);
  });

  test('while waiting behind a request that must go alone on the session', async () => {
    const { s, http } = await setup(() => {}, { pool: { connections: 1 } });
    const get = http.request(`${s.url}/get`);
    await s.until(() => s.arrived.length === 1);
    // A POST waits until nothing else is in flight on the session (as with undici).
    const ac = new AbortController();
    const post = http.request(`${s.url}/post`, { method: 'POST', body: 'x', signal: ac.signal });
    await turns();
    assert.equal(s.arrived.length, 1);
    const reason = new Error('not any more');
    ac.abort(reason);
    await assert.rejects(post, reason);
    answer(s.arrived[0]!);
    assert.equal(await (await get).body.text(), 'ok /get');
    await turns();
    assert.equal(s.arrived.length, 1, 'the aborted POST was never sent');
  });
});

describe('a server that dies', () => {
  test('before the response: a GET in flight is retried on a new session', {
    timeout: 10_000,
  }, async () => {
    const { s, http } = await setup((h) => {
      if (h.session > 0) answer(h);
    });
    const gets = [http.request(`${s.url}/a`), http.request(`${s.url}/b`)];
    await s.until(() => s.arrived.length === 2);
    s.sessions[0]!.destroy();
    const bodies = await Promise.all(gets.map(async (p) => (await p).body.text()));
    assert.deepEqual(bodies, ['ok /a', 'ok /b']);
    // Each was retried (a retry may meet the dying session once more before it is gone).
    assert.ok(http.stats().retries >= 2, `retries ${http.stats().retries}`);
    assert.deepEqual(http.stats().errors, {});
  });

  test('a POST in flight when the session dies fails with ERR_HTTP_SOCKET and is not replayed', {
    timeout: 10_000,
  }, async () => {
    const { s, http } = await setup((h) => {
      if (h.session > 0) answer(h);
    });
    const post = http.request(`${s.url}/post`, { method: 'POST', body: 'x' });
    await s.until(() => s.arrived.length === 1);
    s.sessions[0]!.destroy();
    await assert.rejects(post, (e: unknown) => {
      assert.ok(isWeirError(e, 'ERR_HTTP_SOCKET'), String(e));
      return true;
    });
    assert.equal(s.arrived.length, 1, 'sent once');
    assert.equal(http.stats().retries, 0);
    // The dead session is retired; the next request opens a new one.
    assert.equal(await (await http.request(`${s.url}/after`)).body.text(), 'ok /after');
    assert.equal(http.stats().opened, 2);
  });

  test('mid-body: the read fails with ERR_HTTP_SOCKET', { timeout: 10_000 }, async () => {
    const { s, http } = await setup((h) => {
      h.stream.respond({ ':status': 200 });
      h.stream.write('part');
    });
    const res = await http.request(`${s.url}/`);
    const reading = res.body.text();
    await turns();
    s.sessions[0]!.destroy();
    await assert.rejects(reading, (e: unknown) => {
      assert.ok(isWeirError(e, 'ERR_HTTP_SOCKET'), String(e));
      return true;
    });
    assert.equal(http.stats().connections, 0, 'the session was retired');
  });
});

describe('backpressure', () => {
  test('an unread response body stops the server once the windows are full', {
    timeout: 10_000,
  }, async () => {
    const total = 4 << 20;
    let written = 0;
    let finished = false;
    const { s, http } = await setup((h) => {
      h.stream.respond({ ':status': 200 });
      const chunk = Buffer.alloc(16 * 1024, 1);
      const pump = (): void => {
        while (written < total) {
          written += chunk.length;
          if (!h.stream.write(chunk)) {
            h.stream.once('drain', pump);
            return;
          }
        }
        h.stream.end(() => {
          finished = true;
        });
      };
      pump();
    });
    const res = await http.request(`${s.url}/big`);
    await turns(200);
    // 64 KB in the body's buffer, the stream's window and the server's own write buffer:
    // far from the 4 MB the server has to send.
    assert.ok(!finished, 'the server could not finish');
    assert.ok(written < 1 << 20, `the server got only so far: ${written}`);
    let read = 0;
    for await (const c of res.body) read += c.byteLength;
    assert.equal(read, total);
  });

  test('a request body is read only as fast as the stream takes it', {
    timeout: 10_000,
  }, async () => {
    let pulled = 0;
    let received = 0;
    const { s, http } = await setup((h) => {
      h.stream.pause();
      h.stream.on('data', (c: Buffer) => {
        received += c.length;
      });
      h.stream.on('end', () => answer(h));
    });
    const chunk = Buffer.alloc(16 * 1024, 2);
    const body = (async function* () {
      for (let i = 0; i < 256; i++) {
        pulled++;
        yield chunk;
      }
    })();
    const p = http.request(`${s.url}/up`, { method: 'PUT', body });
    await s.until(() => s.arrived.length === 1);
    await turns(200);
    assert.ok(pulled < 64, `pulled ${pulled} chunks of 256 while the server read nothing`);
    s.arrived[0]!.stream.resume();
    assert.equal(await (await p).body.text(), 'ok /up');
    assert.equal(received, 256 * chunk.length);
  });
});

describe('trailers and the Dispatcher surface', () => {
  test('response trailers reach undici’s request() through the pool', async () => {
    const { s, http } = await setup((h) => {
      h.stream.respond({ ':status': 200 }, { waitForTrailers: true });
      h.stream.on('wantTrailers', () => h.stream.sendTrailers({ 'x-checksum': 'abc' }));
      h.stream.end('body');
    });
    const res = await undiciRequest(`${s.url}/t`, { dispatcher: http });
    assert.equal(await res.body.text(), 'body');
    assert.deepEqual(res.trailers, { 'x-checksum': 'abc' });
  });
});
