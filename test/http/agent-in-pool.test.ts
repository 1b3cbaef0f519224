import assert from 'node:assert/strict';
import http, { type ServerResponse } from 'node:http';
import type http2 from 'node:http2';
import https from 'node:https';
import { after, describe, test } from 'node:test';
import { createHttpPool } from '../../src/http/index.js';
import { isWeirError } from '../../src/internal/errors.js';
import { type CountingServer, countingServer } from './counting-server.js';
import { h2Server, type Running, testCert } from './servers.js';

const servers: (CountingServer | Running)[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

/** GET through Node's client with `agent`: the body and the HTTP version it was served with. */
function get(agent: http.Agent, url: string): Promise<string> {
  const mod = url.startsWith('https:') ? https : http;
  return new Promise((resolve, reject) => {
    mod
      .get(url, { agent }, (res) => {
        let t = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          t += c;
        });
        res.on('end', () => resolve(t));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

describe('the agent is part of its pool', () => {
  test('agent and undici requests share one connections budget, one queue and one set of figures', async () => {
    const held: ServerResponse[] = [];
    let hold = true;
    const s = await countingServer((req, res) => {
      if (hold) held.push(res);
      else res.end(`${req.url}`);
    });
    servers.push(s);
    await using pool = createHttpPool({ connections: 2 });
    const agent = pool.toHttpAgent();
    const other = pool.toHttpAgent();
    const all = [
      get(agent, `${s.url}/a1`),
      pool.request(`${s.url}/p1`).then((r) => r.body.text()),
      get(other, `${s.url}/a2`),
      pool.request(`${s.url}/p2`).then((r) => r.body.text()),
    ];
    await s.until(() => held.length === 2, 'two requests at the server');
    assert.equal(s.accepted(), 2, 'two connections for all four requests, agents included');
    const st = pool.stats();
    assert.equal(st.connections, 2);
    assert.equal(st.queued, 2, 'the other two wait in the one queue');
    assert.equal(st.requests, 4, 'agent requests are counted with the rest');
    assert.deepEqual(agent.stats().requests, 4, 'the agent reports the pool’s figures');
    hold = false;
    for (const r of held.splice(0)) r.end('held');
    const bodies = await Promise.all(all);
    assert.equal(bodies.filter((b) => b === 'held').length, 2);
    assert.equal(pool.stats().inFlight, 0);
    assert.ok(pool.stats().connections <= 2);
  });

  test('close() closes the connections the agent used and refuses its later requests', async () => {
    const s = await countingServer((_req, res) => res.end('ok'));
    servers.push(s);
    const pool = createHttpPool({ connections: 2 });
    const agent = pool.toHttpAgent();
    assert.equal(await get(agent, `${s.url}/`), 'ok');
    assert.equal(await (await pool.request(`${s.url}/`)).body.text(), 'ok');
    assert.equal(s.open.size, pool.stats().connections);
    await pool.close();
    await s.until(() => s.open.size === 0, 'every socket closed');
    await assert.rejects(get(agent, `${s.url}/`), (e: unknown) =>
      isWeirError(e, 'ERR_HTTP_CLOSED'),
    );
    await assert.rejects(get(agent, 'http://127.0.0.1:1/'), (e: unknown) =>
      isWeirError(e, 'ERR_HTTP_CLOSED'),
    );
  });

  test('destroy() fails an agent request in flight and closes its socket', async () => {
    const s = await countingServer(() => {});
    servers.push(s);
    const pool = createHttpPool({ connections: 1 });
    const pending = get(pool.toHttpAgent(), `${s.url}/hang`);
    await s.until(() => s.open.size === 1, 'the request at the server');
    await pool.destroy();
    await assert.rejects(pending);
    await s.until(() => s.open.size === 0, 'its socket closed');
  });

  test('https: on an origin the pool speaks HTTP/2 to, the agent takes HTTP/1.1 connections of the same budget', {
    timeout: 10_000,
  }, async () => {
    const held: http2.Http2ServerResponse[] = [];
    let hold = false;
    const s = await h2Server((req, res) => {
      if (hold && req.httpVersion === '2.0') held.push(res as unknown as http2.Http2ServerResponse);
      else res.end(`v${req.httpVersion}`);
    });
    servers.push(s);
    const url = s.url.replace('127.0.0.1', 'localhost');
    await using pool = createHttpPool({ connections: 1, tls: { ca: (await testCert()).cert } });
    const agent = pool.toHttpsAgent();
    assert.equal(await (await pool.request(`${url}/`)).body.text(), 'v2.0');
    // The only connection is an idle HTTP/2 session: the agent reopens it as HTTP/1.1.
    assert.equal(await get(agent, `${url}/`), 'v1.1');
    assert.equal(await (await pool.request(`${url}/`)).body.text(), 'v1.1');
    let st = pool.stats();
    assert.equal(st.connections, 1);
    assert.deepEqual(st.errors, {});

    await using two = createHttpPool({ connections: 2, tls: { ca: (await testCert()).cert } });
    const agent2 = two.toHttpsAgent();
    hold = true;
    const streams = [1, 2].map(() => two.request(`${url}/`).then((r) => r.body.text()));
    while (held.length < 2) await new Promise((r) => setImmediate(r));
    // A session busy with streams is passed over, not taken from them.
    assert.equal(await get(agent2, `${url}/`), 'v1.1');
    for (const r of held.splice(0)) r.end('h2 done');
    assert.deepEqual(await Promise.all(streams), ['h2 done', 'h2 done']);
    st = two.stats();
    assert.equal(st.connections, 2);
    assert.deepEqual(st.errors, {});
    // And the session takes streams again afterwards.
    hold = false;
    const again = await Promise.all(
      [1, 2, 3].map(() => two.request(`${url}/`).then((r) => r.body.text())),
    );
    assert.ok(again.includes('v2.0'));
  });
});
