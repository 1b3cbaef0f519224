import assert from 'node:assert/strict';
import type { LookupAddress } from 'node:dns';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import { createHttpPool, type HttpLookupFunction } from '../../src/http/index.js';
import { FakeClock } from '../../src/internal/clock.js';
import { isWeirError } from '../../src/internal/errors.js';

// Servers on 127.0.0.1 and 127.0.0.2 (both loopback on Linux) on one port, so that one
// origin (`http://svc.test:PORT`) can move from one address to the other. 127.0.0.3 has
// nothing listening on that port: connecting there is refused.
const closers: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of closers) await c();
});

function listenOn(host: string, port: number, name: string): Promise<number> {
  const server = http.createServer({ keepAlive: true }, (req, res) => {
    req.resume();
    res.end(name);
  });
  server.keepAliveTimeout = 60_000;
  closers.push(
    () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  );
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });
}

async function twoServers(): Promise<number> {
  const port = await listenOn('127.0.0.1', 0, 'one');
  await listenOn('127.0.0.2', port, 'two');
  return port;
}

/** A resolver the test controls: answers `addresses` and counts its calls. */
function controlledLookup(initial: string[]): {
  lookup: HttpLookupFunction;
  set(addresses: string[]): void;
  calls: () => number;
} {
  let current = initial;
  let calls = 0;
  return {
    lookup: (hostname, _options, callback) => {
      calls++;
      if (hostname !== 'svc.test') {
        callback(Object.assign(new Error('not found'), { code: 'ENOTFOUND' }), []);
        return;
      }
      const answer: LookupAddress[] = current.map((address) => ({ address, family: 4 }));
      setImmediate(() => callback(null, answer));
    },
    set: (addresses) => {
      current = addresses;
    },
    calls: () => calls,
  };
}

const text = async (p: Promise<{ body: { text(): Promise<string> } }>) => (await p).body.text();

describe('the DNS cache', () => {
  test('an address change reaches new connections after the TTL, and retired ones are replaced there', async () => {
    const port = await twoServers();
    const dns = controlledLookup(['127.0.0.1']);
    const clock = new FakeClock();
    await using pool = createHttpPool({
      connections: 4,
      maxLifetimeMs: 60_000,
      idleTimeoutMs: 1_000_000,
      dns: { ttlMs: 30_000, lookup: dns.lookup },
      clock,
    });
    const url = `http://svc.test:${port}/`;
    // Four at once: four connections, one lookup shared by all.
    const first = await Promise.all(Array.from({ length: 4 }, () => text(pool.request(url))));
    assert.deepEqual(first, ['one', 'one', 'one', 'one']);
    assert.equal(pool.stats().opened, 4);
    assert.equal(dns.calls(), 1);

    dns.set(['127.0.0.2']);
    // Within the TTL nothing changes: the connections are reused.
    await clock.advance(10_000);
    assert.equal(await text(pool.request(url)), 'one');
    assert.equal(dns.calls(), 1);

    // Past the TTL and past the connections' lifetime (60 s, up to 10% jitter): they
    // retire, and the ones opened in their place resolve afresh and go to the new address.
    await clock.advance(60_000);
    assert.equal(pool.stats().connections, 0, 'retired at maxLifetimeMs');
    const later = await Promise.all(Array.from({ length: 4 }, () => text(pool.request(url))));
    assert.deepEqual(later, ['two', 'two', 'two', 'two']);
    assert.equal(dns.calls(), 2);
    assert.equal(pool.stats().origins[0]!.origin, `http://svc.test:${port}`);
  });

  test('per-address failover: a refused address is skipped now and tried last afterwards', async () => {
    const port = await twoServers();
    const dns = controlledLookup(['127.0.0.3', '127.0.0.1']);
    await using pool = createHttpPool({ dns: { lookup: dns.lookup }, connections: 2 });
    const url = `http://svc.test:${port}/`;
    assert.equal(await text(pool.request(url)), 'one');
    assert.equal(pool.stats().errors.ERR_HTTP_CONNECT, undefined, 'no request failed');
    // The cache now lists the refusing address last.
    const cache = pool.originPool(url).network.dns!;
    const order = await new Promise<LookupAddress[]>((resolve, reject) =>
      cache.lookup('svc.test', { all: true }, (e, a) =>
        e === null ? resolve(a as LookupAddress[]) : reject(e),
      ),
    );
    assert.deepEqual(
      order.map((a) => a.address),
      ['127.0.0.1', '127.0.0.3'],
    );
    const both = await Promise.all([text(pool.request(url)), text(pool.request(url))]);
    assert.deepEqual(both, ['one', 'one']);
    assert.equal(dns.calls(), 1);
  });

  test('every address refusing: ERR_HTTP_CONNECT, and the name is resolved again next time', async () => {
    const port = await twoServers();
    const dns = controlledLookup(['127.0.0.3']);
    await using pool = createHttpPool({ dns: { lookup: dns.lookup, ttlMs: 60_000 } });
    const url = `http://svc.test:${port}/`;
    await assert.rejects(pool.request(url), (e: unknown) => isWeirError(e, 'ERR_HTTP_CONNECT'));
    assert.equal(dns.calls(), 1);
    dns.set(['127.0.0.3', '127.0.0.2']);
    assert.equal(await text(pool.request(url)), 'two');
    assert.equal(dns.calls(), 2, 'the failed answer was not kept for its TTL');
    assert.equal(pool.stats().connections, 1);
  });

  test('a name that does not resolve fails with ERR_HTTP_CONNECT naming ENOTFOUND', async () => {
    const dns = controlledLookup([]);
    await using pool = createHttpPool({ dns: { lookup: dns.lookup } });
    await assert.rejects(pool.request('http://other.test:1/'), (e: unknown) => {
      assert.ok(isWeirError(e, 'ERR_HTTP_CONNECT'));
      assert.match((e as Error).message, /ENOTFOUND/);
      return true;
    });
    // An empty answer is a failure too, not a hang.
    await assert.rejects(pool.request('http://svc.test:1/'), (e: unknown) =>
      isWeirError(e, 'ERR_HTTP_CONNECT'),
    );
    assert.equal(pool.stats().connections, 0);
  });

  test('a lookup that throws fails the connection, and dns: false uses no cache', async () => {
    const port = await twoServers();
    await using pool = createHttpPool({
      dns: {
        lookup: () => {
          throw new Error('resolver broke');
        },
      },
    });
    await assert.rejects(pool.request(`http://svc.test:${port}/`), (e: unknown) =>
      isWeirError(e, 'ERR_HTTP_CONNECT'),
    );
    await using direct = createHttpPool({ dns: false });
    assert.equal(await text(direct.request(`http://127.0.0.1:${port}/`)), 'one');
    assert.equal(direct.originPool(`http://127.0.0.1:${port}`).network.dns, null);
  });

  test('bad dns options throw at construction', () => {
    assert.throws(() => createHttpPool({ dns: { ttl: 5 } as never }), /did you mean `ttlMs`/);
    assert.throws(() => createHttpPool({ dns: { ttlMs: -1 } }), RangeError);
    assert.throws(() => createHttpPool({ dns: { lookup: 'x' as never } }), TypeError);
    assert.throws(() => createHttpPool({ dns: true as never }), TypeError);
  });
});
