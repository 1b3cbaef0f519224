// A graceful HTTP/2 GOAWAY: streams the server accepted before it complete on the old
// session, the rest are retried on a fresh one.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import { makeGoawayGraceful } from '../../src/http/goaway.js';
import { createHttpPool, type HttpPool } from '../../src/http/index.js';
import { isWeirError } from '../../src/internal/errors.js';
import { testCert } from './servers.js';

const { NGHTTP2_NO_ERROR, NGHTTP2_REFUSED_STREAM } = http2.constants;

interface Arrived {
  session: number;
  path: string;
  method: string;
  stream: http2.ServerHttp2Stream;
}

interface GoawayServer {
  url: string;
  sessions: http2.ServerHttp2Session[];
  arrived: Arrived[];
  /** Errors any server session or stream saw (a client's protocol error shows here). */
  errors: string[];
  /** Resolves once `cond()` holds, re-checked as streams arrive (bounded by the test timeout). */
  until(cond: () => boolean): Promise<void>;
  close(): Promise<void>;
}

/**
 * A node:http2 server that holds every stream of its first session until the test answers
 * it, and answers streams of later sessions at once with `s<session> <path>`; `onStream`
 * may answer differently.
 */
async function goawayServer(
  tls: boolean,
  onStream?: (a: Arrived) => boolean,
): Promise<GoawayServer> {
  const server = tls ? http2.createSecureServer({ ...(await testCert()) }) : http2.createServer();
  const state: GoawayServer = {
    url: '',
    sessions: [],
    arrived: [],
    errors: [],
    until: async () => {},
    close: async () => {},
  };
  let wake: () => void = () => {};
  state.until = async (cond) => {
    while (!cond()) await new Promise<void>((r) => (wake = r));
  };
  server.on('session', (s) => {
    state.sessions.push(s);
    s.on('error', (e) => state.errors.push(`session: ${e.message}`));
    s.on('close', () => wake());
  });
  server.on('stream', (stream, headers) => {
    const a: Arrived = {
      session: state.sessions.indexOf(stream.session as http2.ServerHttp2Session),
      path: String(headers[':path']),
      method: String(headers[':method']),
      stream,
    };
    stream.on('error', (e) => state.errors.push(`stream ${a.path}: ${e.message}`));
    stream.resume();
    state.arrived.push(a);
    if (onStream?.(a) !== true && a.session > 0) {
      stream.respond({ ':status': 200 });
      stream.end(`s${a.session} ${a.path}`);
    }
    wake();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  state.url = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  state.close = () =>
    new Promise<void>((resolve) => {
      for (const s of state.sessions) s.destroy();
      server.close(() => resolve());
    });
  return state;
}

const closers: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of closers) await c();
});

async function setup(
  tls: boolean,
  onStream?: (a: Arrived) => boolean,
): Promise<{ s: GoawayServer; http: HttpPool }> {
  const s = await goawayServer(tls, onStream);
  const http = createHttpPool({
    connections: 4,
    h2c: !tls,
    tls: { ca: (await testCert()).cert, servername: 'localhost' },
  });
  closers.push(
    () => http.close(),
    () => s.close(),
  );
  return { s, http };
}

/** Lets the client's session process what the server sent (a bounded number of turns). */
async function turns(n = 20): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

for (const tls of [false, true]) {
  const label = tls ? 'TLS' : 'h2c';

  describe(`graceful GOAWAY (${label})`, () => {
    test('streams whose response headers had arrived complete; the rest are retried on a fresh session', {
      timeout: 10_000,
    }, async () => {
      const { s, http } = await setup(tls);
      const pending = Array.from({ length: 10 }, (_, i) => http.request(`${s.url}/${i}`));
      await s.until(() => s.arrived.length === 10);
      // The five oldest streams are answered (headers now, body later); GOAWAY names the
      // last of them, so the other five were never processed.
      const byId = [...s.arrived].sort((a, b) => a.stream.id! - b.stream.id!);
      const accepted = byId.slice(0, 5);
      for (const a of accepted) a.stream.respond({ ':status': 200 });
      const acceptedPaths = new Set(accepted.map((a) => a.path));
      const responses = pending.map((p, i) => ({ path: `/${i}`, p }));
      for (const r of responses)
        if (acceptedPaths.has(r.path)) assert.equal((await r.p).status, 200);
      s.sessions[0]!.goaway(NGHTTP2_NO_ERROR, accepted.at(-1)!.stream.id!);
      // The refused five arrive on a second session and are answered there.
      await s.until(() => s.arrived.filter((a) => a.session === 1).length === 5);
      await turns();
      // Only now do the accepted streams get their bodies, after the GOAWAY.
      for (const a of accepted) a.stream.end(`s0 ${a.path}`);
      const bodies = await Promise.all(pending.map(async (p) => (await p).body.text()));
      for (const [i, body] of bodies.entries()) {
        assert.equal(body, `s${acceptedPaths.has(`/${i}`) ? 0 : 1} /${i}`);
      }
      const st = http.stats();
      assert.deepEqual(st.errors, {});
      assert.equal(st.retries, 5);
      assert.equal(st.opened, 2);
      // The streams above the GOAWAY's last stream id end refused on the server too; nothing
      // else may fail there (a client's protocol error would reset the accepted ones).
      assert.deepEqual(
        s.errors.filter((e) => !e.endsWith('NGHTTP2_REFUSED_STREAM')),
        [],
        'the client broke no protocol rule',
      );
    });

    test('a request undici held back on the session is refused unsent, then sent once on a fresh session (a POST too)', {
      timeout: 10_000,
    }, async () => {
      const { s, http } = await setup(tls);
      const get = http.request(`${s.url}/hold`);
      await s.until(() => s.arrived.length === 1);
      // undici sends a non-idempotent request on an HTTP/2 session only when no other
      // stream is in flight on it: this one waits in undici's queue, unsent.
      const post = http.request(`${s.url}/post`, { method: 'POST', body: 'x' });
      await turns();
      assert.equal(s.arrived.length, 1, 'the POST waits behind the GET');
      s.sessions[0]!.goaway(NGHTTP2_NO_ERROR, s.arrived[0]!.stream.id!);
      for (let i = 0; i < 1_000 && http.stats().origins[0]!.h2Streams.length > 0; i++)
        await turns(1);
      const hold = s.arrived[0]!.stream;
      hold.respond({ ':status': 200 });
      hold.end('s0 /hold');
      assert.equal(await (await get).body.text(), 's0 /hold');
      assert.equal(await (await post).body.text(), 's1 /post');
      const posts = s.arrived.filter((a) => a.method === 'POST');
      assert.deepEqual(
        posts.map((a) => a.session),
        [1],
        'the POST reached the server once, on the new session',
      );
      assert.equal(http.stats().retries, 1);
    });
  });
}

