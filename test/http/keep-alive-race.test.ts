import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { after, describe, test } from 'node:test';
import { fetch } from 'undici';
import { createHttpPool } from '../../src/http/index.js';
import { isWeirError } from '../../src/internal/errors.js';
import { type CountingServer, countingServer, turnsUntil } from './counting-server.js';

const servers: CountingServer[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

/**
 * A server that, once told to, treats every socket open at that moment as stale: the next
 * request that arrives on one of them is answered by destroying the socket (exactly a server
 * closing an idle keep-alive socket as the client reuses it). Sockets opened later serve
 * normally.
 */
async function staleOnCue(): Promise<{ s: CountingServer; stale: Set<Socket>; cue(): void }> {
  const stale = new Set<Socket>();
  const s = await countingServer((req, res, socket) => {
    if (stale.delete(socket)) {
      socket.destroy();
      return;
    }
    req.resume();
    req.on('end', () => res.end(`ok ${req.method}`));
  });
  servers.push(s);
  const cue = (): void => {
    for (const x of s.open) stale.add(x);
  };
  return { s, stale, cue };
}

const GET = {
  'pool.request': async (http: ReturnType<typeof createHttpPool>, url: string) =>
    (await http.request(url)).body.text(),
  fetch: async (http: ReturnType<typeof createHttpPool>, url: string) =>
    (await fetch(url, { dispatcher: http })).text(),
};

describe('the keep-alive race on connections that sat idle', () => {
  for (const [via, get] of Object.entries(GET)) {
    test(`${via}: pre-opened connections never used before are retried when the server closed them`, async () => {
      const { s, stale, cue } = await staleOnCue();
      await using http = createHttpPool({ connections: 3, minConnections: 3 });
      assert.equal(await get(http, `${s.url}/first`), 'ok GET');
      await s.until(() => s.open.size === 3, 'three connections');
      await turnsUntil(() => http.stats().idle === 3, 'three idle connections');
      cue();
      // Three at once: one on the connection that served /first, two on pre-opened ones
      // that never carried a request. Every one of them meets a socket the server closes.
      const bodies = await Promise.all([1, 2, 3].map(() => get(http, `${s.url}/`)));
      assert.deepEqual(bodies, ['ok GET', 'ok GET', 'ok GET']);
      assert.equal(stale.size, 0, 'each stale socket was used and closed');
      const st = http.stats();
      assert.equal(st.retries, 3);
      assert.deepEqual(st.errors, {});
      assert.equal(st.connections, 3, 'each retry reopened its own connection');
    });

    test(`${via}: the retry goes on a newly opened socket, never on another idle connection`, async () => {
      const { s, stale, cue } = await staleOnCue();
      await using http = createHttpPool({ connections: 3, minConnections: 3 });
      assert.equal(await get(http, `${s.url}/first`), 'ok GET');
      await s.until(() => s.open.size === 3, 'three connections');
      await turnsUntil(() => http.stats().idle === 3, 'three idle connections');
      const before = new Set(s.open);
      cue();
      assert.equal(await get(http, `${s.url}/`), 'ok GET');
      // The two other idle connections are as stale as the one that failed: a retry on
      // either would have failed as well. They were not touched.
      assert.equal(stale.size, 2);
      const fresh = [...s.open].filter((x) => !before.has(x));
      assert.equal(fresh.length, 1, 'one socket opened for the retry');
      assert.equal(s.served(fresh[0]!), 1);
      const st = http.stats();
      assert.equal(st.retries, 1);
      assert.equal(st.opened, 4);
      assert.equal(st.connections, 3);
    });
  }

  test('a connection opened for the request that the server closes at once is not retried', async () => {
    // Every socket is closed as its first request arrives: no retry can help, and one
    // attempt on a newly opened socket is all a request gets.
    const s = await countingServer((_req, _res, socket) => socket.destroy());
    servers.push(s);
    await using http = createHttpPool({ connections: 1 });
    await assert.rejects(http.request(`${s.url}/`), (e: unknown) =>
      isWeirError(e, 'ERR_HTTP_SOCKET'),
    );
    assert.equal(s.accepted(), 1);
    assert.equal(http.stats().retries, 0);
  });

  test('a non-idempotent request on a stale socket is not replayed', async () => {
    const { s, cue } = await staleOnCue();
    await using http = createHttpPool({ connections: 1 });
    assert.equal(await GET['pool.request'](http, `${s.url}/`), 'ok GET');
    cue();
    await assert.rejects(http.request(`${s.url}/`, { method: 'POST', body: 'x' }), (e: unknown) =>
      isWeirError(e, 'ERR_HTTP_SOCKET'),
    );
    assert.equal(http.stats().retries, 0);
  });
});
