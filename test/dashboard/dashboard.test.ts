// The dashboard's handler and stream on node:http, on the fake clock: options, the page and
// its CSP, who is let in, what each snapshot reads from the sources, the stream's replay
// from Last-Event-ID, and close().
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, test } from 'node:test';
import vm from 'node:vm';
import { Channel } from '../../src/channel/index.js';
import {
  createDashboard,
  type Dashboard,
  type DashboardOptions,
  type DashboardSnapshot,
} from '../../src/dashboard/index.js';
import { FakeClock } from '../../src/internal/clock.js';
import { createPool } from '../../src/pool/index.js';
import { CircuitBreaker, RateLimiter, Semaphore } from '../../src/resilience/index.js';
import { runScript } from '../helpers/exit.js';
import { fetchText, listen, serve } from './helpers.js';

// biome-ignore lint/suspicious/noExplicitAny: option mistakes made through an `any`
const bad = (o: unknown): any => o;

function expectOptionError(fn: () => unknown, kind: typeof TypeError, message: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof kind, `expected a ${kind.name}, got ${String(e)}`);
    assert.equal((e as { code?: string }).code, 'ERR_DASHBOARD_OPTION');
    assert.match((e as Error).message, message);
    return true;
  });
}

function snapshots(events: { data: string; event: string }[]): DashboardSnapshot[] {
  return events.filter((e) => e.event === 'snapshot').map((e) => JSON.parse(e.data));
}

async function withDashboard(
  options: DashboardOptions,
  run: (d: Dashboard, url: string, clock: FakeClock) => Promise<void>,
): Promise<void> {
  const clock = (options.clock as FakeClock | undefined) ?? new FakeClock();
  const d = createDashboard({ intervalMs: 1000, ...options, clock });
  const s = await serve(d);
  try {
    await run(d, s.url, clock);
  } finally {
    d.close();
    await s.close();
  }
}

// A request and response just rich enough for the handler, to play a remote client.
function fakeExchange(remoteAddress: string, headers: Record<string, string> = {}, url = '/') {
  const req = {
    method: 'GET',
    url,
    headers: { host: '127.0.0.1:8377', ...headers },
    socket: { remoteAddress },
  } as unknown as IncomingMessage;
  let done!: () => void;
  const ended = new Promise<void>((r) => {
    done = r;
  });
  const out = { status: 0, body: '', ended };
  const res = {
    statusCode: 200,
    headersSent: false,
    writableEnded: false,
    destroyed: false,
    setHeader() {},
    end(this: { statusCode: number }, body?: string | Buffer) {
      out.status = this.statusCode;
      out.body = body === undefined ? '' : String(body);
      done();
    },
  } as unknown as ServerResponse;
  return { req, res, out };
}

describe('options', () => {
  test('an unknown option, a bad interval, path or source throws with ERR_DASHBOARD_OPTION', () => {
    expectOptionError(() => createDashboard(bad({ interval: 1000 })), TypeError, /intervalMs/);
    expectOptionError(() => createDashboard(bad(undefined)), TypeError, /object/);
    expectOptionError(() => createDashboard({ intervalMs: 10 }), RangeError, /intervalMs.*>= 50/);
    expectOptionError(() => createDashboard(bad({ intervalMs: '1s' })), TypeError, /intervalMs/);
    expectOptionError(() => createDashboard({ historyMs: -1 }), RangeError, /historyMs/);
    expectOptionError(() => createDashboard({ path: '/dash' }), TypeError, /path/);
    expectOptionError(() => createDashboard(bad({ title: 3 })), TypeError, /title/);
    expectOptionError(() => createDashboard(bad({ authorize: true })), TypeError, /authorize/);
    expectOptionError(() => createDashboard(bad({ pools: { db: {} } })), TypeError, /pools\.db/);
    expectOptionError(() => createDashboard(bad({ channels: [{}] })), TypeError, /channels/);
    expectOptionError(() => createDashboard(bad({ breakers: 5 })), TypeError, /breakers/);
    expectOptionError(() => createDashboard(bad({ limiters: { x: 1 } })), TypeError, /limiters/);
  });
});

