// The dashboard in a real browser (headless Chromium): the page follows a pool's real state
// by the first snapshot after a change, shows "reconnecting" while its server is down and
// recovers without a reload, keeps seven tabs live on one stream (Web Locks, and the
// heartbeat election without them), and leaves a screenshot for the record.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { Channel } from '../../src/channel/index.js';
import { createDashboard } from '../../src/dashboard/index.js';
import { FakeClock } from '../../src/internal/clock.js';
import { BrokenResourceError, createPool, type Lease } from '../../src/pool/index.js';
import { CircuitBreaker, RateLimiter, Semaphore } from '../../src/resilience/index.js';
import { until } from '../helpers/services.js';
import { launch, needChromium, poolField, shows, status } from './browser.js';
import { serve } from './helpers.js';

const skip = needChromium();
const root = new URL('../../', import.meta.url).pathname;

describe('the dashboard in Chromium', { skip }, () => {
  test("the page follows the pool's real state by the first snapshot after each change", async () => {
    const clock = new FakeClock();
    const pool = createPool({ name: 'db', max: 4, min: 0, create: () => ({}) });
    const d = createDashboard({ pools: [pool], clock, intervalMs: 1000 });
    const s = await serve(d);
    const browser = await launch();
    try {
      const page = await browser.open(s.url);
      await status(page, 'live');
      const leases: Lease<object>[] = [];
      const waiting: Promise<unknown>[] = [];
      const steps: (() => Promise<void>)[] = [
        async () => {
          for (let i = 0; i < 3; i++) leases.push(await pool.acquire());
        },
        async () => {
          leases.push(await pool.acquire());
          for (let i = 0; i < 2; i++) waiting.push(pool.acquire().then((l) => leases.push(l)));
        },
        async () => {
          for (const l of leases.splice(0, 3)) l.release();
          await Promise.all(waiting.splice(0));
        },
        async () => {
          for (const l of leases.splice(0)) l.release();
        },
      ];
      for (const step of steps) {
        await step();
        await clock.advance(1000); // one interval: exactly one new snapshot
        const id = d.snapshot().id;
        await shows(page, id);
        const st = pool.stats();
        const onPage = await Promise.all(
          ['used', 'idle', 'pending', 'limit'].map((f) => poolField(page, 'db', f)),
        );
        assert.deepEqual(onPage, [st.active, st.idle, st.pending, st.max].map(String));
        assert.equal(await page.evaluate('document.body.dataset.snapshot'), String(id));
      }
      assert.equal(
        await page.locator('[data-pool="db"] svg[data-chart="used"] polyline').count(),
        3,
      );
    } finally {
      d.close();
      await s.close();
      await browser.close();
      await pool.close();
    }
  });

  test('"reconnecting" while the server is down, live again without a reload once it is back', async () => {
    const clock = new FakeClock();
    const pool = createPool({ name: 'db', max: 4, create: () => ({}) });
    let d = createDashboard({ pools: [pool], clock, intervalMs: 1000 });
    let s = await serve(d);
    const port = s.port;
    const browser = await launch();
    try {
      const page = await browser.open(s.url);
      await status(page, 'live');
      const before = d.snapshot().id;
      await page.evaluate('window.__sameDocument = true');
      // The server goes away: its streams end, its port refuses.
      d.close();
      await s.close();
      await status(page, 'reconnecting');
      assert.equal(await page.textContent('#status'), 'reconnecting');
      // And comes back, restarted, with the pool in another state.
      const a = await pool.acquire();
      const b = await pool.acquire();
      d = createDashboard({ pools: [pool], clock, intervalMs: 1000 });
      s = await serve(d, port);
      await status(page, 'live');
      await clock.advance(1000);
      const id = d.snapshot().id;
      assert.ok(id > before, 'ids grow across the restart');
      await shows(page, id);
      assert.equal(await poolField(page, 'db', 'used'), '2');
      assert.equal(await page.evaluate('window.__sameDocument'), true, 'no reload');
      a.release();
      b.release();
    } finally {
      d.close();
      await s.close();
      await browser.close();
      await pool.close();
    }
  });

  test('a stream refused with 503 (the dashboard closed, its server up) is retried until it is back', async () => {
    const clock = new FakeClock();
    const pool = createPool({ name: 'db', max: 4, create: () => ({}) });
    let d = createDashboard({ pools: [pool], clock, intervalMs: 1000 });
    const s = await serve((req, res) => d(req, res));
    const browser = await launch();
    try {
      const page = await browser.open(s.url);
      await status(page, 'live');
      await page.evaluate('window.__sameDocument = true');
      const old = d;
      old.close(); // the stream ends; EventSource reconnects and gets 503, which it gives up on
      await status(page, 'reconnecting');
      const lease = await pool.acquire();
      d = createDashboard({ pools: [pool], clock, intervalMs: 1000 });
      await status(page, 'live');
      await clock.advance(1000);
      await shows(page, d.snapshot().id);
      assert.equal(await poolField(page, 'db', 'used'), '1');
      assert.equal(await page.evaluate('window.__sameDocument'), true, 'no reload');
      lease.release();
    } finally {
      d.close();
      await s.close();
      await browser.close();
      await pool.close();
    }
  });

  for (const election of ['locks', 'heartbeat'] as const) {
    test(`seven tabs stay live on one event stream (${election} election)`, async () => {
      const clock = new FakeClock();
      const pool = createPool({ name: 'db', max: 8, create: () => ({}) });
      const d = createDashboard({ pools: [pool], clock, intervalMs: 1000 });
      const s = await serve(d);
      // Without Web Locks, the tabs elect their leader by heartbeats over BroadcastChannel.
      const browser = await launch(
        election === 'heartbeat'
          ? "Object.defineProperty(Navigator.prototype, 'locks', { get() { return undefined; } });"
          : undefined,
      );
      try {
        for (let i = 0; i < 5; i++) await clock.advance(1000); // some history for the charts
        const pages: Page[] = [];
        for (let i = 0; i < 7; i++) pages.push(await browser.open(s.url));
        const leaders = async (): Promise<number> =>
          (await Promise.all(pages.map((p) => p.evaluate('document.body.dataset.role')))).filter(
            (r) => r === 'leader',
          ).length;
        await until(
          async () => d.clients === 1 && (await leaders()) === 1,
          'one leader and one stream for seven tabs',
          800,
          25,
        );
        // A snapshot for all: the tabs opened first may have called the stream stale by now.
        await clock.advance(1000);
        for (const p of pages) {
          await shows(p, d.snapshot().id);
          await status(p, 'live');
        }
        // Tabs opened after the leader got its history from it: the same charts everywhere.
        const points = await Promise.all(
          pages.map((p) =>
            p.evaluate(
              `document.querySelector('[data-pool="db"] svg[data-chart="used"] polyline.s0').getAttribute('points').split(' ').length`,
            ),
          ),
        );
        assert.deepEqual(points, Array(7).fill(7), `points per chart: ${points}`);
        for (const p of pages) {
          assert.equal(await p.evaluate('document.body.dataset.election'), election);
        }
        const roles = await Promise.all(pages.map((p) => p.evaluate('document.body.dataset.role')));
        assert.equal(roles.filter((r) => r === 'leader').length, 1, `roles: ${roles}`);
        const lease = await pool.acquire();
        await clock.advance(1000);
        for (const p of pages) {
          await shows(p, d.snapshot().id);
          assert.equal(await poolField(p, 'db', 'used'), '1');
        }
        assert.equal(d.clients, 1);
        // The leader's tab closes: another takes over, resuming from its last id.
        const leader = pages[roles.indexOf('leader')]!;
        const rest = pages.filter((p) => p !== leader);
        await leader.close();
        lease.release();
        await until(
          async () =>
            d.clients === 1 &&
            (await Promise.all(rest.map((p) => p.evaluate('document.body.dataset.role')))).includes(
              'leader',
            ),
          'a new leader',
          800,
          25,
        );
        await clock.advance(1000);
        for (const p of rest) {
          await shows(p, d.snapshot().id);
          assert.equal(await poolField(p, 'db', 'used'), '0');
        }
        // Web Locks hand over exactly; heartbeats may briefly elect two, and settle on one.
        if (election === 'locks') assert.equal(d.clients, 1);
        else await until(() => d.clients === 1, 'one stream again', 800, 25);
      } finally {
        d.close();
        await s.close();
        await browser.close();
        await pool.close();
      }
    });
  }

  test('a screenshot of a dashboard under load, for the record', async (t) => {
    const clock = new FakeClock();
    const sleep = (ms: number): Promise<void> =>
      new Promise((r) => {
        clock.setTimeout(r, ms);
      });
    let outage = false;
    const orders = createPool({
      name: 'orders-db',
      min: 2,
      max: 10,
      acquireTimeoutMs: 400,
      statsSampleEvery: 1,
      clock,
      create: () => ({}),
    });
    const payments = createPool({
      name: 'payments-api',
      min: 1,
      max: 6,
      acquireTimeoutMs: 800,
      statsSampleEvery: 1,
      clock,
      createRetry: { initialDelayMs: 200, maxDelayMs: 1000 },
      create: async () => {
        await sleep(30);
        if (outage) throw new Error('connection refused');
        return {};
      },
    });
    // A health() as the metrics module's will be: the page shows whatever a source reports.
    const ordersWithHealth = Object.assign(orders, {
      health: () => {
        const st = orders.stats();
        const reasons: string[] = [];
        if (st.active / st.max >= 0.8) reasons.push(`utilisation ${st.active}/${st.max}`);
        if (st.waitMs.p99 > 100) reasons.push(`wait p99 ${Math.round(st.waitMs.p99)} ms`);
        return { level: reasons.length ? 'degraded' : 'ok', reasons };
      },
    });
    const breaker = new CircuitBreaker({ threshold: 3, halfOpenAfterMs: 5000, clock });
    const jobs = new Channel<number>(64);
    const limiter = new RateLimiter({ ratePerSecond: 50, burst: 20, clock });
    const workers = new Semaphore(8);
    const d = createDashboard({
      title: 'checkout service',
      pools: { 'orders-db': ordersWithHealth, 'payments-api': payments },
      breakers: { payments: breaker },
      channels: { jobs },
      limiters: { 'payments rate': limiter, workers },
      clock,
      intervalMs: 1000,
      historyMs: 180_000,
    });
    const work: Promise<unknown>[] = [];
    // Three simulated minutes: a daily-shape load with a spike that saturates orders-db, and
    // a payments outage at the end (calls fail, connections break, reconnects are refused).
    for (let sec = 0; sec < 180; sec++) {
      const load = 9 + Math.round(6 * Math.sin(sec / 15)) + (sec > 95 && sec < 120 ? 30 : 0);
      outage = sec >= 165;
      for (let tenth = 0; tenth < 10; tenth++) {
        for (let i = 0; i < load / 10; i++) {
          const hold = 150 + ((sec * 7 + tenth * 31 + i * 13) % 400);
          work.push(orders.use(() => sleep(hold)).catch(() => {}));
          if ((tenth + i) % 3 === 0) {
            const call = () =>
              payments.use(async () => {
                await sleep(hold / 2);
                if (outage) throw new BrokenResourceError('upstream reset the connection');
              });
            work.push(breaker.execute(call).catch(() => {}));
          }
        }
        await clock.advance(100);
      }
      const fill = Math.round(32 + 28 * Math.sin(sec / 9));
      while (jobs.length < fill) jobs.trySend(sec);
      while (jobs.length > fill) jobs.tryReceive();
      limiter.tryAcquire(Math.min(20, 1 + (sec % 17)));
    }
    const permits = [workers.tryAcquire(), workers.tryAcquire(), workers.tryAcquire()];
    await clock.advance(1000);
    const s = await serve(d);
    const browser = await launch();
    try {
      const page = await browser.open(s.url);
      await status(page, 'live');
      await shows(page, d.snapshot().id);
      assert.equal(await page.locator('[data-pool]').count(), 2);
      assert.equal(
        await page.textContent('[data-breaker="payments"] [data-field="state"]'),
        breaker.state,
      );
      const png = await page.screenshot({ fullPage: true });
      assert.ok(png.length > 10_000 && png.subarray(1, 4).toString() === 'PNG');
      // docs/dashboard.png is the committed record; refresh it on purpose, not on every run.
      const docs = join(root, 'docs', 'dashboard.png');
      const target =
        process.env.WEIR_UPDATE_SCREENSHOT === '1' || !existsSync(docs)
          ? docs
          : join(tmpdir(), 'weir-dashboard.png');
      mkdirSync(join(target, '..'), { recursive: true });
      writeFileSync(target, png);
      t.diagnostic(`screenshot saved to ${target}`);
    } finally {
      for (const p of permits) p?.release();
      d.close();
      await s.close();
      await browser.close();
      await clock.advance(5000);
      await Promise.all(work);
      await orders.close();
      await payments.close();
    }
  });
});
