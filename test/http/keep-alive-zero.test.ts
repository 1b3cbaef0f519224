import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { Connection } from '../../src/http/connection.js';
import { createHttpPool } from '../../src/http/index.js';
import { isWeirError } from '../../src/internal/errors.js';
import { type CountingServer, countingServer } from './counting-server.js';

const servers: CountingServer[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

async function echo(keepAliveTimeoutMs?: number): Promise<CountingServer> {
  const s = await countingServer(async (req, res) => {
    let body = '';
    for await (const c of req) body += c;
    res.end(`${req.method} ${body}`);
  }, keepAliveTimeoutMs);
  servers.push(s);
  return s;
}

async function* once(text: string): AsyncGenerator<Buffer> {
  yield Buffer.from(text);
}

describe('connections the server closes after the response', () => {
  test('Keep-Alive: timeout=0 (a server keep-alive under 1 s): the connection never goes back to the pool', async () => {
    const s = await echo(500);
    await using http = createHttpPool({ connections: 4 });
    const first = await http.request(`${s.url}/`, { method: 'POST', body: once('0') });
    assert.equal(first.headers['keep-alive'], 'timeout=0');
    assert.equal(await first.body.text(), 'POST 0');
    for (let i = 1; i < 20; i++) {
      const r = await http.request(`${s.url}/`, { method: 'POST', body: once(String(i)) });
      assert.equal(await r.body.text(), `POST ${i}`);
    }
    for (let i = 0; i < 20; i++)
      assert.equal(await (await http.request(`${s.url}/`)).body.text(), 'GET ');
    const burst = await Promise.all(
      Array.from({ length: 20 }, () => http.request(`${s.url}/`).then((r) => r.body.text())),
    );
    assert.ok(burst.every((b) => b === 'GET '));
    const st = http.stats();
    assert.deepEqual(st.errors, {});
    assert.equal(st.retries, 0, 'no request met a connection the server had closed');
    assert.equal(st.opened, 60, 'one connection per response');
    assert.equal(st.connections, 0, 'none kept');
  });

  test('Connection: close: the connection never goes back to the pool', async () => {
    const s = await countingServer((_req, res) => {
      res.setHeader('connection', 'close');
      res.end('bye');
    });
    servers.push(s);
    await using http = createHttpPool({ connections: 2 });
    for (let i = 0; i < 5; i++) {
      const r = await http.request(`${s.url}/`, { method: 'POST', body: once('x') });
      assert.equal(await r.body.text(), 'bye');
    }
    const st = http.stats();
    assert.deepEqual(st.errors, {});
    assert.equal(st.opened, 5);
  });
});

describe('retrying what was not sent, and only that', () => {
  test('a request refused before any byte of it was written is retried, even with a one-shot body', async () => {
    const s = await echo();
    await using http = createHttpPool({ connections: 1, minConnections: 1 });
    const op = http.originPool(s.url);
    const conn = await new Promise<Connection>((resolve) =>
      op.pool.once('create', (e) => resolve(e.resource)),
    );
    // Closed under the idle connection just as the request takes it: the close is not seen
    // yet when the request is handed to the connection, so nothing of it can be written.
    conn.socket.destroy();
    const r = await http.request(`${s.url}/`, { method: 'POST', body: once('one-shot') });
    assert.equal(await r.body.text(), 'POST one-shot');
    const st = http.stats();
    assert.deepEqual(st.errors, {});
    assert.equal(s.accepted(), 2, 'sent on a socket opened for it');
  });

  test('a one-shot body that was partly sent is never replayed', async () => {
    let puts = 0;
    let gotFirst!: () => void;
    const firstArrived = new Promise<void>((r) => {
      gotFirst = r;
    });
    const s = await countingServer((req, res, socket) => {
      if (req.method !== 'PUT') {
        res.end('ok');
        return;
      }
      puts++;
      // Reads the first chunk of the body, then the connection breaks.
      req.once('data', () => {
        gotFirst();
        socket.destroy();
      });
    });
    servers.push(s);
    await using http = createHttpPool({ connections: 1 });
    await (await http.request(`${s.url}/`)).body.text();
    let starts = 0;
    let release!: () => void;
    const held = new Promise<void>((r) => {
      release = r;
    });
    async function* body(): AsyncGenerator<Buffer> {
      starts++;
      yield Buffer.from('first part;');
      await firstArrived;
      await held;
      yield Buffer.from('second part');
    }
    // PUT is idempotent and the socket was reused: only the body keeps it from a retry.
    await assert.rejects(http.request(`${s.url}/`, { method: 'PUT', body: body() }), (e: unknown) =>
      isWeirError(e, 'ERR_HTTP_SOCKET'),
    );
    release();
    assert.equal(puts, 1, 'sent once');
    assert.equal(starts, 1);
    assert.equal(http.stats().retries, 0);
  });
});