describe('the page', () => {
  test('page, script and stylesheet: same origin, under a CSP of default-src self, 20 KB in all', async () => {
    await withDashboard({ title: '<shop>' }, async (_d, url) => {
      const page = await fetchText(url);
      const js = await fetchText(`${url}dashboard.js`);
      const css = await fetchText(`${url}dashboard.css`);
      for (const r of [page, js, css]) {
        assert.equal(r.status, 200);
        assert.match(String(r.headers['content-security-policy']), /default-src 'self'/);
        assert.equal(r.headers['x-content-type-options'], 'nosniff');
      }
      assert.match(String(page.headers['content-type']), /^text\/html/);
      assert.match(String(js.headers['content-type']), /^text\/javascript/);
      assert.match(String(css.headers['content-type']), /^text\/css/);
      const total = [page, js, css].reduce((n, r) => n + Buffer.byteLength(r.body), 0);
      assert.ok(total <= 20 * 1024, `page, script and stylesheet are ${total} bytes`);
      // Nothing inline that default-src 'self' would block, nothing from elsewhere.
      assert.doesNotMatch(page.body, /<script(?![^>]*\ssrc=)[^>]*>/);
      assert.doesNotMatch(page.body, /<style|\sstyle=|\son[a-z]+=/i);
      assert.doesNotMatch(page.body + css.body, /https?:|\/\/[a-z]/i);
      assert.match(page.body, /&lt;shop&gt;/);
      assert.doesNotThrow(() => new vm.Script(js.body));
      const icon = await fetchText(`${url}favicon.ico`);
      assert.equal(icon.status, 204);
    });
  });

  test('under a path: /dash redirects to /dash/, other paths 404 or go to next()', async () => {
    await withDashboard({ path: '/dash/' }, async (_d, url) => {
      const r = await fetchText(`${url}dash`);
      assert.equal(r.status, 308);
      assert.equal(r.headers.location, '/dash/');
      assert.equal((await fetchText(`${url}dash/`)).status, 200);
      assert.equal((await fetchText(`${url}dash/nope`)).status, 404);
      assert.equal((await fetchText(`${url}other`)).status, 404);
    });
  });

  test('only GET and HEAD', async () => {
    const d = createDashboard({ clock: new FakeClock() });
    const { req, res, out } = fakeExchange('127.0.0.1');
    (req as { method: string }).method = 'POST';
    d(req, res);
    await out.ended;
    assert.equal(out.status, 405);
    d.close();
  });
});

describe('who may see it', () => {
  test('without authorize: loopback clients under a loopback Host only', async () => {
    const d = createDashboard({ clock: new FakeClock() });
    for (const [addr, host, status] of [
      ['10.1.2.3', '127.0.0.1:8377', 403],
      ['192.168.0.7', 'localhost:8377', 403],
      ['::ffff:10.0.0.1', 'localhost', 403],
      ['127.0.0.1', 'evil.example:8377', 403], // DNS rebinding
      ['127.0.0.1', 'localhost:8377', 200],
      ['::1', '[::1]:8377', 200],
      ['::ffff:127.0.0.1', '127.0.0.1', 200],
    ] as const) {
      const { req, res, out } = fakeExchange(addr, { host });
      d(req, res);
      await out.ended;
      assert.equal(out.status, status, `${addr} as ${host}`);
      if (status === 403) assert.match(out.body, /authorize/);
    }
    d.close();
  });

  test('with authorize, it alone decides, sync or async; a throwing hook refuses', async () => {
    let verdict: unknown = true;
    const d = createDashboard({
      clock: new FakeClock(),
      authorize: () => {
        if (verdict instanceof Error) throw verdict;
        return verdict as boolean | Promise<boolean>;
      },
    });
    const cases: [unknown, string, number][] = [
      [true, '10.1.2.3', 200],
      [false, '127.0.0.1', 403],
      [Promise.resolve(true), '10.1.2.3', 200],
      [Promise.resolve(false), '10.1.2.3', 403],
      [Promise.reject(new Error('down')), '10.1.2.3', 403],
      [new Error('bug'), '10.1.2.3', 403],
    ];
    for (const [v, addr, status] of cases) {
      verdict = v;
      const { req, res, out } = fakeExchange(addr, { host: 'dash.example.com' });
      d(req, res);
      await out.ended;
      assert.equal(out.status, status, String(v));
    }
    d.close();
  });
});

