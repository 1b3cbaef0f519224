// A balanced pool's requests aborted in every phase and the pool closed under them leave
// no request counted in flight, no socket and no timer; its options are checked up front.
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { describe, test } from 'node:test';
import {
  type BalancedHttpPool,
  type BalancedHttpPoolOptions,
  createBalancedHttpPool,
} from '../../src/http/index.js';
import { isWeirError } from '../../src/internal/errors.js';
import { balancedPools, Lab } from './latency-lab.js';
import { httpServer } from './servers.js';

let lab: Lab;
const balanced = balancedPools(5, () => lab);

const tick = () => new Promise((r) => setImmediate(r));
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await tick();
}

/** Nothing left in flight: not in the balancer, not in the pool of connections. */
function assertQuiet(pool: BalancedHttpPool): void {
  const st = pool.stats();
  assert.deepEqual(
    st.endpoints.map((e) => e.pending),
    st.endpoints.map(() => 0),
  );
  assert.equal(st.http.inFlight, 0);
  assert.equal(st.http.queued, 0);
}

describe('abort in every phase', () => {
  test('before the request is sent: rejects with the reason at once', async () => {
    lab = new Lab();
    const a = await lab.serve('a', 5);
    const pool = balanced({ eu: [a.url] });
    const reason = new Error('stop');
    await assert.rejects(pool.request('/', { signal: AbortSignal.abort(reason) }), reason);
    assert.equal(a.hits, 0);
    assertQuiet(pool);
  });

  test('while waiting for a connection', async () => {
    lab = new Lab();
    const a = await lab.serve('a', 50);
    const pool = balanced({ eu: [a.url] }, { connections: 1 });
    const first = pool.request('/');
    await until(() => lab.waiting === 1);
    const ac = new AbortController();
    const second = pool.request('/', { signal: ac.signal });
    await tick();
    assert.equal(pool.stats().endpoints[0]!.pending, 2);
    ac.abort(new Error('gave up'));
    await assert.rejects(second, /gave up/);
    assert.equal(pool.stats().endpoints[0]!.pending, 1);
    await lab.clock.advance(50);
    await (await first).body.text();
    assertQuiet(pool);
  });

  test('while the server holds the response', async () => {
    lab = new Lab();
    const a = await lab.serve('a', 1_000);
    const pool = balanced({ eu: [a.url] });
    const ac = new AbortController();
    const p = pool.request('/', { signal: ac.signal });
    await until(() => lab.waiting === 1);
    ac.abort(new Error('late'));
    await assert.rejects(p, /late/);
    assertQuiet(pool);
    // An abort is the caller's, not the endpoint's: nothing counted against it.
    const e = pool.stats().endpoints[0]!;
    assert.equal(e.failures, 0);
    assert.equal(e.consecutive, 0);
    await lab.clock.advance(1_000);
  });

  test('while reading the body', async () => {
    lab = new Lab();
    // Headers and a first chunk, then the rest of the body never comes.
    const held: ServerResponse[] = [];
    const s = await httpServer((_req, res) => {
      res.writeHead(200);
      res.write('part');
      held.push(res);
    });
    try {
      const pool = balanced({ eu: [s.url] });
      const ac = new AbortController();
      const res = await pool.request('/', { signal: ac.signal });
      const text = res.body.text();
      ac.abort(new Error('enough'));
      await assert.rejects(text, /enough/);
      assertQuiet(pool);
    } finally {
      for (const r of held) r.destroy();
      await s.close();
    }
  });

  test('while a request is being sent to another endpoint after a refusal', async () => {
    lab = new Lab();
    const a = await lab.serve('a', 5);
    const b = await lab.serve('b', 1_000);
    await lab.stop('a');
    const pool = balanced({ eu: [a.url], us: [b.url] }, { prefer: 'eu' });
    const ac = new AbortController();
    const p = pool.request('/', { signal: ac.signal });
    await until(() => lab.waiting === 1);
    assert.equal(pool.stats().retries, 1);
    ac.abort(new Error('no more'));
    await assert.rejects(p, /no more/);
    assertQuiet(pool);
    await lab.clock.advance(1_000);
  });
});

