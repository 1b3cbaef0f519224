import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { createHttpPool } from '../../src/http/index.js';
import { h2Server, type Running, testCert } from './servers.js';

const servers: Running[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

/** An HTTP/2 server (HTTP/1.1 allowed) that records whether each TLS connection resumed. */
async function h2Recording(): Promise<Running & { resumed: boolean[] }> {
  const s = await h2Server((req, res) => {
    req.resume();
    res.end('ok');
  });
  servers.push(s);
  const resumed: boolean[] = [];
  s.server.on('secureConnection', (socket: TLSSocket) => resumed.push(socket.isSessionReused()));
  return { ...s, resumed };
}

/** An HTTP/1.1 server whose every response closes its connection: each request handshakes. */
async function h1Recording(): Promise<{ url: string; resumed: boolean[]; server: https.Server }> {
  const server = https.createServer({ ...(await testCert()) }, (req, res) => {
    req.resume();
    res.setHeader('connection', 'close');
    res.end('ok');
  });
  const resumed: boolean[] = [];
  server.on('secureConnection', (socket: TLSSocket) => resumed.push(socket.isSessionReused()));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  servers.push({
    url: '',
    port,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  });
  return { url: `https://127.0.0.1:${port}`, resumed, server };
}

const ca = async () => ({ ca: (await testCert()).cert });

describe('TLS session resumption', () => {
  test('on by default: every connection after the first resumes the origin’s session', async () => {
    const s = await h1Recording();
    await using pool = createHttpPool({ tls: await ca() });
    for (let i = 0; i < 4; i++) {
      const r = await pool.request(`${s.url}/${i}`);
      assert.equal(await r.body.text(), 'ok');
    }
    assert.deepEqual(s.resumed, [false, true, true, true], 'the server saw resumed handshakes');
    const st = pool.stats().origins[0]!;
    assert.equal(st.opened, 4, 'each request had a new connection');
    assert.equal(st.tlsHandshakes, 4);
    assert.equal(st.tlsResumed, 3);
  });

  test('tls.resumeSessions: false makes every handshake a full one', async () => {
    const s = await h1Recording();
    await using pool = createHttpPool({ tls: { ...(await ca()), resumeSessions: false } });
    for (let i = 0; i < 3; i++) await (await pool.request(`${s.url}/`)).body.text();
    assert.deepEqual(s.resumed, [false, false, false]);
    assert.equal(pool.stats().origins[0]!.tlsResumed, 0);
  });

  test('a session the server no longer accepts (keys rotated) costs a full handshake, not a failure', async () => {
    const s = await h1Recording();
    await using pool = createHttpPool({ tls: await ca() });
    await (await pool.request(`${s.url}/`)).body.text();
    await (await pool.request(`${s.url}/`)).body.text();
    s.server.setTicketKeys(randomBytes(48));
    await (await pool.request(`${s.url}/`)).body.text();
    await (await pool.request(`${s.url}/`)).body.text();
    assert.deepEqual(s.resumed, [false, true, false, true]);
  });

  test('HTTP/2 and HTTP/1.1 connections of one origin share its session', async () => {
    const s = await h2Recording();
    await using pool = createHttpPool({ tls: await ca() });
    await (await pool.request(`${s.url}/`)).body.text();
    assert.equal(pool.stats().origins[0]!.h2Streams.length, 1, 'an HTTP/2 session');
    // The agent opens an HTTP/1.1 connection (another connector) with the same session.
    const agent = pool.toHttpsAgent();
    await new Promise<void>((resolve, reject) => {
      https
        .request(`${s.url}/`, { agent }, (res) => {
          res.resume();
          res.on('end', resolve);
        })
        .on('error', reject)
        .end();
    });
    assert.deepEqual(s.resumed, [false, true]);
    assert.equal(pool.stats().origins[0]!.tlsResumed, 1);
  });
});