describe('snapshots', () => {
  test('a pool: used, idle, pending, limit, waits, timeouts and create errors per second', async () => {
    const clock = new FakeClock();
    let fail = false;
    const pool = createPool({
      name: 'db',
      max: 2,
      min: 0,
      acquireTimeoutMs: 100,
      clock,
      statsSampleEvery: 1,
      createRetry: { initialDelayMs: 100, maxDelayMs: 100 },
      create: () => {
        if (fail) throw new Error('refused');
        return {};
      },
    });
    const d = createDashboard({ pools: [pool], intervalMs: 1000, clock });
    let p = d.snapshot().pools[0]!;
    assert.deepEqual(
      [p.name, p.kind, p.used, p.idle, p.pending, p.limit],
      ['db', 'pool', 0, 0, 0, 2],
    );
    // The pool's own health(), as it reports it.
    const h = pool.health();
    assert.deepEqual(p.health, { level: h.level, reasons: h.reasons });
    const a = await pool.acquire();
    const b = await pool.acquire();
    const waits = [pool.acquire(), pool.acquire()].map((w) => w.catch((e: unknown) => e));
    await clock.advance(1000);
    p = d.snapshot().pools[0]!;
    assert.deepEqual([p.used, p.idle, p.pending, p.timeouts], [2, 0, 0, 2]);
    assert.equal(p.timeoutsPerSec, 2);
    for (const w of await Promise.all(waits))
      assert.equal((w as { code: string }).code, 'ERR_POOL_TIMEOUT');
    a.release();
    await clock.advance(1000);
    p = d.snapshot().pools[0]!;
    assert.deepEqual([p.used, p.idle, p.timeoutsPerSec], [1, 1, 0]);
    // Creates that fail in the next interval, retried with backoff until the caller gives up.
    b.destroy();
    fail = true;
    const c = await pool.acquire(); // the idle one
    const failed = pool.acquire({ timeoutMs: 500 }).catch((e: unknown) => e);
    await clock.advance(1000);
    assert.ok((await failed) instanceof Error);
    p = d.snapshot().pools[0]!;
    assert.ok(p.createErrors >= 1, `createErrors ${p.createErrors}`);
    assert.equal(p.createErrorsPerSec, p.createErrors);
    assert.ok(p.waitP99Ms >= p.waitP50Ms);
    c.release();
    d.close();
    await pool.close();
  });

  test('health() is shown when a source has it, and a source that throws is reported alone', async () => {
    const clock = new FakeClock();
    const core = createPool({ name: 'good', create: () => ({}), clock });
    const good = { stats: () => core.stats() }; // a source without health()
    const withHealth = Object.assign(createPool({ name: 'h', create: () => ({}), clock }), {
      health: () => ({
        level: 'degraded',
        reasons: ['wait p99 over 100 ms', { message: 'create errors 2/s' }],
      }),
    });
    const broken = {
      stats: () => {
        throw new Error('stats exploded');
      },
    };
    const d = createDashboard({ pools: { good, h: withHealth, broken }, clock });
    const s = d.snapshot();
    assert.deepEqual(
      s.pools.map((p) => [p.name, p.health]),
      [
        ['good', null],
        ['h', { level: 'degraded', reasons: ['wait p99 over 100 ms', 'create errors 2/s'] }],
      ],
    );
    assert.deepEqual(s.errors, [{ source: 'pools.broken', message: 'stats exploded' }]);
    d.close();
  });

  test('an HTTP pool gives a row per origin, a keyed pool a row per key', () => {
    const clock = new FakeClock();
    const core = createPool({ name: 'x', create: () => ({}), max: 4, clock });
    const stats = core.stats();
    const http = {
      stats: () => ({ origins: [{ origin: 'http://a:80', pool: stats }], total: {} }),
      // As HttpPool.health() and KeyedPool.health() report it: the worst, and each key's own.
      health: () => ({
        level: 'degraded',
        reasons: ['http://a:80: wait p99 120 ms'],
        pools: [
          { key: 'http://a:80', health: { level: 'degraded', reasons: ['wait p99 120 ms'] } },
        ],
      }),
    };
    const keyed = {
      stats: () => ({
        total: {},
        pools: [
          { key: 'eu', stats },
          { key: 'us', stats },
        ],
      }),
    };
    const d = createDashboard({ pools: { api: http, regions: keyed }, clock });
    assert.deepEqual(
      d.snapshot().pools.map((p) => [p.name, p.kind, p.limit, p.health?.reasons ?? null]),
      [
        ['api http://a:80', 'http', 4, ['wait p99 120 ms']],
        ['regions eu', 'keyed', 4, null],
        ['regions us', 'keyed', 4, null],
      ],
    );
    d.close();
  });

  test('breakers: state and time since the last change; channels; limiters and semaphores', async () => {
    const clock = new FakeClock();
    const breaker = new CircuitBreaker({ threshold: 1, halfOpenAfterMs: 5000, clock });
    const ch = new Channel<number>(4);
    ch.trySend(1);
    ch.trySend(2);
    const rendezvous = new Channel<number>(0);
    const receiving = rendezvous.receive();
    const limiter = new RateLimiter({ ratePerSecond: 10, burst: 5, clock });
    limiter.tryAcquire(2);
    const sem = new Semaphore(3);
    const permit = sem.tryAcquire();
    const d = createDashboard({
      breakers: { upstream: breaker },
      channels: { jobs: ch, handoff: rendezvous },
      limiters: { api: limiter, workers: sem },
      clock,
    });
    let b = d.snapshot().breakers[0]!;
    assert.deepEqual(
      [b.name, b.state, b.changedAt, b.retryInMs],
      ['upstream', 'closed', null, null],
    );
    await clock.advance(2000);
    breaker.recordFailure(new Error('x'));
    await clock.advance(1000);
    b = d.snapshot().breakers[0]!;
    assert.equal(b.state, 'open');
    assert.equal(b.sinceMs, 1000);
    assert.equal(b.retryInMs, 4000);
    assert.equal(d.snapshot().at - (b.changedAt ?? 0), 1000);
    const [jobs, handoff] = d.snapshot().channels;
    assert.deepEqual(
      [jobs!.length, jobs!.capacity, jobs!.fill, jobs!.closed, jobs!.blockedSenders],
      [2, 4, 0.5, false, 0],
    );
    assert.deepEqual([handoff!.fill, handoff!.blockedReceivers], [0, 1]);
    const [api, workers] = d.snapshot().limiters;
    assert.deepEqual([api!.kind, api!.limit, api!.waiting], ['rate', null, 0]);
    assert.ok(api!.available >= 3 && api!.available <= 5);
    assert.deepEqual([workers!.kind, workers!.available, workers!.limit], ['semaphore', 2, 3]);
    permit?.release();
    rendezvous.close();
    await receiving;
    d.close();
    assert.equal(breaker.listenerCount('stateChange'), 0, 'close() stops watching the breaker');
  });
});

