// Routing of a balanced pool across regions with latency set on the test's clock: the
// fastest region wins, a primary that slows down loses its traffic and wins it back after
// the hold, jitter does not move traffic back and forth, and equal regions share it.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { request } from 'undici';
import type { BalancedHttpPool, RegionChange } from '../../src/http/index.js';
import { balancedPools, Lab, seeded } from './latency-lab.js';

let lab: Lab;
const balanced = balancedPools(42, () => lab);

async function run(pool: BalancedHttpPool, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = await lab.one(pool);
    out.push(r instanceof Error ? `error ${(r as { code?: string }).code}` : r);
  }
  return out;
}

/** Runs requests one after another for `ms` of the lab's clock. */
async function runFor(pool: BalancedHttpPool, ms: number): Promise<{ at: number; who: string }[]> {
  const end = lab.clock.now() + ms;
  const out: { at: number; who: string }[] = [];
  while (lab.clock.now() < end) {
    const at = lab.clock.now();
    const r = await lab.one(pool);
    out.push({ at, who: r instanceof Error ? 'error' : r });
  }
  return out;
}

const share = (xs: readonly string[], who: string) =>
  xs.filter((x) => x === who).length / xs.length;

describe('region selection by measured latency', () => {
  test('regions at 5/30/80 ms: at least 95 % of traffic on the 5 ms region within 50 requests', async () => {
    lab = new Lab();
    const fast = await lab.serve('fast', 5);
    const mid = await lab.serve('mid', 30);
    const slow = await lab.serve('slow', 80);
    // The slowest listed first, so that the pool starts where it should not stay.
    const pool = balanced({ slow: [slow.url], mid: [mid.url], fast: [fast.url] });
    const first = await run(pool, 50);
    const next = await run(pool, 100);
    assert.ok(share(next, 'fast') >= 0.95, `share after 50: ${share(next, 'fast')}`);
    assert.ok(share(first, 'fast') >= 0.8, `share of the first 50: ${share(first, 'fast')}`);
    const st = pool.stats();
    assert.deepEqual(st.active, ['fast']);
    assert.equal(st.regions.find((r) => r.name === 'fast')!.latencyMs, 5);
    assert.equal(st.regions.find((r) => r.name === 'slow')!.latencyMs, 80);
  });

  test('a preferred region that is much slower is left for the fastest', async () => {
    lab = new Lab();
    const fast = await lab.serve('fast', 5);
    const slow = await lab.serve('slow', 80);
    const pool = balanced({ slow: [slow.url], fast: [fast.url] }, { prefer: 'slow' });
    const changes: RegionChange[] = [];
    pool.on('regionChange', (c) => changes.push(c));
    const first = await run(pool, 50);
    assert.equal(first[0], 'slow', 'the preferred region is tried first');
    const next = await run(pool, 100);
    assert.ok(share(next, 'fast') >= 0.95, `share: ${share(next, 'fast')}`);
    assert.deepEqual(changes[0], { regions: ['fast'], previous: ['slow'], reason: 'latency' });
  });

  test('the primary gains 100 ms: at least 90 % of traffic moves away within 2 s, and comes back after the hold', async () => {
    lab = new Lab();
    let extra = 0;
    const eu = await lab.serve('eu', () => 5 + extra);
    const us = await lab.serve('us', 30);
    const pool = balanced({ eu: [eu.url], us: [us.url] }, { prefer: 'eu' });
    const changes: RegionChange[] = [];
    pool.on('regionChange', (c) => changes.push(c));
    const warm = await runFor(pool, 2_000);
    assert.ok(
      share(
        warm.map((r) => r.who),
        'eu',
      ) >= 0.95,
    );
    extra = 100;
    const t0 = lab.clock.now();
    const after = await runFor(pool, 4_000);
    const late = after.filter((r) => r.at >= t0 + 2_000).map((r) => r.who);
    assert.ok(late.length > 50);
    assert.ok(share(late, 'us') >= 0.9, `share moved away: ${share(late, 'us')}`);
    assert.deepEqual(changes.at(-1), { regions: ['us'], previous: ['eu'], reason: 'latency' });
    // The primary recovers: exploring requests measure it again, and after the hold it
    // gets its traffic back.
    extra = 0;
    await runFor(pool, 70_000);
    const back = (await runFor(pool, 2_000)).map((r) => r.who);
    assert.ok(share(back, 'eu') >= 0.9, `share back on eu: ${share(back, 'eu')}`);
    assert.equal(changes.length, 2);
  });

  for (const [label, euMs, usMs, prefer] of [
    ['equal regions, a preference', 20, 20, 'eu'],
    ['equal regions, no preference', 20, 20, undefined],
    ['a preferred region near the edge of the band', 30, 20, 'eu'],
    ['regions near the edge of the band, no preference', 31, 20, undefined],
  ] as const) {
    test(`±20 % jitter (${label}): at most one region switch a minute`, async () => {
      lab = new Lab();
      const jitter = seeded(7);
      const j = (ms: number) => () => Math.round(ms * (0.8 + 0.4 * jitter()));
      const eu = await lab.serve('eu', j(euMs));
      const us = await lab.serve('us', j(usMs));
      const pool = balanced({ eu: [eu.url], us: [us.url] }, prefer === undefined ? {} : { prefer });
      const changes: { at: number; c: RegionChange }[] = [];
      pool.on('regionChange', (c) => changes.push({ at: lab.clock.now(), c }));
      const minutes = 3;
      await runFor(pool, minutes * 60_000);
      assert.ok(changes.length <= minutes, `${changes.length} switches in ${minutes} minutes`);
      for (let i = 1; i < changes.length; i++) {
        assert.ok(changes[i]!.at - changes[i - 1]!.at >= 60_000, 'a minute between switches');
      }
    });
  }

  test('two equal regions without a preference share the traffic, each at least 40 %', async () => {
    lab = new Lab();
    const eu = await lab.serve('eu', 10);
    const us = await lab.serve('us', 10);
    const pool = balanced({ eu: [eu.url], us: [us.url] });
    const got = await run(pool, 200);
    assert.ok(share(got, 'eu') >= 0.4, `eu ${share(got, 'eu')}`);
    assert.ok(share(got, 'us') >= 0.4, `us ${share(got, 'us')}`);
    assert.deepEqual(pool.stats().active, ['eu', 'us']);
  });

  test('within a region, peak-EWMA sends traffic to the faster endpoint and back after a spike', async () => {
    lab = new Lab();
    let spike = 0;
    const a = await lab.serve('a', () => 10 + spike);
    const b = await lab.serve('b', 10);
    const pool = balanced({ eu: [a.url, b.url] }, { exploreShare: 0 });
    await run(pool, 40);
    spike = 200;
    const during = await run(pool, 60);
    assert.ok(share(during, 'b') >= 0.9, `b during a's spike: ${share(during, 'b')}`);
    spike = 0;
    // No traffic reaches a while b is cheaper; its average fades faster than b's (which
    // b's own answers keep up) until a is tried again and measured afresh.
    const hitsBefore = a.hits;
    await runFor(pool, 60_000);
    const st = pool.stats().endpoints.find((e) => e.endpoint === a.url)!;
    assert.ok(a.hits - hitsBefore >= 10, `a got ${a.hits - hitsBefore} requests back`);
    assert.ok(st.latencyMs < 12, `a's average is back near 10 ms: ${st.latencyMs}`);
  });
});