describe('close', () => {
  test('close() lets a request in flight finish, then refuses new ones; no socket left', async () => {
    lab = new Lab();
    const a = await lab.serve('a', 20);
    const pool = balanced({ eu: [a.url] });
    const p = pool.request('/');
    await until(() => lab.waiting === 1);
    const closing = pool.close();
    await assert.rejects(pool.request('/'), (e: unknown) => isWeirError(e, 'ERR_HTTP_CLOSED'));
    await lab.clock.advance(20);
    assert.equal(await (await p).body.text(), 'a');
    await closing;
    assert.equal(pool.stats().http.connections, 0);
    await assert.rejects(
      new Promise((resolve, reject) =>
        pool.dispatcher.dispatch({ origin: 'http://service', path: '/', method: 'GET' }, {
          onError: reject,
          onComplete: resolve,
        } as never),
      ),
      (e: unknown) => isWeirError(e, 'ERR_HTTP_CLOSED'),
    );
  });

  test('destroy() fails a request in flight at once', async () => {
    lab = new Lab();
    const a = await lab.serve('a', 1_000);
    const pool = balanced({ eu: [a.url] });
    const p = pool.request('/');
    await until(() => lab.waiting === 1);
    await pool.destroy();
    await assert.rejects(p);
    assertQuiet(pool);
    assert.equal(pool.stats().http.connections, 0);
    await lab.clock.advance(1_000);
  });

  test('await using closes the pool', async () => {
    lab = new Lab();
    const a = await lab.serve('a', 0);
    let closed: BalancedHttpPool | undefined;
    {
      await using pool = createBalancedHttpPool({ upstreams: { eu: [a.url] }, clock: lab.clock });
      assert.equal(await lab.one(pool), 'a');
      assert.equal(pool.stats().http.connections, 1);
      closed = pool;
    }
    assert.equal(closed.stats().http.connections, 0);
  });
});

describe('options', () => {
  const upstreams = { eu: ['http://127.0.0.1:1'] };
  test('are checked at construction, naming the option', () => {
    lab = new Lab();
    const make = (o: unknown) => () => createBalancedHttpPool(o as BalancedHttpPoolOptions);
    assert.throws(make({ upstreams, routng: 'round-robin' }), /Unknown option `routng`.*`routing`/);
    assert.throws(make({ upstreams, routing: 'random' }), /`routing`/);
    assert.throws(make({ upstreams, prefer: 'us' }), RangeError);
    assert.throws(make({ upstreams: { eu: ['http://a:1', 'http://a:1/'] } }), /listed twice/);
    assert.throws(make({ upstreams: { eu: ['http://a:1/v1'] } }), /without a path/);
    assert.throws(make({ upstreams: { eu: [] } }), /at least one endpoint/);
    assert.throws(make({ upstreams: ['http://a:1'] }), /`upstreams`/);
    assert.throws(make({}), /`upstreams`/);
    assert.throws(make({ upstreams, outlier: { maxEjectionPercent: 120 } }), /maxEjectionPercent/);
    assert.throws(make({ upstreams, outlier: { fall: 3 } }), /Unknown option `fall`/);
    assert.throws(make({ upstreams, regionSwitchRatio: 0.5 }), /regionSwitchRatio/);
    assert.throws(make({ upstreams, exploreShare: 2 }), /exploreShare/);
    assert.throws(make({ upstreams, panic: 'hang' }), /`panic`/);
    assert.throws(make({ upstreams, connections: 0 }), /`connections`/);
  });

  test('a request is addressed by path', async () => {
    lab = new Lab();
    const pool = balanced(upstreams);
    await assert.rejects(pool.request('http://elsewhere/x'), /path starting with/);
  });
});