describe('the stream', () => {
  test('a new client gets the history, then one snapshot per interval, serialised once for all', async (t) => {
    await withDashboard({ historyMs: 3000 }, async (d, url, clock) => {
      await clock.advance(1000);
      await clock.advance(1000);
      const a = await listen(`${url}events`);
      assert.match(String(a.res.headers['content-type']), /^text\/event-stream/);
      await a.until(3);
      const ids = snapshots(a.events).map((s) => s.id);
      assert.equal(ids.length, 3);
      assert.ok(ids[0]! < ids[1]! && ids[1]! < ids[2]!, `ids increase: ${ids}`);
      const b = await listen(`${url}events`);
      await b.until(3);
      assert.equal(d.clients, 2);
      const stringify = t.mock.method(JSON, 'stringify');
      await clock.advance(1000);
      await a.until(4);
      await b.until(4);
      assert.equal(stringify.mock.callCount(), 1, 'one JSON.stringify per snapshot');
      stringify.mock.restore();
      assert.equal(a.events[3]!.data, b.events[3]!.data);
      // The ring is bounded: historyMs / intervalMs snapshots.
      for (let i = 0; i < 5; i++) await clock.advance(1000);
      const c = await listen(`${url}events`);
      await c.until(3);
      await clock.advance(0);
      assert.equal(snapshots(c.events).length, 3);
      assert.equal(snapshots(c.events)[2]!.id, d.snapshot().id);
      for (const l of [a, b, c]) l.close();
    });
  });

  test('Last-Event-ID: the snapshots after it; the latest at once when up to date; all when unknown', async () => {
    await withDashboard({}, async (d, url, clock) => {
      for (let i = 0; i < 4; i++) await clock.advance(1000);
      const all = await listen(`${url}events`);
      await all.until(5);
      const ids = snapshots(all.events).map((s) => s.id);
      const after2 = await listen(`${url}events`, { 'Last-Event-ID': String(ids[2]) });
      await after2.until(2);
      assert.deepEqual(
        snapshots(after2.events).map((s) => s.id),
        ids.slice(3),
      );
      const upToDate = await listen(`${url}events`, { 'Last-Event-ID': String(ids[4]) });
      await upToDate.until(1);
      assert.deepEqual(
        snapshots(upToDate.events).map((s) => s.id),
        [d.snapshot().id],
      );
      // A tab taking over as leader asks by query (EventSource cannot set headers).
      const byQuery = await listen(`${url}events?lastEventId=${ids[3]}`);
      await byQuery.until(1);
      assert.deepEqual(
        snapshots(byQuery.events).map((s) => s.id),
        [ids[4]],
      );
      // An id from before a restart of the server: the whole history.
      const unknown = await listen(`${url}events`, { 'Last-Event-ID': '12' });
      await unknown.until(5);
      assert.deepEqual(
        snapshots(unknown.events).map((s) => s.id),
        ids,
      );
      await clock.advance(1000);
      await upToDate.until(2);
      assert.ok(snapshots(upToDate.events)[1]!.id > ids[4]!);
      for (const l of [all, after2, upToDate, byQuery, unknown]) l.close();
    });
  });

  test('snapshot.json holds the latest snapshot', async () => {
    await withDashboard({ title: 'shop' }, async (d, url, clock) => {
      await clock.advance(1000);
      const r = await fetchText(`${url}snapshot.json`);
      assert.deepEqual(JSON.parse(r.body), d.snapshot());
      assert.equal(d.snapshot().title, 'shop');
    });
  });

  test('close() stops the interval, ends the streams and answers 503; idempotent', async () => {
    const clock = new FakeClock();
    const d = createDashboard({ clock });
    const s = await serve(d);
    const l = await listen(`${s.url}events`);
    await l.until(1);
    assert.ok(clock.pendingTimers > 0);
    d.close();
    await l.ended;
    assert.equal(clock.pendingTimers, 0, 'no timer left');
    assert.equal(d.clients, 0);
    const id = d.snapshot().id;
    await clock.advance(5000);
    assert.equal(d.snapshot().id, id);
    assert.equal((await fetchText(s.url)).status, 503);
    assert.equal((await fetchText(`${s.url}events`)).status, 503);
    d.close();
    d[Symbol.dispose]();
    await s.close();
  });

  test('a client that leaves is forgotten', async () => {
    await withDashboard({}, async (d, url, clock) => {
      const l = await listen(`${url}events`);
      await l.until(1);
      assert.equal(d.clients, 1);
      l.close();
      await l.ended;
      while ((d.clients as number) !== 0) await clock.advance(0);
      await clock.advance(1000);
      assert.equal(d.clients, 0);
    });
  });
});

