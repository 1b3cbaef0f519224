import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { Connection } from '../../src/http/connection.js';
import { createHttpPool, type HttpPool } from '../../src/http/index.js';
import { FakeClock } from '../../src/internal/clock.js';
import { type CountingServer, countingServer, turnsUntil } from './counting-server.js';

const servers: CountingServer[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

async function hello(): Promise<CountingServer> {
  const s = await countingServer((_req, res) => res.end('hello'));
  servers.push(s);
  return s;
}

/** Every connection the pool of `url` creates from now on. */
function created(http: HttpPool, url: string): Connection[] {
  const out: Connection[] = [];
  http.originPool(url).pool.on('create', (e) => out.push(e.resource));
  return out;
}

describe('no socket outlives its pool', () => {
  for (const how of ['close', 'destroy'] as const) {
    test(`after ${how}(), pre-opened connections never used close their sockets too`, async () => {
      const s = await hello();
      const http = createHttpPool({ connections: 4, minConnections: 4 });
      const conns = created(http, s.url);
      assert.equal(await (await http.request(`${s.url}/`)).body.text(), 'hello');
      await s.until(() => s.open.size === 4, 'four connections');
      await turnsUntil(() => http.stats().idle === 4, 'four idle connections');
      const unused = [...s.open].filter((x) => s.served(x) === 0);
      assert.equal(unused.length, 3, 'three never carried a request');
      await (how === 'close' ? http.close() : http.destroy());
      assert.equal(http.stats().connections, 0);
      assert.ok(
        conns.every((c) => c.socket.destroyed),
        'every socket of the pool is closed when it resolves',
      );
      await s.until(() => s.open.size === 0, 'the server to see every socket closed');
    });
  }

  test('a never-used connection reaped as idle closes its socket', async () => {
    const s = await hello();
    const clock = new FakeClock();
    await using http = createHttpPool({ connections: 3, idleTimeoutMs: 3_000, clock });
    const conns = created(http, s.url);
    // Three requests that give up while their connections are being opened: the
    // connections arrive for nobody and sit idle, never used.
    const controllers = [1, 2, 3].map(() => new AbortController());
    const gaveUp = controllers.map((c) =>
      http.request(`${s.url}/`, { signal: c.signal }).catch((e: unknown) => e),
    );
    for (const c of controllers) c.abort(new Error('gave up'));
    for (const e of await Promise.all(gaveUp)) assert.equal((e as Error).message, 'gave up');
    await s.until(() => s.open.size === 3, 'three connections');
    await turnsUntil(() => http.stats().idle === 3, 'three idle connections');
    await clock.advance(5_000);
    assert.equal(http.stats().connections, 0, 'reaped');
    await turnsUntil(() => conns.every((c) => c.socket.destroyed), 'their sockets closed');
    await s.until(() => s.open.size === 0, 'the server to see them closed');
    assert.equal(s.accepted(), 3);
  });

  test('connections still being opened at close() are abandoned with their sockets', async () => {
    const s = await hello();
    const http = createHttpPool({ connections: 8, minConnections: 8 });
    http.originPool(s.url);
    // Some connects are complete, others on their way.
    await s.until(() => s.accepted() >= 1, 'a first connection');
    await http.close();
    assert.equal(http.stats().connections, 0);
    await s.until(() => s.open.size === 0, 'the server to see every socket closed');
  });
});