describe('a GOAWAY with an error code', () => {
  test('destroys the session; its requests that had no response yet are retried on a fresh one', {
    timeout: 10_000,
  }, async () => {
    const { s, http } = await setup(false);
    const pending = Array.from({ length: 3 }, (_, i) => http.request(`${s.url}/${i}`));
    await s.until(() => s.arrived.length === 3);
    s.sessions[0]!.goaway(http2.constants.NGHTTP2_INTERNAL_ERROR, s.arrived.at(-1)!.stream.id!);
    const bodies = await Promise.all(pending.map(async (p) => (await p).body.text()));
    assert.deepEqual(bodies, ['s1 /0', 's1 /1', 's1 /2']);
    assert.equal(http.stats().retries, 3);
  });
});

describe('REFUSED_STREAM', () => {
  test('a stream the server refused is retried whatever its method', {
    timeout: 10_000,
  }, async () => {
    let refused = 0;
    const { s, http } = await setup(false, (a) => {
      if (refused++ > 0) {
        a.stream.respond({ ':status': 200 });
        a.stream.end(`ok ${a.method}`);
      } else a.stream.close(NGHTTP2_REFUSED_STREAM);
      return true;
    });
    const res = await http.request(`${s.url}/p`, { method: 'POST', body: 'once' });
    assert.equal(await res.body.text(), 'ok POST');
    assert.equal(s.arrived.length, 2);
    assert.equal(http.stats().retries, 1);
  });

  test('a stream the server refused is not replayed when its body was a one-shot stream', {
    timeout: 10_000,
  }, async () => {
    const { s, http } = await setup(false, (a) => {
      a.stream.close(NGHTTP2_REFUSED_STREAM);
      return true;
    });
    // Part of it may have been sent (and read from the caller's stream) before the refusal.
    const body = (async function* () {
      yield Buffer.from('once');
    })();
    await assert.rejects(http.request(`${s.url}/p`, { method: 'POST', body }), (e: unknown) => {
      assert.ok(isWeirError(e, 'ERR_HTTP_CONNECTION_RETIRED'), String(e));
      return true;
    });
    assert.equal(s.arrived.length, 1);
    assert.equal(http.stats().retries, 0);
  });

  test('a server that refuses every stream fails the request after a bounded number of tries', {
    timeout: 10_000,
  }, async () => {
    const { s, http } = await setup(false, (a) => {
      a.stream.close(NGHTTP2_REFUSED_STREAM);
      return true;
    });
    await assert.rejects(http.request(`${s.url}/`), (e: unknown) => {
      assert.ok(isWeirError(e, 'ERR_HTTP_CONNECTION_RETIRED'), String(e));
      assert.equal((e as Error & { cause: { code: string } }).cause.code, 'ERR_HTTP2_STREAM_ERROR');
      return true;
    });
    assert.equal(s.arrived.length, 5, 'the first try and four retries');
  });
});

describe('the GOAWAY takeover', () => {
  class FakeStream extends EventEmitter {
    closed = 0;
    close(): void {
      this.closed++;
    }
  }
  function fakeSession() {
    const session = new EventEmitter() as EventEmitter & { request?: () => FakeStream };
    session.request = () => new FakeStream();
    return session;
  }

  test("undici's GOAWAY listener is replaced; a GOAWAY reaches only the pool's", () => {
    const session = fakeSession();
    let undiciSaw = 0;
    session.on('goaway', () => undiciSaw++);
    const seen: [number, number][] = [];
    makeGoawayGraceful(session as never, (code, last) => seen.push([code, last]));
    session.emit('goaway', 0, 7);
    assert.equal(undiciSaw, 0);
    assert.deepEqual(seen, [[0, 7]]);
  });

  test('a stream whose HEADERS could not be sent is never reset (no RST_STREAM for an id the server never saw)', () => {
    const session = fakeSession();
    makeGoawayGraceful(session as never, () => {});
    const unsent = session.request!();
    // undici's own listener comes after the takeover's and closes the stream.
    unsent.once('frameError', () => unsent.close());
    unsent.emit('frameError', 1, -1, 3);
    assert.equal(unsent.closed, 0);
    const other = session.request!();
    other.once('frameError', () => other.close());
    other.emit('frameError', 0, -1, 5);
    assert.equal(other.closed, 1, 'a DATA frame error still closes its stream');
  });
});