describe('frameworks', () => {
  test('Express-style: mounted under a prefix, calls next() for what is not its own', async () => {
    const d = createDashboard({ path: '/ops/dashboard/', clock: new FakeClock() });
    const nextCalls: string[] = [];
    // What app.use('/ops', handler) does: strip the mount from url, keep originalUrl.
    const app = (req: IncomingMessage, res: ServerResponse): void => {
      const original = req.url ?? '/';
      if (original.startsWith('/ops')) {
        Object.assign(req, { originalUrl: original, url: original.slice(4) || '/' });
        d(req, res, () => {
          nextCalls.push(original);
          res.statusCode = 418;
          res.end('next');
        });
      } else {
        res.statusCode = 404;
        res.end();
      }
    };
    const s = await serve(app);
    const page = await fetchText(`${s.url}ops/dashboard/`);
    assert.equal(page.status, 200);
    assert.match(page.body, /src="\/ops\/dashboard\/dashboard\.js"/);
    assert.equal((await fetchText(`${s.url}ops/dashboard/dashboard.js`)).status, 200);
    assert.equal((await fetchText(`${s.url}ops/other`)).status, 418);
    assert.deepEqual(nextCalls, ['/ops/other']);
    const l = await listen(`${s.url}ops/dashboard/events`);
    await l.until(1);
    l.close();
    d.close();
    await s.close();
  });

  test('Fastify-style: the raw request and response of a hijacked reply', async () => {
    const d = createDashboard({ clock: new FakeClock() });
    // fastify.get('/*', (request, reply) => { reply.hijack(); d(request.raw, reply.raw) })
    const route = (request: { raw: IncomingMessage }, reply: { raw: ServerResponse }): void =>
      d(request.raw, reply.raw);
    const s = await serve((raw, res) => route({ raw }, { raw: res }));
    assert.equal((await fetchText(s.url)).status, 200);
    const l = await listen(`${s.url}events`);
    await l.until(1);
    l.close();
    d.close();
    await s.close();
  });
});

test('its timers never keep the process alive', async () => {
  const exit = await runScript(`
    import { createDashboard } from 'weir/dashboard';
    import { createPool } from 'weir/pool';
    const pool = createPool({ name: 'db', create: () => ({}) });
    const d = createDashboard({ pools: [pool], intervalMs: 50 });
    console.log(d.snapshot().pools[0].name);
  `);
  assert.equal(exit.hung, false, exit.stderr);
  assert.equal(exit.code, 0, exit.stderr);
  assert.equal(exit.stdout.trim(), 'db');
});