describe('routing modes', () => {
  for (const routing of ['round-robin', 'least-pending'] as const) {
    test(`${routing} spreads over the endpoints of the regions in use`, async () => {
      lab = new Lab();
      const a = await lab.serve('a', 10);
      const b = await lab.serve('b', 10);
      const c = await lab.serve('c', 10);
      const pool = balanced({ eu: [a.url, b.url, c.url] }, { routing });
      const got = await run(pool, 90);
      for (const who of ['a', 'b', 'c'])
        assert.ok(share(got, who) >= 0.25, `${who}: ${share(got, who)}`);
    });
  }

  test('least-pending and peak-EWMA avoid an endpoint with requests in flight', async () => {
    lab = new Lab();
    const a = await lab.serve('a', 10);
    const b = await lab.serve('b', 10);
    const pool = balanced({ eu: [a.url, b.url] }, { routing: 'least-pending' });
    await run(pool, 10);
    // Four at once: no endpoint gets a second before the other has one.
    const all = Promise.all(Array.from({ length: 4 }, () => pool.request('/')));
    while (lab.waiting < 4) await new Promise((r) => setImmediate(r));
    const st = pool.stats();
    assert.deepEqual(
      st.endpoints.map((e) => e.pending),
      [2, 2],
    );
    await lab.clock.advance(10);
    for (const res of await all) await res.body.text();
  });
});

describe('as an undici Dispatcher', () => {
  test('undici.request through `dispatcher` is routed whatever origin it names', async () => {
    lab = new Lab();
    const a = await lab.serve('a', 0);
    const pool = balanced({ eu: [a.url] });
    const pending = request('http://service.internal/items', { dispatcher: pool.dispatcher });
    while (lab.waiting === 0) await new Promise((r) => setImmediate(r));
    await lab.clock.advance(0);
    const res = await pending;
    assert.equal(res.statusCode, 200);
    assert.equal(await res.body.text(), 'a');
    assert.equal(pool.stats().endpoints[0]!.requests, 1);
  });
});
