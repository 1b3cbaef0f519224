// No socket, session or timer of an HTTP/2 pool outlives close(): alone in its file (its
// own process), so that nothing else's sockets and timers are counted.
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { createHttpPool } from '../../src/http/index.js';
import { testCert } from './servers.js';

const count = (kind: string) => process.getActiveResourcesInfo().filter((t) => t === kind).length;

async function turns(n = 20): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

for (const tls of [false, true]) {
  describe(`nothing left open (${tls ? 'TLS' : 'h2c'})`, () => {
    test('after close(), no socket, session or timer of the pool is left', {
      timeout: 10_000,
    }, async (t) => {
      const cert = await testCert();
      const server = tls ? http2.createSecureServer({ ...cert }) : http2.createServer();
      const sessions: http2.ServerHttp2Session[] = [];
      server.on('session', (s) => sessions.push(s));
      server.on('stream', (stream) =>
        setImmediate(() => {
          stream.respond({ ':status': 200 });
          stream.end('ok');
        }),
      );
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      t.after(() => {
        for (const s of sessions) s.destroy();
        server.close();
      });
      const url = `${tls ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const sockets = count('TCPSocketWrap');
      const timers = count('Timeout');
      const http = createHttpPool({
        h2c: !tls,
        connections: 2,
        maxConcurrentStreams: 5,
        tls: { ca: cert.cert },
      });
      const bodies = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          http.request(`${url}/${i}`).then((r) => r.body.text()),
        ),
      );
      assert.deepEqual(bodies, Array(20).fill('ok'));
      assert.equal(sessions.length, 2, 'two sessions of five streams each were needed');
      assert.ok(count('TCPSocketWrap') > sockets, 'the sessions hold sockets');
      await http.close();
      for (let i = 0; i < 100 && !sessions.every((s) => s.closed || s.destroyed); i++)
        await turns(1);
      await turns();
      assert.ok(
        sessions.every((s) => s.closed || s.destroyed),
        'the server saw every session end',
      );
      assert.equal(count('TCPSocketWrap'), sockets, 'every socket closed');
      assert.ok(count('Timeout') <= timers, 'no timer left behind');
      assert.equal(http.stats().connections, 0);
    });
  });
}
